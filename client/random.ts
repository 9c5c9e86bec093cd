/** Randomness for the client shell: `crypto.getRandomValues`, present in browsers and Node ≥ 19. */
export function cryptoRandom(): number {
  const words = new Uint32Array(1)
  globalThis.crypto.getRandomValues(words)
  return (words[0] ?? 0) / 0x1_0000_0000
}

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'

/** A fresh client id: `c-` and 12 base36 characters (about 62 bits). */
export function randomClientId(random: () => number): string {
  let id = 'c-'
  for (let i = 0; i < 12; i++) id += BASE36[Math.floor(random() * 36)] ?? '0'
  return id
}

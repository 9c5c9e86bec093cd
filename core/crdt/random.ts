/** Injected randomness (docs/design.md §2): returns a number in [0, 1), like Math.random. */
export type Random = () => number

/** A uniformly drawn unsigned 32-bit integer. */
export function randomUint32(random: Random): number {
  const r = random()
  if (!(r >= 0 && r < 1)) throw new Error(`random() must return a number in [0, 1), got ${r}`)
  return Math.floor(r * 0x1_0000_0000) >>> 0
}

/**
 * A small, fast, non-cryptographic 64-bit hash of bytes, as two 32-bit lanes (`Math.imul`, no BigInt):
 * the per-document hashes of the divergence digest (collection-digest.ts, docs/crdt.md "Divergence
 * digest"). Each lane multiplies every byte in with its own odd constant, then both are avalanched and
 * cross-mixed (the construction of cyrb53, kept at the full 64 bits). It detects accidental
 * differences; it is no defence against someone crafting collisions.
 */
export interface Hash64 {
  /** High 32 bits, unsigned. */
  readonly hi: number
  /** Low 32 bits, unsigned. */
  readonly lo: number
}

export const ZERO_HASH64: Hash64 = { hi: 0, lo: 0 }

export function hash64(bytes: Uint8Array, seed = 0): Hash64 {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number
    h1 = Math.imul(h1 ^ byte, 2654435761)
    h2 = Math.imul(h2 ^ byte, 1597334677)
  }
  // The length too, so that inputs differing only by trailing zero bytes differ.
  h1 = Math.imul(h1 ^ bytes.length, 2654435761)
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return { hi: h2 >>> 0, lo: h1 >>> 0 }
}

/** `a + b` mod 2^64. */
export function addHash64(a: Hash64, b: Hash64): Hash64 {
  const lo = a.lo + b.lo
  const carry = lo > 0xffffffff ? 1 : 0
  return { hi: (a.hi + b.hi + carry) >>> 0, lo: lo >>> 0 }
}

/** `a - b` mod 2^64. */
export function subHash64(a: Hash64, b: Hash64): Hash64 {
  const lo = a.lo - b.lo
  const borrow = lo < 0 ? 1 : 0
  return { hi: (a.hi - b.hi - borrow) >>> 0, lo: lo >>> 0 }
}

/** Sixteen lowercase hex digits. */
export function hash64Hex(h: Hash64): string {
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0')
}

/** The low 48 bits as a number: exact in a double, so a Prometheus gauge can carry it. */
export function hash64Low48(h: Hash64): number {
  return (h.hi & 0xffff) * 0x1_0000_0000 + h.lo
}

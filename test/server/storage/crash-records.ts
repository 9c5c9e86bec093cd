/**
 * Deterministic contents for the file adapter's crash tests: record `i` and blob version `v` can be
 * regenerated from their number alone, so the parent process can check what a killed writer left.
 * Both start with their number, so a record found at the wrong index is caught, not just a torn one.
 */

function fill(out: Uint8Array, seed: number, from: number): void {
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1
  for (let i = from; i < out.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
}

/** Mostly small records, and every 97th a large one (256 KiB+) so a kill can land inside a write. */
export function recordFor(index: number): Uint8Array {
  const length = index % 97 === 0 ? 256 * 1024 + (index % 13) : 8 + ((index * 7919) % 200)
  const out = new Uint8Array(length)
  new DataView(out.buffer).setFloat64(0, index, true)
  fill(out, index, 8)
  return out
}

/** Blob values of 64–448 KiB, so a save is a write a kill can tear. */
export function blobFor(version: number): Uint8Array {
  const out = new Uint8Array(64 * 1024 + (version % 7) * 64 * 1024)
  new DataView(out.buffer).setFloat64(0, version, true)
  fill(out, version + 1_000_000, 8)
  return out
}

/** The version a blob produced by {@link blobFor} was made from, or undefined if it is not one. */
export function blobVersionOf(data: Uint8Array): number | undefined {
  if (data.length < 8) return undefined
  const version = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0, true)
  if (!Number.isSafeInteger(version) || version < 1) return undefined
  const expected = blobFor(version)
  return bytesEqual(expected, data) ? version : undefined
}

export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

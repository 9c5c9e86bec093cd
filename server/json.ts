/**
 * JSON for HTTP responses. LWW values may hold what lib0 carries but JSON does not (bigints, bytes,
 * written by clients), so those are mapped instead of making `JSON.stringify` throw.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return Number.isSafeInteger(Number(item)) ? Number(item) : item.toString()
    if (item instanceof Uint8Array) return Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString('base64')
    return item
  })
}

/** A version vector as a plain object, origins sorted. */
export function vectorToJson(vector: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const origin of [...vector.keys()].sort()) {
    const seq = vector.get(origin) ?? 0
    if (seq > 0) out[origin] = seq
  }
  return out
}

/**
 * Rebuilds plain objects with their keys sorted, recursively, so that two equal views are equal
 * byte for byte once serialised (digests, snapshots), not only under a deep-equal. Yjs maps, for
 * one, list keys in the order this replica happened to receive them.
 *
 * `leaf` may replace library-specific values (an Automerge Counter) by plain ones; it is asked
 * first, for every value.
 */
export function canonicalView(value: unknown, leaf?: (value: unknown) => unknown): unknown {
  const mapped = leaf === undefined ? value : leaf(value)
  if (Array.isArray(mapped)) return mapped.map((item: unknown) => canonicalView(item, leaf))
  if (isPlainObject(mapped)) {
    const keys = Object.keys(mapped).sort()
    // fromEntries defines properties, so a key named "__proto__" stays a key.
    return Object.fromEntries(keys.map((key) => [key, canonicalView(mapped[key], leaf)]))
  }
  return mapped
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

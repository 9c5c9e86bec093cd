import { DecodeError } from '../../../core/codec/errors.js'

/**
 * A structural form for deep comparison: bytes become plain arrays (so a view into a frame equals
 * a fresh array with the same bytes), maps become entry lists sorted by key.
 */
export function toPlain(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) }
  if (value instanceof Map) {
    return { map: [...value].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, toPlain(v)]) }
  }
  if (Array.isArray(value)) return value.map(toPlain)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]))
  }
  return value
}

/** Runs `fn`; anything it throws other than `DecodeError` fails the test. */
export function decodesOrDecodeError<T>(fn: () => T): T | DecodeError {
  try {
    return fn()
  } catch (err) {
    if (err instanceof DecodeError) return err
    throw err
  }
}

export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ')
}

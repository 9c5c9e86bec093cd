/**
 * Argument checks and key ordering shared by every adapter, so they all agree on what is valid and on
 * the order `loadRange` returns (docs/design.md §6).
 */
import { StorageError, type StorageKey } from './adapter.js'

/**
 * Ascending key order of `loadRange`: component by component, strings by UTF-16 code units, a key
 * before its extensions (the order IndexedDB uses for array keys).
 */
export function compareStorageKeys(a: StorageKey, b: StorageKey): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a[i] as string
    const y = b[i] as string
    if (x !== y) return x < y ? -1 : 1
  }
  return a.length - b.length
}

/** Component-wise prefix test: `['a', 'b']` is a prefix of `['a', 'b', 'c']`, not of `['a', 'bc']`. */
export function hasKeyPrefix(key: StorageKey, prefix: StorageKey): boolean {
  if (prefix.length > key.length) return false
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false
  return true
}

function invalid(message: string): StorageError {
  return new StorageError('invalid-argument', message)
}

/** A prefix: an array of strings, possibly empty. */
export function assertStoragePrefix(prefix: StorageKey, what = 'prefix'): void {
  if (!Array.isArray(prefix)) throw invalid(`${what} must be an array of strings`)
  for (const part of prefix) {
    if (typeof part !== 'string') throw invalid(`${what} components must be strings, got ${typeof part}`)
  }
}

/** A key: an array of at least one string. */
export function assertStorageKey(key: StorageKey): void {
  assertStoragePrefix(key, 'key')
  if (key.length === 0) throw invalid('key must have at least one component')
}

export function assertLogName(log: string): void {
  if (typeof log !== 'string' || log.length === 0) throw invalid('log name must be a non-empty string')
}

/** A safe integer no smaller than `min`. */
export function assertIndex(value: number, name: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalid(`${name} must be an integer >= ${min}, got ${String(value)}`)
  }
}

export function assertBytes(data: Uint8Array, what: string): void {
  if (!(data instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array`)
}

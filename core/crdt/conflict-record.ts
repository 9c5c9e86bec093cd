import type { Hlc } from '../types.js'
import type { ConflictRecord } from './document-type.js'

/**
 * How a conflict record was resolved (docs/crdt.md, "Conflict records"): the value written for the
 * field (or its deletion) and the change that wrote it, an ordinary lww write stamped after both sides.
 */
export interface ConflictResolution {
  readonly value: unknown
  readonly deleted: boolean
  /** The resolving change: written by this node as `(origin, seq)` at `hlc`. */
  readonly origin: string
  readonly seq: number
  readonly hlc: Hlc
  /** Wall time at this node when it was resolved (ms since the epoch). */
  readonly atMs: number
}

/**
 * A conflict record as a node keeps it: the observation (`ConflictRecord`) plus its `cursor`, a number
 * this node gave it that is larger than every cursor it gave before (never reused, also across
 * restarts), when it was observed, and whether it was resolved.
 */
export interface StoredConflict extends ConflictRecord {
  readonly cursor: number
  readonly observedAtMs: number
  readonly resolved: boolean
  readonly resolution?: ConflictResolution
}

/**
 * What makes two observations the same conflict: the document, the field and both sides' stamps
 * (an hlc and its origin name one write). A log replayed after a crash observes again what it
 * observed before; the identity lets the store keep one record.
 */
export function conflictIdentity(record: ConflictRecord): string {
  const stamp = (side: ConflictRecord['winner']) => [side.origin, side.hlc.wallMs, side.hlc.counter, side.hlc.node, side.deleted]
  return JSON.stringify([record.collection, record.docId, record.field, stamp(record.winner), stamp(record.loser)])
}

/** Format tag of a stored record, so a later version can change the layout and still read this one. */
const STORED_CONFLICT_VERSION = 1

/** A stored conflict as bytes: versioned JSON (every lww value is JSON, docs/server.md "Value limits"). */
export function encodeStoredConflict(record: StoredConflict): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: STORED_CONFLICT_VERSION, ...record }))
}

function isHlc(value: unknown): value is Hlc {
  if (typeof value !== 'object' || value === null) return false
  const h = value as Record<string, unknown>
  return Number.isSafeInteger(h.wallMs) && Number.isSafeInteger(h.counter) && typeof h.node === 'string'
}

function isSide(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const s = value as Record<string, unknown>
  return typeof s.origin === 'string' && isHlc(s.hlc) && typeof s.deleted === 'boolean' && 'value' in s
}

function isResolution(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const r = value as Record<string, unknown>
  return typeof r.deleted === 'boolean' && typeof r.origin === 'string' && Number.isSafeInteger(r.seq) && isHlc(r.hlc) && Number.isFinite(r.atMs)
}

/** Reads `encodeStoredConflict`'s bytes; throws an Error saying what is wrong with anything else. */
export function decodeStoredConflict(bytes: Uint8Array): StoredConflict {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new Error(`stored conflict is not JSON: ${String(err)}`, { cause: err })
  }
  if (typeof parsed !== 'object' || parsed === null) throw new Error('stored conflict is not an object')
  const { v, ...rest } = parsed as Record<string, unknown>
  if (v !== STORED_CONFLICT_VERSION) throw new Error(`stored conflict has format ${JSON.stringify(v)}, this version reads ${STORED_CONFLICT_VERSION}`)
  const r = rest
  const ok =
    typeof r.collection === 'string' &&
    typeof r.docId === 'string' &&
    typeof r.field === 'string' &&
    isSide(r.winner) &&
    isSide(r.loser) &&
    Number.isSafeInteger(r.cursor) &&
    (r.cursor as number) > 0 &&
    Number.isFinite(r.observedAtMs) &&
    typeof r.resolved === 'boolean' &&
    (r.resolution === undefined || isResolution(r.resolution))
  if (!ok) throw new Error('stored conflict lacks a field or has one of the wrong type')
  return r as unknown as StoredConflict
}

import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { VersionVector } from '../types.js'

/** How two version vectors relate. */
export type VectorOrder = 'equal' | 'before' | 'after' | 'concurrent'

/** A range of seqs `[from, to]` (inclusive) of one origin. */
export interface SeqRange {
  readonly origin: string
  readonly from: number
  readonly to: number
}

export const EMPTY_VECTOR: VersionVector = new Map()

export function vvGet(v: VersionVector, origin: string): number {
  return v.get(origin) ?? 0
}

/** Pointwise maximum. */
export function vvMerge(a: VersionVector, b: VersionVector): Map<string, number> {
  const out = new Map(a)
  for (const [origin, seq] of b) if (seq > (out.get(origin) ?? 0)) out.set(origin, seq)
  return out
}

/** Pointwise minimum: what both hold. An origin missing from either is dropped. */
export function vvMeet(a: VersionVector, b: VersionVector): Map<string, number> {
  const out = new Map<string, number>()
  for (const [origin, seq] of a) {
    const min = Math.min(seq, b.get(origin) ?? 0)
    if (min > 0) out.set(origin, min)
  }
  return out
}

/** True when `a` has seen everything `b` has. */
export function vvDominates(a: VersionVector, b: VersionVector): boolean {
  for (const [origin, seq] of b) if ((a.get(origin) ?? 0) < seq) return false
  return true
}

export function vvCompare(a: VersionVector, b: VersionVector): VectorOrder {
  const aCoversB = vvDominates(a, b)
  const bCoversA = vvDominates(b, a)
  if (aCoversB && bCoversA) return 'equal'
  if (aCoversB) return 'after'
  if (bCoversA) return 'before'
  return 'concurrent'
}

export function vvEquals(a: VersionVector, b: VersionVector): boolean {
  return vvCompare(a, b) === 'equal'
}

/** What `a` holds that `b` lacks, one range per origin, sorted by origin for determinism. */
export function vvDifference(a: VersionVector, b: VersionVector): SeqRange[] {
  const out: SeqRange[] = []
  for (const origin of [...a.keys()].sort()) {
    const to = a.get(origin) ?? 0
    const from = (b.get(origin) ?? 0) + 1
    if (from <= to) out.push({ origin, from, to })
  }
  return out
}

/** Entries with seq 0 carry no information; drop them so equal vectors encode equally. */
function sortedEntries(v: VersionVector): [string, number][] {
  return [...v].filter(([, seq]) => seq > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

export function writeVersionVector(encoder: encoding.Encoder, v: VersionVector): void {
  const entries = sortedEntries(v)
  encoding.writeVarUint(encoder, entries.length)
  for (const [origin, seq] of entries) {
    encoding.writeVarString(encoder, origin)
    encoding.writeVarUint(encoder, seq)
  }
}

/** Reads what `writeVersionVector` wrote; lib0 throws on truncated input, callers wrap that. */
export function readVersionVector(decoder: decoding.Decoder): Map<string, number> {
  const count = decoding.readVarUint(decoder)
  // Each entry needs at least two bytes, so a count larger than what is left is a lie.
  if (count > decoder.arr.length - decoder.pos) throw new RangeError('version vector length exceeds input')
  const out = new Map<string, number>()
  for (let i = 0; i < count; i++) {
    const origin = decoding.readVarString(decoder)
    const seq = decoding.readVarUint(decoder)
    out.set(origin, seq)
  }
  return out
}

export function encodeVersionVector(v: VersionVector): Uint8Array {
  const encoder = encoding.createEncoder()
  writeVersionVector(encoder, v)
  return encoding.toUint8Array(encoder)
}

export function decodeVersionVector(bytes: Uint8Array): Map<string, number> {
  return readVersionVector(decoding.createDecoder(bytes))
}

/** `{a:3,b:1}` for logs and tests. */
export function formatVersionVector(v: VersionVector): string {
  return `{${sortedEntries(v).map(([o, s]) => `${o}:${s}`).join(',')}}`
}

import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { compareHlc } from '../clock/hlc.js'
import type { Hlc } from '../types.js'
import { isPlainObject } from './canonical.js'
import { CrdtPayloadError } from './errors.js'
import { childPath, DEFAULT_VALUE_LIMITS, storableKeySize, storableSize, type ValueLimits } from '../values/storable-value.js'
import { readVarStringFast } from '../codec/short-string.js'

/**
 * Binary format of an `lww` change payload (lib0 encoding, no JSON [PF1]):
 *
 * ```
 * varUint   format version (1)
 * uint8     kind: 0 = write (put / patch), 1 = delete document
 * varUint   number of field writes, then for each:
 *   varString field name
 *   uint8     flags: bit 0 = deleted (tombstone), bit 1 = has base
 *   any       value (lib0 writeAny), only when not deleted
 *   base      only when flagged: varUint wallMs, varUint counter, varString node, varString origin
 * ```
 *
 * The change's own stamp (HLC, origin) lives in the change envelope, not here, so the same payload
 * bytes are forwarded untouched.
 */
export const LWW_PAYLOAD_VERSION = 1

/** Position of a register in last-writer-wins order: HLC first, then the origin of the change. */
export interface LwwStamp {
  readonly hlc: Hlc
  readonly origin: string
}

export function compareStamp(a: LwwStamp, b: LwwStamp): number {
  const byHlc = compareHlc(a.hlc, b.hlc)
  if (byHlc !== 0) return byHlc
  if (a.origin === b.origin) return 0
  return a.origin < b.origin ? -1 : 1
}

/**
 * One field of one change. `base` is the stamp of the register the writer saw for this field when
 * it wrote (null when it had none): it tells a concurrent write from a causal overwrite.
 */
export type LwwFieldWrite =
  | { readonly field: string; readonly deleted: false; readonly value: unknown; readonly base: LwwStamp | null }
  | { readonly field: string; readonly deleted: true; readonly base: LwwStamp | null }

export interface LwwPayload {
  /**
   * `write`: a put or patch; the document exists as of this change. `delete`: the document is
   * deleted as of this change; every field register older than it is hidden, and `writes` holds a
   * tombstone for each field the deleter knew (so conflicts are judged per field, like any write).
   */
  readonly kind: 'write' | 'delete'
  readonly writes: readonly LwwFieldWrite[]
}

const KIND_WRITE = 0
const KIND_DELETE = 1
const FLAG_DELETED = 1
const FLAG_HAS_BASE = 2

export function encodeLwwPayload(payload: LwwPayload): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, LWW_PAYLOAD_VERSION)
  encoding.writeUint8(encoder, payload.kind === 'delete' ? KIND_DELETE : KIND_WRITE)
  encoding.writeVarUint(encoder, payload.writes.length)
  for (const write of payload.writes) writeFieldWrite(encoder, write)
  return encoding.toUint8Array(encoder)
}

/**
 * One field write as the payload holds it (field name, flags, value, base). The document state
 * (lww-state.ts) holds its registers in the same form, so both read values the same way.
 */
export function writeFieldWrite(encoder: encoding.Encoder, write: LwwFieldWrite): void {
  encoding.writeVarString(encoder, write.field)
  encoding.writeUint8(encoder, (write.deleted ? FLAG_DELETED : 0) | (write.base !== null ? FLAG_HAS_BASE : 0))
  if (!write.deleted) encoding.writeAny(encoder, write.value as Parameters<typeof encoding.writeAny>[1])
  if (write.base !== null) writeStamp(encoder, write.base)
}

/**
 * Reads what `writeFieldWrite` wrote. The value is deep-frozen (views hand it out without copying).
 * @throws CrdtPayloadError on unknown flags or an undefined value; lib0 errors on truncated input
 */
export function readFieldWrite(decoder: decoding.Decoder, what: string): LwwFieldWrite {
  const field = readVarStringFast(decoder)
  const flags = decoding.readUint8(decoder)
  if ((flags & ~(FLAG_DELETED | FLAG_HAS_BASE)) !== 0) throw new CrdtPayloadError(`${what}: unknown flags ${flags}`)
  const deleted = (flags & FLAG_DELETED) !== 0
  const value: unknown = deleted ? undefined : deepFreeze(decoding.readAny(decoder))
  const base = (flags & FLAG_HAS_BASE) !== 0 ? readStamp(decoder) : null
  if (deleted) return { field, deleted: true, base }
  if (value === undefined) throw new CrdtPayloadError(`${what}: field ${JSON.stringify(field)} set to undefined`)
  return { field, deleted: false, value, base }
}

/**
 * Decodes a whole payload before anything is applied, so a malformed one changes nothing.
 * Values are deep-frozen: views hand them out without copying.
 * @throws CrdtPayloadError on any malformed input
 */
export function decodeLwwPayload(bytes: Uint8Array): LwwPayload {
  try {
    const decoder = decoding.createDecoder(bytes)
    const version = decoding.readVarUint(decoder)
    if (version !== LWW_PAYLOAD_VERSION) throw new CrdtPayloadError(`lww payload: unknown format version ${version}`)
    const kindTag = decoding.readUint8(decoder)
    if (kindTag !== KIND_WRITE && kindTag !== KIND_DELETE) throw new CrdtPayloadError(`lww payload: unknown kind ${kindTag}`)
    const kind = kindTag === KIND_DELETE ? 'delete' : 'write'
    const count = decoding.readVarUint(decoder)
    // Every write takes at least two bytes, so a huge count in a short buffer is rejected up front.
    if (count > bytes.length) throw new CrdtPayloadError(`lww payload: ${count} writes cannot fit in ${bytes.length} bytes`)
    const writes: LwwFieldWrite[] = []
    const seen = new Set<string>()
    for (let i = 0; i < count; i++) {
      const write = readFieldWrite(decoder, 'lww payload')
      if (seen.has(write.field)) throw new CrdtPayloadError(`lww payload: field ${JSON.stringify(write.field)} written twice`)
      seen.add(write.field)
      if (kind === 'delete' && !write.deleted) throw new CrdtPayloadError('lww payload: a document delete may only hold tombstones')
      writes.push(write)
    }
    if (decoding.hasContent(decoder)) throw new CrdtPayloadError('lww payload: trailing bytes')
    return { kind, writes }
  } catch (error) {
    if (error instanceof CrdtPayloadError) throw error
    throw new CrdtPayloadError(`lww payload: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
}

export function writeStamp(encoder: encoding.Encoder, stamp: LwwStamp): void {
  encoding.writeVarUint(encoder, stamp.hlc.wallMs)
  encoding.writeVarUint(encoder, stamp.hlc.counter)
  encoding.writeVarString(encoder, stamp.hlc.node)
  encoding.writeVarString(encoder, stamp.origin)
}

export function readStamp(decoder: decoding.Decoder): LwwStamp {
  const wallMs = decoding.readVarUint(decoder)
  const counter = decoding.readVarUint(decoder)
  const node = readVarStringFast(decoder)
  const origin = readVarStringFast(decoder)
  return { hlc: { wallMs, counter, node }, origin }
}

/**
 * An lww field value must be storable (core/values/storable-value.ts): JSON with finite numbers,
 * well-formed strings, no `__proto__` key, within the value limits, where the document counts as
 * the first level of nesting. Anything else would not come back as written — lib0's `writeAny`
 * would turn Infinity into a value JSON readers see as null, and a `__proto__` key inside a value
 * would be lost when read back — so it is refused where it is written, with `InvalidValueError`.
 * Returns the encoded size of the field (name and value).
 */
export function assertLwwValue(value: unknown, field: string, limits: ValueLimits = DEFAULT_VALUE_LIMITS): number {
  const path = childPath('$', field)
  return storableKeySize(field, path, limits) + storableSize(value, path, limits, 1)
}

function deepFreeze(value: unknown): unknown {
  // Typed arrays cannot be frozen; they are the one mutable leaf a view may expose.
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Object.isFrozen(value)) return value
  for (const item of Object.values(value)) deepFreeze(item)
  return Object.freeze(value)
}

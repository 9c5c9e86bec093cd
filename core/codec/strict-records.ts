/**
 * Strict mode's durable records (docs/design.md §6, "One storage engine"), as the strict storage
 * keeps them in the node's one `StorageAdapter`: one log entry per record of the `strict` log, and
 * three blobs. Each blob starts with a format byte (1), so a later layout can be told apart.
 *
 * ```
 * entry record         entry                                  -- log 'strict', index = lsn
 * hard state           1 epoch:uint votedFor:(u8 0 | 1 string)  -- ['strict','hard-state']
 * snapshot             1 snapshot                             -- ['strict','snapshot']
 * rollback candidates  1 count:uint entry*count               -- ['strict','rollback-candidates']
 * ```
 *
 * `entry` and `snapshot` are the wire forms (core/codec/strict-ops.ts).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { HardState, LogEntry, StrictSnapshot } from '../strict/types.js'
import { DecodeError } from './errors.js'
import { checkCount, readBool, readString, readUint, toDecodeError, writeString, writeUint } from './primitives.js'
import { readLogEntry, readSnapshot, writeLogEntry, writeSnapshot } from './strict-ops.js'

const FORMAT = 1

export function encodeEntryRecord(entry: LogEntry): Uint8Array {
  const encoder = encoding.createEncoder()
  writeLogEntry(encoder, 'entry', entry)
  return encoding.toUint8Array(encoder)
}

export function decodeEntryRecord(bytes: Uint8Array): LogEntry {
  return decodeWhole(bytes, false, (decoder) => readLogEntry(decoder, 'entry'))
}

export function encodeHardState(state: HardState): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, FORMAT)
  writeUint(encoder, 'hardState.epoch', state.epoch)
  encoding.writeUint8(encoder, state.votedFor === null ? 0 : 1)
  if (state.votedFor !== null) writeString(encoder, 'hardState.votedFor', state.votedFor, true)
  return encoding.toUint8Array(encoder)
}

export function decodeHardState(bytes: Uint8Array): HardState {
  return decodeWhole(bytes, true, (decoder) => {
    const epoch = readUint(decoder, 'hardState.epoch')
    const votedFor = readBool(decoder, 'hardState.votedFor presence') ? readString(decoder, 'hardState.votedFor', true) : null
    return { epoch, votedFor }
  })
}

export function encodeSnapshotRecord(snapshot: StrictSnapshot): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, FORMAT)
  writeSnapshot(encoder, 'snapshot', snapshot)
  return encoding.toUint8Array(encoder)
}

export function decodeSnapshotRecord(bytes: Uint8Array): StrictSnapshot {
  return decodeWhole(bytes, true, (decoder) => readSnapshot(decoder, 'snapshot'))
}

export function encodeEntryList(entries: readonly LogEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, FORMAT)
  encoding.writeVarUint(encoder, entries.length)
  for (const entry of entries) writeLogEntry(encoder, 'candidate', entry)
  return encoding.toUint8Array(encoder)
}

export function decodeEntryList(bytes: Uint8Array): LogEntry[] {
  return decodeWhole(bytes, true, (decoder) => {
    const count = readUint(decoder, 'candidates count')
    checkCount(decoder, 'candidates', count, 4)
    const entries: LogEntry[] = []
    for (let i = 0; i < count; i++) entries.push(readLogEntry(decoder, 'candidate'))
    return entries
  })
}

/** Reads one value that must fill `bytes` exactly; throws DecodeError otherwise. */
function decodeWhole<T>(bytes: Uint8Array, versioned: boolean, read: (decoder: decoding.Decoder) => T): T {
  const decoder = decoding.createDecoder(bytes)
  try {
    if (versioned) {
      const format = decoding.readUint8(decoder)
      if (format !== FORMAT) throw new DecodeError(`strict record format ${format} is not known (this version reads ${FORMAT})`)
    }
    const value = read(decoder)
    if (decoding.hasContent(decoder)) throw new DecodeError('trailing bytes after the strict record')
    return value
  } catch (err) {
    throw toDecodeError(err)
  }
}

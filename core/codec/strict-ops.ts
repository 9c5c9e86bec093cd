/**
 * The binary form of strict mode's data (core/strict/types.ts): operations, log entries, snapshots,
 * stored documents, log positions, write concerns. Internal to core/codec; strict-codec.ts builds
 * the frames from these.
 *
 * ```
 * position     epoch:uint lsn:uint
 * precondition expectVersion:(u8 0 absent | 1 then uint)  exists:u8 (0 absent, 1 false, 2 true)
 * op           kind:u8, then by kind:
 *   0 put      collection:string id:string precondition? value:json
 *   1 patch    collection:string id:string precondition? fields:json-object
 *   2 delete   collection:string id:string precondition?
 *   3 batch    count:uint op*count       -- put, patch or delete only
 *   4 noop     (nothing)
 * entry        epoch:uint lsn:uint(>= 1) op requestKey:string(non-empty)?
 * document     version:uint value:json
 * snapshot     lsn:uint epoch:uint count:uint position*count count:uint (key:string document)*count
 *              requestKeys:(count:uint (key:string(non-empty) position)*count)?
 * concern      u8 (0 local, 1 one, 2 majority, 3 all)
 * ```
 *
 * `x?` (precondition, requestKey, requestKeys) is a presence byte (0 absent, 1 present) then x; json and
 * json-object are json-value.ts. Writers refuse (RangeError) what readers would reject, so
 * whatever encodes decodes to a deep-equal value.
 */
import type * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type {
  DocumentOp,
  EpochStart,
  LogEntry,
  LogPosition,
  Precondition,
  StoredDocument,
  StrictOp,
  StrictSnapshot,
  WriteConcern,
  WriteOp,
} from '../strict/types.js'
import { DecodeError } from './errors.js'
import { readJsonObject, readJsonValue, writeJsonObject, writeJsonValue } from './json-value.js'
import {
  checkArray,
  checkCount,
  checkObject,
  invalid,
  readBool,
  readByte,
  readString,
  readTag,
  readUint,
  tagTable,
  writeString,
  writeTag,
  writeUint,
} from './primitives.js'

type OpKind = StrictOp['kind']

const OP_KIND = tagTable<OpKind>({ put: 0, patch: 1, delete: 2, batch: 3, noop: 4 })
const CONCERN = tagTable<WriteConcern>({ local: 0, one: 1, majority: 2, all: 3 })

/** Which ops may appear where: any in a log entry, no noop from a caller, only document ops in a batch. */
type OpContext = 'entry' | 'write' | 'batch'

// ------------------------------------------------------------------ positions and concerns

export function writePosition(encoder: encoding.Encoder, what: string, position: LogPosition): void {
  checkObject(what, position)
  writeUint(encoder, `${what}.epoch`, position.epoch)
  writeUint(encoder, `${what}.lsn`, position.lsn)
}

export function readPosition(decoder: decoding.Decoder, what: string): LogPosition {
  const epoch = readUint(decoder, `${what}.epoch`)
  const lsn = readUint(decoder, `${what}.lsn`)
  return { epoch, lsn }
}

export function writeConcern(encoder: encoding.Encoder, what: string, concern: WriteConcern): void {
  writeTag(encoder, what, CONCERN, concern)
}

export function readConcern(decoder: decoding.Decoder, what: string): WriteConcern {
  return readTag(decoder, what, CONCERN)
}

// ------------------------------------------------------------------ preconditions

/** The precondition's fields, without a presence byte (a PRECONDITION_FAILED error carries one always). */
export function writePrecondition(encoder: encoding.Encoder, what: string, p: Precondition): void {
  checkObject(what, p)
  if (p.expectVersion === undefined) {
    encoding.writeUint8(encoder, 0)
  } else {
    encoding.writeUint8(encoder, 1)
    writeUint(encoder, `${what}.expectVersion`, p.expectVersion)
  }
  if (p.exists !== undefined && typeof p.exists !== 'boolean') invalid(`${what}.exists (want a boolean)`, p.exists)
  encoding.writeUint8(encoder, p.exists === undefined ? 0 : p.exists ? 2 : 1)
}

export function readPrecondition(decoder: decoding.Decoder, what: string): Precondition {
  const out: { expectVersion?: number; exists?: boolean } = {}
  if (readBool(decoder, `${what}.expectVersion presence`)) out.expectVersion = readUint(decoder, `${what}.expectVersion`)
  const exists = readByte(decoder, `${what}.exists`)
  if (exists > 2) throw new DecodeError(`${what}.exists is ${exists}, not 0, 1 or 2`)
  if (exists !== 0) out.exists = exists === 2
  return out
}

// ------------------------------------------------------------------ ops

/** Any op of a log entry (the primary's noop included). */
export function writeStrictOp(encoder: encoding.Encoder, what: string, op: StrictOp): void {
  writeOp(encoder, what, op, 'entry')
}

/** An op a caller submits: a document op or a batch of them. */
export function writeWriteOp(encoder: encoding.Encoder, what: string, op: WriteOp): void {
  writeOp(encoder, what, op, 'write')
}

export function readStrictOp(decoder: decoding.Decoder, what: string): StrictOp {
  return readOp(decoder, what, 'entry')
}

export function readWriteOp(decoder: decoding.Decoder, what: string): WriteOp {
  return readOp(decoder, what, 'write') as WriteOp
}

function allowed(kind: OpKind, context: OpContext): boolean {
  if (kind === 'noop') return context === 'entry'
  if (kind === 'batch') return context !== 'batch'
  return true
}

function writeOp(encoder: encoding.Encoder, what: string, op: StrictOp, context: OpContext): void {
  checkObject(what, op)
  if (!allowed(op.kind, context)) invalid(`${what}.kind (not allowed ${context === 'batch' ? 'in a batch' : 'here'})`, op.kind)
  writeTag(encoder, `${what}.kind`, OP_KIND, op.kind)
  switch (op.kind) {
    case 'put':
      writeDocumentTarget(encoder, what, op)
      writeJsonValue(encoder, `${what}.value`, op.value)
      return
    case 'patch':
      writeDocumentTarget(encoder, what, op)
      writeJsonObject(encoder, `${what}.fields`, op.fields)
      return
    case 'delete':
      writeDocumentTarget(encoder, what, op)
      return
    case 'batch': {
      const ops = op.ops
      checkArray(`${what}.ops`, ops)
      encoding.writeVarUint(encoder, ops.length)
      const label = `${what}.ops[]`
      for (let i = 0; i < ops.length; i++) writeOp(encoder, label, ops[i] as DocumentOp, 'batch')
      return
    }
    case 'noop':
      return
  }
}

/** collection, id and the optional precondition: the fields every document op starts with. */
function writeDocumentTarget(encoder: encoding.Encoder, what: string, op: DocumentOp): void {
  writeString(encoder, `${what}.collection`, op.collection, false)
  writeString(encoder, `${what}.id`, op.id, false)
  if (op.precondition === undefined) {
    encoding.writeUint8(encoder, 0)
  } else {
    encoding.writeUint8(encoder, 1)
    writePrecondition(encoder, `${what}.precondition`, op.precondition)
  }
}

function readOp(decoder: decoding.Decoder, what: string, context: OpContext): StrictOp {
  const kind = readTag(decoder, `${what}.kind`, OP_KIND)
  if (!allowed(kind, context)) throw new DecodeError(`${what}.kind ${kind} is not allowed ${context === 'batch' ? 'in a batch' : 'here'}`)
  switch (kind) {
    case 'put':
    case 'patch':
    case 'delete': {
      const collection = readString(decoder, `${what}.collection`, false)
      const id = readString(decoder, `${what}.id`, false)
      const precondition = readBool(decoder, `${what}.precondition presence`)
        ? readPrecondition(decoder, `${what}.precondition`)
        : undefined
      const p = precondition === undefined ? {} : { precondition }
      if (kind === 'put') return { kind, collection, id, value: readJsonValue(decoder, `${what}.value`), ...p }
      if (kind === 'patch') return { kind, collection, id, fields: readJsonObject(decoder, `${what}.fields`), ...p }
      return { kind, collection, id, ...p }
    }
    case 'batch': {
      const count = readUint(decoder, `${what}.ops count`)
      // A document op takes at least 4 bytes: kind, collection and id lengths, precondition presence.
      checkCount(decoder, `${what}.ops`, count, 4)
      const ops: DocumentOp[] = []
      const label = `${what}.ops[]`
      for (let i = 0; i < count; i++) ops.push(readOp(decoder, label, 'batch') as DocumentOp)
      return { kind, ops }
    }
    case 'noop':
      return { kind }
  }
}

// ------------------------------------------------------------------ entries, documents, snapshots

export function writeLogEntry(encoder: encoding.Encoder, what: string, entry: LogEntry): void {
  checkObject(what, entry)
  writeUint(encoder, `${what}.epoch`, entry.epoch)
  writeUint(encoder, `${what}.lsn`, entry.lsn, 1)
  writeStrictOp(encoder, `${what}.op`, entry.op)
  writeOptionalKey(encoder, `${what}.requestKey`, entry.requestKey)
}

export function readLogEntry(decoder: decoding.Decoder, what: string): LogEntry {
  const epoch = readUint(decoder, `${what}.epoch`)
  const lsn = readUint(decoder, `${what}.lsn`, 1)
  const op = readStrictOp(decoder, `${what}.op`)
  const requestKey = readOptionalKey(decoder, `${what}.requestKey`)
  return requestKey === undefined ? { epoch, lsn, op } : { epoch, lsn, op, requestKey }
}

/** Smallest encoded log entry: epoch, lsn, op kind (a noop), request key presence. */
export const MIN_LOG_ENTRY_BYTES = 4

/** An optional request key: a presence byte, then the key (never empty). Absent stays absent. */
function writeOptionalKey(encoder: encoding.Encoder, what: string, key: string | undefined): void {
  if (key === undefined) {
    encoding.writeUint8(encoder, 0)
    return
  }
  encoding.writeUint8(encoder, 1)
  writeString(encoder, what, key, true)
}

function readOptionalKey(decoder: decoding.Decoder, what: string): string | undefined {
  return readBool(decoder, `${what} presence`) ? readString(decoder, what, true) : undefined
}

export function writeStoredDocument(encoder: encoding.Encoder, what: string, doc: StoredDocument): void {
  checkObject(what, doc)
  writeUint(encoder, `${what}.version`, doc.version)
  writeJsonValue(encoder, `${what}.value`, doc.value)
}

export function readStoredDocument(decoder: decoding.Decoder, what: string): StoredDocument {
  const version = readUint(decoder, `${what}.version`)
  return { value: readJsonValue(decoder, `${what}.value`), version }
}

export function writeSnapshot(encoder: encoding.Encoder, what: string, snapshot: StrictSnapshot): void {
  checkObject(what, snapshot)
  writeUint(encoder, `${what}.lsn`, snapshot.lsn)
  writeUint(encoder, `${what}.epoch`, snapshot.epoch)
  const history = snapshot.history
  checkArray(`${what}.history`, history)
  encoding.writeVarUint(encoder, history.length)
  const historyLabel = `${what}.history[]`
  for (let i = 0; i < history.length; i++) writePosition(encoder, historyLabel, history[i] as EpochStart)
  const documents = snapshot.documents
  checkArray(`${what}.documents`, documents)
  encoding.writeVarUint(encoder, documents.length)
  const documentLabel = `${what}.documents[]`
  const keyLabel = `${documentLabel} key`
  for (let i = 0; i < documents.length; i++) {
    const entry = documents[i]
    if (!Array.isArray(entry) || entry.length !== 2) invalid(`${documentLabel} (want a [key, document] pair)`, entry)
    const [key, doc] = entry as readonly [string, StoredDocument]
    writeString(encoder, keyLabel, key, false)
    writeStoredDocument(encoder, documentLabel, doc)
  }
  writeSnapshotRequestKeys(encoder, `${what}.requestKeys`, snapshot.requestKeys)
}

function writeSnapshotRequestKeys(encoder: encoding.Encoder, what: string, keys: StrictSnapshot['requestKeys']): void {
  if (keys === undefined) {
    encoding.writeUint8(encoder, 0)
    return
  }
  encoding.writeUint8(encoder, 1)
  checkArray(what, keys)
  encoding.writeVarUint(encoder, keys.length)
  const label = `${what}[]`
  for (let i = 0; i < keys.length; i++) {
    const pair = keys[i]
    if (!Array.isArray(pair) || pair.length !== 2) invalid(`${label} (want a [key, position] pair)`, pair)
    const [key, position] = pair as readonly [string, LogPosition]
    writeString(encoder, `${label} key`, key, true)
    writePosition(encoder, label, position)
  }
}

function readSnapshotRequestKeys(decoder: decoding.Decoder, what: string): [string, LogPosition][] | undefined {
  if (!readBool(decoder, `${what} presence`)) return undefined
  const count = readUint(decoder, `${what} count`)
  // Key length, one key byte, epoch and lsn: 4 bytes at least.
  checkCount(decoder, what, count, 4)
  const keys: [string, LogPosition][] = []
  const label = `${what}[]`
  for (let i = 0; i < count; i++) {
    const key = readString(decoder, `${label} key`, true)
    keys.push([key, readPosition(decoder, label)])
  }
  return keys
}

export function readSnapshot(decoder: decoding.Decoder, what: string): StrictSnapshot {
  const lsn = readUint(decoder, `${what}.lsn`)
  const epoch = readUint(decoder, `${what}.epoch`)
  const historyCount = readUint(decoder, `${what}.history count`)
  checkCount(decoder, `${what}.history`, historyCount, 2)
  const history: EpochStart[] = []
  const historyLabel = `${what}.history[]`
  for (let i = 0; i < historyCount; i++) history.push(readPosition(decoder, historyLabel))
  const documentCount = readUint(decoder, `${what}.documents count`)
  // Key length, version and value tag: 3 bytes at least.
  checkCount(decoder, `${what}.documents`, documentCount, 3)
  const documents: (readonly [string, StoredDocument])[] = []
  const documentLabel = `${what}.documents[]`
  const keyLabel = `${documentLabel} key`
  for (let i = 0; i < documentCount; i++) {
    const key = readString(decoder, keyLabel, false)
    documents.push([key, readStoredDocument(decoder, documentLabel)])
  }
  const requestKeys = readSnapshotRequestKeys(decoder, `${what}.requestKeys`)
  return requestKeys === undefined ? { lsn, epoch, history, documents } : { lsn, epoch, history, documents, requestKeys }
}

/**
 * The strict-mode frames (message types 8–12) after their type byte. codec.ts dispatches here;
 * the data inside (ops, entries, snapshots, positions, concerns) is strict-ops.ts.
 *
 * ```
 * Strict            8 kind:u8 epoch:uint from:string(non-empty), then by kind:
 *   0 append          prevLsn:uint prevEpoch:uint count:uint entry*count commitLsn:uint round:uint confirmedRound:uint
 *   1 snapshot        snapshot commitLsn:uint
 *   2 append-reply    success:bool matchLsn:uint receivedLsn:uint durableLsn:uint appliedLsn:uint retryFromLsn:uint round:uint
 *   3 request-vote    lastLsn:uint lastEpoch:uint
 *   4 vote            granted:bool
 *   5 timeout-now     (nothing)
 *   6 pre-vote        lastLsn:uint lastEpoch:uint   (epoch: the proposed one)
 *   7 pre-vote-reply  granted:bool                  (epoch: the proposed one if granted, else the replier's)
 *   8 lend            prevLsn:uint prevEpoch:uint count:uint entry*count   ([FO3] log lending)
 *   9 relayed-append  as append    (from: the primary; passed on by a cascading relay)
 *  10 relayed-snapshot as snapshot (from: the primary; the relay's own snapshot)
 *  11 relayed-reply   as append-reply (from: the cascaded replica; passed on upstream)
 * StrictWrite       9 requestId:uint op concern timeoutMs:ms? requestKey:string(non-empty)?
 * StrictWriteResult 10 requestId:uint status:u8, then by status:
 *   0 acknowledged    token:position requested:concern level:concern degraded:bool
 *                     duplicate:u8 (0 absent, 1 false, 2 true)
 *   1 indeterminate   token:position? requested:concern reason:u8 (0 timeout, 1 stepped-down, 2 unreachable) reached:concern?
 *   2 rejected        code:u8, then by code:
 *     0 PRECONDITION_FAILED  key:string opIndex:uint expected:precondition actualVersion:uint
 *     1 NOT_PRIMARY          epoch:uint primaryHint:string(non-empty)?
 *     2 INVALID_OP           message:string
 *     3 UNAVAILABLE          message:string
 *     4 INVALID_VALUE        message:string path:string rule:string limit:uint?
 *     5 FORBIDDEN            message:string   (the client's principal may not make this write)
 * StrictRead        11 requestId:uint collection:string id:string after:position? read:u8 (0 primary, 1 nearest, 2 replica)
 *                      maxStalenessMs:ms? timeoutMs:ms?
 * StrictReadResult  12 requestId:uint status:u8, then by status:
 *   0 ok              document? node:string(non-empty) appliedLsn:uint appliedEpoch:uint lagMs:ms? lagEntries:uint
 *   1 rejected        code:u8 (0 TOKEN_ROLLED_BACK, 1 NOT_YET, 2 TOO_STALE, 3 UNAVAILABLE, 4 INVALID_REQUEST, 5 FORBIDDEN) message:string
 * ```
 *
 * `bool` is a byte 0 or 1; `x?` is a presence byte (0 null, 1 present) then x; `ms` is a float64
 * (finite, >= 0).
 */
import type * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { StrictMessage } from '../strict/messages.js'
import type {
  ReadPreference,
  StrictReadErrorCode,
  StrictReadReply,
  StrictReadRequest,
  StrictWriteReply,
  StrictWriteRequest,
  Unavailable,
  Forbidden,
} from '../strict/requests.js'
import type { LogEntry, WriteRejection } from '../strict/types.js'
import { DecodeError } from './errors.js'
import { MessageType } from './messages.js'
import type {
  StrictPeerMessage,
  StrictReadMessage,
  StrictReadResultMessage,
  StrictWriteMessage,
  StrictWriteResultMessage,
} from './messages.js'
import {
  checkArray,
  checkCount,
  checkObject,
  invalid,
  readBool,
  readByte,
  readMillis,
  readNullable,
  readString,
  readTag,
  readUint,
  tagTable,
  writeBool,
  writeMillis,
  writeNullable,
  writeString,
  writeTag,
  writeUint,
} from './primitives.js'
import {
  MIN_LOG_ENTRY_BYTES,
  readConcern,
  readLogEntry,
  readPosition,
  readPrecondition,
  readSnapshot,
  readStoredDocument,
  readWriteOp,
  writeConcern,
  writeLogEntry,
  writePosition,
  writePrecondition,
  writeSnapshot,
  writeStoredDocument,
  writeWriteOp,
} from './strict-ops.js'

/** Every frame this file encodes and decodes. */
export type StrictFrame =
  | StrictPeerMessage
  | StrictWriteMessage
  | StrictWriteResultMessage
  | StrictReadMessage
  | StrictReadResultMessage

type StrictFrameType = StrictFrame['type']
type WriteStatus = StrictWriteReply['status']
type IndeterminateReason = Extract<StrictWriteReply, { status: 'indeterminate' }>['reason']
type WriteErrorCode = (WriteRejection | Unavailable | Forbidden)['code']

const STRICT_KIND = tagTable<StrictMessage['type']>({
  append: 0,
  snapshot: 1,
  'append-reply': 2,
  'request-vote': 3,
  vote: 4,
  'timeout-now': 5,
  'pre-vote': 6,
  'pre-vote-reply': 7,
  lend: 8,
  'relayed-append': 9,
  'relayed-snapshot': 10,
  'relayed-reply': 11,
})
const WRITE_STATUS = tagTable<WriteStatus>({ acknowledged: 0, indeterminate: 1, rejected: 2 })
const INDETERMINATE_REASON = tagTable<IndeterminateReason>({ timeout: 0, 'stepped-down': 1, unreachable: 2 })
const WRITE_ERROR = tagTable<WriteErrorCode>({ PRECONDITION_FAILED: 0, NOT_PRIMARY: 1, INVALID_OP: 2, UNAVAILABLE: 3, INVALID_VALUE: 4, FORBIDDEN: 5 })
const READ_PREFERENCE = tagTable<ReadPreference>({ primary: 0, nearest: 1, replica: 2, linearizable: 3 })
const READ_STATUS = tagTable<StrictReadReply['status']>({ ok: 0, rejected: 1 })
const READ_ERROR = tagTable<StrictReadErrorCode>({
  TOKEN_ROLLED_BACK: 0,
  NOT_YET: 1,
  TOO_STALE: 2,
  UNAVAILABLE: 3,
  INVALID_REQUEST: 4,
  FORBIDDEN: 5,
})

/** Writes `msg`'s fields after its type byte (the caller wrote that). RangeError when unrepresentable. */
export function writeStrictFrame(encoder: encoding.Encoder, msg: StrictFrame): void {
  switch (msg.type) {
    case MessageType.Strict:
      writeStrictMessage(encoder, msg.message)
      return
    case MessageType.StrictWrite:
      writeUint(encoder, 'strictWrite.requestId', msg.requestId)
      writeWriteRequest(encoder, msg.request)
      return
    case MessageType.StrictWriteResult:
      writeUint(encoder, 'strictWriteResult.requestId', msg.requestId)
      writeWriteReply(encoder, msg.reply)
      return
    case MessageType.StrictRead:
      writeUint(encoder, 'strictRead.requestId', msg.requestId)
      writeReadRequest(encoder, msg.request)
      return
    case MessageType.StrictReadResult:
      writeUint(encoder, 'strictReadResult.requestId', msg.requestId)
      writeReadReply(encoder, msg.reply)
      return
  }
}

/** Reads the fields of a frame of strict `type` (its type byte already read). DecodeError when malformed. */
export function readStrictFrame(decoder: decoding.Decoder, type: StrictFrameType): StrictFrame {
  switch (type) {
    case MessageType.Strict:
      return { type, message: readStrictMessage(decoder) }
    case MessageType.StrictWrite: {
      const requestId = readUint(decoder, 'strictWrite.requestId')
      return { type, requestId, request: readWriteRequest(decoder) }
    }
    case MessageType.StrictWriteResult: {
      const requestId = readUint(decoder, 'strictWriteResult.requestId')
      return { type, requestId, reply: readWriteReply(decoder) }
    }
    case MessageType.StrictRead: {
      const requestId = readUint(decoder, 'strictRead.requestId')
      return { type, requestId, request: readReadRequest(decoder) }
    }
    case MessageType.StrictReadResult: {
      const requestId = readUint(decoder, 'strictReadResult.requestId')
      return { type, requestId, reply: readReadReply(decoder) }
    }
  }
}

// ------------------------------------------------------------------ peer messages

function writeStrictMessage(encoder: encoding.Encoder, m: StrictMessage): void {
  checkObject('strict.message', m)
  writeTag(encoder, 'strict.message.type', STRICT_KIND, m.type)
  writeUint(encoder, 'strict.epoch', m.epoch)
  writeString(encoder, 'strict.from', m.from, true)
  switch (m.type) {
    case 'append':
    case 'relayed-append': {
      writeUint(encoder, 'append.prevLsn', m.prevLsn)
      writeUint(encoder, 'append.prevEpoch', m.prevEpoch)
      const entries = m.entries
      checkArray('append.entries', entries)
      encoding.writeVarUint(encoder, entries.length)
      for (let i = 0; i < entries.length; i++) writeLogEntry(encoder, 'append.entries[]', entries[i] as LogEntry)
      writeUint(encoder, 'append.commitLsn', m.commitLsn)
      writeUint(encoder, 'append.round', m.round)
      writeUint(encoder, 'append.confirmedRound', m.confirmedRound)
      return
    }
    case 'snapshot':
    case 'relayed-snapshot':
      writeSnapshot(encoder, 'snapshot.snapshot', m.snapshot)
      writeUint(encoder, 'snapshot.commitLsn', m.commitLsn)
      return
    case 'append-reply':
    case 'relayed-reply':
      writeBool(encoder, 'appendReply.success', m.success)
      writeUint(encoder, 'appendReply.matchLsn', m.matchLsn)
      writeUint(encoder, 'appendReply.receivedLsn', m.receivedLsn)
      writeUint(encoder, 'appendReply.durableLsn', m.durableLsn)
      writeUint(encoder, 'appendReply.appliedLsn', m.appliedLsn)
      writeUint(encoder, 'appendReply.retryFromLsn', m.retryFromLsn)
      writeUint(encoder, 'appendReply.round', m.round)
      return
    case 'request-vote':
    case 'pre-vote':
      writeUint(encoder, 'requestVote.lastLsn', m.lastLsn)
      writeUint(encoder, 'requestVote.lastEpoch', m.lastEpoch)
      return
    case 'vote':
    case 'pre-vote-reply':
      writeBool(encoder, 'vote.granted', m.granted)
      return
    case 'timeout-now':
      return
    case 'lend': {
      writeUint(encoder, 'lend.prevLsn', m.prevLsn)
      writeUint(encoder, 'lend.prevEpoch', m.prevEpoch)
      checkArray('lend.entries', m.entries)
      encoding.writeVarUint(encoder, m.entries.length)
      for (let i = 0; i < m.entries.length; i++) writeLogEntry(encoder, 'lend.entries[]', m.entries[i] as LogEntry)
      return
    }
  }
}

function readStrictMessage(decoder: decoding.Decoder): StrictMessage {
  const type = readTag(decoder, 'strict.message.type', STRICT_KIND)
  const epoch = readUint(decoder, 'strict.epoch')
  const from = readString(decoder, 'strict.from', true)
  switch (type) {
    case 'append':
    case 'relayed-append': {
      const prevLsn = readUint(decoder, 'append.prevLsn')
      const prevEpoch = readUint(decoder, 'append.prevEpoch')
      const count = readUint(decoder, 'append.entries count')
      checkCount(decoder, 'append.entries', count, MIN_LOG_ENTRY_BYTES)
      const entries: LogEntry[] = []
      for (let i = 0; i < count; i++) entries.push(readLogEntry(decoder, 'append.entries[]'))
      const commitLsn = readUint(decoder, 'append.commitLsn')
      const round = readUint(decoder, 'append.round')
      const confirmedRound = readUint(decoder, 'append.confirmedRound')
      return { type, epoch, from, prevLsn, prevEpoch, entries, commitLsn, round, confirmedRound }
    }
    case 'snapshot':
    case 'relayed-snapshot': {
      const snapshot = readSnapshot(decoder, 'snapshot.snapshot')
      return { type, epoch, from, snapshot, commitLsn: readUint(decoder, 'snapshot.commitLsn') }
    }
    case 'append-reply':
    case 'relayed-reply': {
      const success = readBool(decoder, 'appendReply.success')
      const matchLsn = readUint(decoder, 'appendReply.matchLsn')
      const receivedLsn = readUint(decoder, 'appendReply.receivedLsn')
      const durableLsn = readUint(decoder, 'appendReply.durableLsn')
      const appliedLsn = readUint(decoder, 'appendReply.appliedLsn')
      const retryFromLsn = readUint(decoder, 'appendReply.retryFromLsn')
      const round = readUint(decoder, 'appendReply.round')
      return { type, epoch, from, success, matchLsn, receivedLsn, durableLsn, appliedLsn, retryFromLsn, round }
    }
    case 'request-vote':
    case 'pre-vote': {
      const lastLsn = readUint(decoder, 'requestVote.lastLsn')
      return { type, epoch, from, lastLsn, lastEpoch: readUint(decoder, 'requestVote.lastEpoch') }
    }
    case 'vote':
    case 'pre-vote-reply':
      return { type, epoch, from, granted: readBool(decoder, 'vote.granted') }
    case 'timeout-now':
      return { type, epoch, from }
    case 'lend': {
      const prevLsn = readUint(decoder, 'lend.prevLsn')
      const prevEpoch = readUint(decoder, 'lend.prevEpoch')
      const count = readUint(decoder, 'lend.entries count')
      checkCount(decoder, 'lend.entries', count, MIN_LOG_ENTRY_BYTES)
      const entries: LogEntry[] = []
      for (let i = 0; i < count; i++) entries.push(readLogEntry(decoder, 'lend.entries[]'))
      return { type, epoch, from, prevLsn, prevEpoch, entries }
    }
  }
}

// ------------------------------------------------------------------ writes

function writeWriteRequest(encoder: encoding.Encoder, request: StrictWriteRequest): void {
  checkObject('strictWrite.request', request)
  writeWriteOp(encoder, 'strictWrite.op', request.op)
  writeConcern(encoder, 'strictWrite.concern', request.concern)
  writeNullable(encoder, 'strictWrite.timeoutMs', request.timeoutMs, (ms) => writeMillis(encoder, 'strictWrite.timeoutMs', ms))
  writeNullable(encoder, 'strictWrite.requestKey', request.requestKey, (key) => writeString(encoder, 'strictWrite.requestKey', key, true))
}

function readWriteRequest(decoder: decoding.Decoder): StrictWriteRequest {
  const op = readWriteOp(decoder, 'strictWrite.op')
  const concern = readConcern(decoder, 'strictWrite.concern')
  const timeoutMs = readNullable(decoder, 'strictWrite.timeoutMs', () => readMillis(decoder, 'strictWrite.timeoutMs'))
  const requestKey = readNullable(decoder, 'strictWrite.requestKey', () => readString(decoder, 'strictWrite.requestKey', true))
  return { op, concern, timeoutMs, requestKey }
}

function writeWriteReply(encoder: encoding.Encoder, reply: StrictWriteReply): void {
  checkObject('strictWriteResult.reply', reply)
  writeTag(encoder, 'strictWriteResult.status', WRITE_STATUS, reply.status)
  switch (reply.status) {
    case 'acknowledged':
      writePosition(encoder, 'acknowledged.token', reply.token)
      writeConcern(encoder, 'acknowledged.requested', reply.requested)
      writeConcern(encoder, 'acknowledged.level', reply.level)
      writeBool(encoder, 'acknowledged.degraded', reply.degraded)
      writeOptionalBool(encoder, 'acknowledged.duplicate', reply.duplicate)
      return
    case 'indeterminate':
      writeNullable(encoder, 'indeterminate.token', reply.token, (t) => writePosition(encoder, 'indeterminate.token', t))
      writeConcern(encoder, 'indeterminate.requested', reply.requested)
      writeTag(encoder, 'indeterminate.reason', INDETERMINATE_REASON, reply.reason)
      writeNullable(encoder, 'indeterminate.reached', reply.reached, (c) => writeConcern(encoder, 'indeterminate.reached', c))
      return
    case 'rejected':
      writeWriteError(encoder, reply.error)
      return
  }
}

/** An optional boolean as one byte (0 absent, 1 false, 2 true), so absent decodes as absent. */
function writeOptionalBool(encoder: encoding.Encoder, what: string, value: boolean | undefined): void {
  if (value !== undefined && typeof value !== 'boolean') invalid(`${what} (want a boolean or absent)`, value)
  encoding.writeUint8(encoder, value === undefined ? 0 : value ? 2 : 1)
}

function readOptionalBool(decoder: decoding.Decoder, what: string): boolean | undefined {
  const byte = readByte(decoder, what)
  if (byte > 2) throw new DecodeError(`${what} is ${byte}, not 0, 1 or 2`)
  return byte === 0 ? undefined : byte === 2
}

function writeWriteError(encoder: encoding.Encoder, error: WriteRejection | Unavailable | Forbidden): void {
  checkObject('rejected.error', error)
  writeTag(encoder, 'rejected.error.code', WRITE_ERROR, error.code)
  switch (error.code) {
    case 'PRECONDITION_FAILED':
      writeString(encoder, 'preconditionFailed.key', error.key, false)
      writeUint(encoder, 'preconditionFailed.opIndex', error.opIndex)
      writePrecondition(encoder, 'preconditionFailed.expected', error.expected)
      writeUint(encoder, 'preconditionFailed.actualVersion', error.actualVersion)
      return
    case 'NOT_PRIMARY':
      writeUint(encoder, 'notPrimary.epoch', error.epoch)
      writeNullable(encoder, 'notPrimary.primaryHint', error.primaryHint, (hint) =>
        writeString(encoder, 'notPrimary.primaryHint', hint, true),
      )
      return
    case 'INVALID_OP':
    case 'UNAVAILABLE':
    case 'FORBIDDEN':
      writeString(encoder, 'rejected.error.message', error.message, false)
      return
    case 'INVALID_VALUE':
      writeString(encoder, 'rejected.error.message', error.message, false)
      writeString(encoder, 'invalidValue.path', error.path, false)
      writeString(encoder, 'invalidValue.rule', error.rule, false)
      writeNullable(encoder, 'invalidValue.limit', error.limit, (limit) => writeUint(encoder, 'invalidValue.limit', limit))
      return
  }
}

function readWriteReply(decoder: decoding.Decoder): StrictWriteReply {
  const status = readTag(decoder, 'strictWriteResult.status', WRITE_STATUS)
  switch (status) {
    case 'acknowledged': {
      const token = readPosition(decoder, 'acknowledged.token')
      const requested = readConcern(decoder, 'acknowledged.requested')
      const level = readConcern(decoder, 'acknowledged.level')
      const degraded = readBool(decoder, 'acknowledged.degraded')
      const duplicate = readOptionalBool(decoder, 'acknowledged.duplicate')
      return duplicate === undefined ? { status, token, requested, level, degraded } : { status, token, requested, level, degraded, duplicate }
    }
    case 'indeterminate': {
      const token = readNullable(decoder, 'indeterminate.token', () => readPosition(decoder, 'indeterminate.token'))
      const requested = readConcern(decoder, 'indeterminate.requested')
      const reason = readTag(decoder, 'indeterminate.reason', INDETERMINATE_REASON)
      const reached = readNullable(decoder, 'indeterminate.reached', () => readConcern(decoder, 'indeterminate.reached'))
      return { status, token, requested, reason, reached }
    }
    case 'rejected':
      return { status, error: readWriteError(decoder) }
  }
}

function readWriteError(decoder: decoding.Decoder): WriteRejection | Unavailable | Forbidden {
  const code = readTag(decoder, 'rejected.error.code', WRITE_ERROR)
  switch (code) {
    case 'PRECONDITION_FAILED': {
      const key = readString(decoder, 'preconditionFailed.key', false)
      const opIndex = readUint(decoder, 'preconditionFailed.opIndex')
      const expected = readPrecondition(decoder, 'preconditionFailed.expected')
      const actualVersion = readUint(decoder, 'preconditionFailed.actualVersion')
      return { code, key, opIndex, expected, actualVersion }
    }
    case 'NOT_PRIMARY': {
      const epoch = readUint(decoder, 'notPrimary.epoch')
      const primaryHint = readNullable(decoder, 'notPrimary.primaryHint', () =>
        readString(decoder, 'notPrimary.primaryHint', true),
      )
      return { code, epoch, primaryHint }
    }
    case 'INVALID_OP':
    case 'UNAVAILABLE':
    case 'FORBIDDEN':
      return { code, message: readString(decoder, 'rejected.error.message', false) }
    case 'INVALID_VALUE': {
      const message = readString(decoder, 'rejected.error.message', false)
      const path = readString(decoder, 'invalidValue.path', false)
      const rule = readString(decoder, 'invalidValue.rule', false)
      const limit = readNullable(decoder, 'invalidValue.limit', () => readUint(decoder, 'invalidValue.limit'))
      return { code, message, path, rule, limit }
    }
  }
}

// ------------------------------------------------------------------ reads

function writeReadRequest(encoder: encoding.Encoder, request: StrictReadRequest): void {
  checkObject('strictRead.request', request)
  writeString(encoder, 'strictRead.collection', request.collection, false)
  writeString(encoder, 'strictRead.id', request.id, false)
  writeNullable(encoder, 'strictRead.after', request.after, (after) => writePosition(encoder, 'strictRead.after', after))
  writeTag(encoder, 'strictRead.read', READ_PREFERENCE, request.read)
  writeNullable(encoder, 'strictRead.maxStalenessMs', request.maxStalenessMs, (ms) =>
    writeMillis(encoder, 'strictRead.maxStalenessMs', ms),
  )
  writeNullable(encoder, 'strictRead.timeoutMs', request.timeoutMs, (ms) => writeMillis(encoder, 'strictRead.timeoutMs', ms))
}

function readReadRequest(decoder: decoding.Decoder): StrictReadRequest {
  const collection = readString(decoder, 'strictRead.collection', false)
  const id = readString(decoder, 'strictRead.id', false)
  const after = readNullable(decoder, 'strictRead.after', () => readPosition(decoder, 'strictRead.after'))
  const read = readTag(decoder, 'strictRead.read', READ_PREFERENCE)
  const maxStalenessMs = readNullable(decoder, 'strictRead.maxStalenessMs', () =>
    readMillis(decoder, 'strictRead.maxStalenessMs'),
  )
  const timeoutMs = readNullable(decoder, 'strictRead.timeoutMs', () => readMillis(decoder, 'strictRead.timeoutMs'))
  return { collection, id, after, read, maxStalenessMs, timeoutMs }
}

function writeReadReply(encoder: encoding.Encoder, reply: StrictReadReply): void {
  checkObject('strictReadResult.reply', reply)
  writeTag(encoder, 'strictReadResult.status', READ_STATUS, reply.status)
  switch (reply.status) {
    case 'ok':
      writeNullable(encoder, 'ok.document', reply.document, (doc) => writeStoredDocument(encoder, 'ok.document', doc))
      writeString(encoder, 'ok.node', reply.node, true)
      writeUint(encoder, 'ok.appliedLsn', reply.appliedLsn)
      writeUint(encoder, 'ok.appliedEpoch', reply.appliedEpoch)
      writeNullable(encoder, 'ok.lagMs', reply.lagMs, (ms) => writeMillis(encoder, 'ok.lagMs', ms))
      writeUint(encoder, 'ok.lagEntries', reply.lagEntries)
      return
    case 'rejected': {
      const error = reply.error
      checkObject('rejected.error', error)
      writeTag(encoder, 'rejected.error.code', READ_ERROR, error.code)
      writeString(encoder, 'rejected.error.message', error.message, false)
      return
    }
  }
}

function readReadReply(decoder: decoding.Decoder): StrictReadReply {
  const status = readTag(decoder, 'strictReadResult.status', READ_STATUS)
  switch (status) {
    case 'ok': {
      const document = readNullable(decoder, 'ok.document', () => readStoredDocument(decoder, 'ok.document'))
      const node = readString(decoder, 'ok.node', true)
      const appliedLsn = readUint(decoder, 'ok.appliedLsn')
      const appliedEpoch = readUint(decoder, 'ok.appliedEpoch')
      const lagMs = readNullable(decoder, 'ok.lagMs', () => readMillis(decoder, 'ok.lagMs'))
      const lagEntries = readUint(decoder, 'ok.lagEntries')
      return { status, document, node, appliedLsn, appliedEpoch, lagMs, lagEntries }
    }
    case 'rejected': {
      const code = readTag(decoder, 'rejected.error.code', READ_ERROR)
      return { status, error: { code, message: readString(decoder, 'rejected.error.message', false) } }
    }
  }
}

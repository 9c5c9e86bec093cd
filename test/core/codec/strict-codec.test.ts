import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import {
  DecodeError,
  MAX_JSON_DEPTH,
  MessageType,
  decodeMessage,
  encodeMessage,
  peekMessageType,
  type Message,
  type StrictPeerMessage,
  type StrictReadMessage,
  type StrictReadResultMessage,
  type StrictChangedMessage,
  type StrictSubscribeMessage,
  type StrictUnsubscribeMessage,
  type StrictWriteMessage,
  type StrictWriteResultMessage,
} from '../../../core/codec/index.js'
import type {
  AppendMessage,
  AppendReplyMessage,
  RequestVoteMessage,
  SnapshotMessage,
  StrictMessage,
  TimeoutNowMessage,
  VoteMessage,
} from '../../../core/strict/messages.js'
import {
  READ_PREFERENCES,
  type StrictReadErrorCode,
  type StrictReadReply,
  type StrictReadRequest,
  type StrictWriteReply,
  type StrictWriteRequest,
  type Unavailable,
  type Forbidden,
} from '../../../core/strict/requests.js'
import {
  WRITE_CONCERNS,
  type BatchOp,
  type DeleteOp,
  type DocumentOp,
  type JsonValue,
  type LogEntry,
  type LogPosition,
  type NoopOp,
  type PatchOp,
  type Precondition,
  type PutOp,
  type StoredDocument,
  type StrictOp,
  type StrictSnapshot,
  type WriteOp,
  type WriteRejection,
} from '../../../core/strict/types.js'
import { arbId, arbSeq, arbString, arbUint } from '../../helpers/arbitraries.js'
import { bytes, decodesOrDecodeError, hex } from './plain.js'

// ------------------------------------------------------------------ arbitraries

/** `fc.record` building plain objects only: fast-check 4 also builds null-prototype ones, which decode as plain. */
const record = ((model: never, constraints?: object) =>
  fc.record(model, { ...constraints, noNullPrototype: true })) as unknown as typeof fc.record

/** Keys that trip naive object handling: prototype names, integer-like keys (reordered by JS), empty. */
const arbKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', '0', '1', '10', '', 'a', 'b'),
  arbString({ maxLength: 8 }),
)

const arbJsonNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 0.5, -1, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 2 ** 53, -(2 ** 60), Number.MAX_VALUE, Number.MIN_VALUE),
)

const arbJson: fc.Arbitrary<JsonValue> = fc.letrec<{ json: JsonValue }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    arbJsonNumber,
    arbString(),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(arbKey, tie('json'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).json

const arbFields: fc.Arbitrary<{ [key: string]: JsonValue }> = fc.dictionary(arbKey, arbJson, {
  maxKeys: 4,
  noNullPrototype: true,
})

/** Any string the codec accepts where empty is allowed (collections, ids, messages). */
const arbText = fc.oneof(fc.constant(''), arbId, arbString({ maxLength: 24 }))

const arbMillis: fc.Arbitrary<number> = fc.oneof(
  fc.nat({ max: 600_000 }),
  fc.double({ min: 0, max: 1e12, noNaN: true }),
  fc.constantFrom(0, 0.25, Number.MAX_VALUE),
)

const arbPosition: fc.Arbitrary<LogPosition> = record({ epoch: arbUint, lsn: arbUint })

const arbPrecondition: fc.Arbitrary<Precondition> = record(
  { expectVersion: arbUint, exists: fc.boolean() },
  { requiredKeys: [] },
)

const arbPut: fc.Arbitrary<PutOp> = record(
  { kind: fc.constant('put' as const), collection: arbText, id: arbText, value: arbJson, precondition: arbPrecondition },
  { requiredKeys: ['kind', 'collection', 'id', 'value'] },
)
const arbPatch: fc.Arbitrary<PatchOp> = record(
  { kind: fc.constant('patch' as const), collection: arbText, id: arbText, fields: arbFields, precondition: arbPrecondition },
  { requiredKeys: ['kind', 'collection', 'id', 'fields'] },
)
const arbDelete: fc.Arbitrary<DeleteOp> = record(
  { kind: fc.constant('delete' as const), collection: arbText, id: arbText, precondition: arbPrecondition },
  { requiredKeys: ['kind', 'collection', 'id'] },
)
const arbDocumentOp: fc.Arbitrary<DocumentOp> = fc.oneof(arbPut, arbPatch, arbDelete)
const arbBatch: fc.Arbitrary<BatchOp> = record({
  kind: fc.constant('batch' as const),
  ops: fc.array(arbDocumentOp, { maxLength: 4 }),
})
const arbNoop: fc.Arbitrary<NoopOp> = fc.constant({ kind: 'noop' as const })
const arbWriteOp: fc.Arbitrary<WriteOp> = fc.oneof(arbDocumentOp, arbBatch)
const arbStrictOp: fc.Arbitrary<StrictOp> = fc.oneof(arbDocumentOp, arbBatch, arbNoop)

/** A request key: never empty on the wire. */
const arbRequestKey: fc.Arbitrary<string> = fc.oneof(arbId, arbString({ minLength: 1, maxLength: 24 }))

const arbLogEntry: fc.Arbitrary<LogEntry> = record(
  { epoch: arbUint, lsn: arbSeq, op: arbStrictOp, requestKey: arbRequestKey },
  { requiredKeys: ['epoch', 'lsn', 'op'] },
)

const arbStoredDocument: fc.Arbitrary<StoredDocument> = record({ value: arbJson, version: arbUint })

const arbSnapshot: fc.Arbitrary<StrictSnapshot> = record(
  {
    lsn: arbUint,
    epoch: arbUint,
    history: fc.array(arbPosition, { maxLength: 4 }),
    documents: fc.array(fc.tuple(arbText, arbStoredDocument), { maxLength: 4 }),
    requestKeys: fc.array(fc.tuple(arbRequestKey, arbPosition), { maxLength: 4 }),
  },
  { requiredKeys: ['lsn', 'epoch', 'history', 'documents'] },
)

const arbConcern = fc.constantFrom(...WRITE_CONCERNS)
const nullable = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(arb, { nil: null })

const arbAppend: fc.Arbitrary<AppendMessage> = record({
  type: fc.constantFrom('append' as const, 'relayed-append' as const),
  epoch: arbUint,
  from: arbId,
  prevLsn: arbUint,
  prevEpoch: arbUint,
  entries: fc.array(arbLogEntry, { maxLength: 4 }),
  commitLsn: arbUint,
  round: arbUint,
  confirmedRound: arbUint,
})
const arbSnapshotMessage: fc.Arbitrary<SnapshotMessage> = record({
  type: fc.constantFrom('snapshot' as const, 'relayed-snapshot' as const),
  epoch: arbUint,
  from: arbId,
  snapshot: arbSnapshot,
  commitLsn: arbUint,
})
const arbAppendReply: fc.Arbitrary<AppendReplyMessage> = record({
  type: fc.constantFrom('append-reply' as const, 'relayed-reply' as const),
  epoch: arbUint,
  from: arbId,
  success: fc.boolean(),
  matchLsn: arbUint,
  receivedLsn: arbUint,
  durableLsn: arbUint,
  appliedLsn: arbUint,
  retryFromLsn: arbUint,
  round: arbUint,
})
const arbRequestVote: fc.Arbitrary<RequestVoteMessage> = record({
  type: fc.constant('request-vote' as const),
  epoch: arbUint,
  from: arbId,
  lastLsn: arbUint,
  lastEpoch: arbUint,
})
const arbVote: fc.Arbitrary<VoteMessage> = record({
  type: fc.constant('vote' as const),
  epoch: arbUint,
  from: arbId,
  granted: fc.boolean(),
})
const arbPreVote: fc.Arbitrary<StrictMessage> = record({
  type: fc.constant('pre-vote' as const),
  epoch: arbUint,
  from: arbId,
  lastLsn: arbUint,
  lastEpoch: arbUint,
})
const arbPreVoteReply: fc.Arbitrary<StrictMessage> = record({
  type: fc.constant('pre-vote-reply' as const),
  epoch: arbUint,
  from: arbId,
  granted: fc.boolean(),
})
const arbTimeoutNow: fc.Arbitrary<TimeoutNowMessage> = record({
  type: fc.constant('timeout-now' as const),
  epoch: arbUint,
  from: arbId,
})

const arbLend: fc.Arbitrary<StrictMessage> = record({
  type: fc.constant('lend' as const),
  epoch: arbUint,
  from: arbId,
  prevLsn: arbUint,
  prevEpoch: arbUint,
  entries: fc.array(arbLogEntry, { maxLength: 4 }),
})

const peer = (arb: fc.Arbitrary<StrictMessage>): fc.Arbitrary<StrictPeerMessage> =>
  arb.map((message) => ({ type: MessageType.Strict, message }))

const arbWriteRequest: fc.Arbitrary<StrictWriteRequest> = record({
  op: arbWriteOp,
  concern: arbConcern,
  timeoutMs: nullable(arbMillis),
  requestKey: nullable(arbRequestKey),
})

const arbWriteRejection: fc.Arbitrary<WriteRejection | Unavailable | Forbidden> = fc.oneof(
  record({
    code: fc.constant('PRECONDITION_FAILED' as const),
    key: arbText,
    opIndex: arbUint,
    expected: arbPrecondition,
    actualVersion: arbUint,
  }),
  record({ code: fc.constant('NOT_PRIMARY' as const), epoch: arbUint, primaryHint: nullable(arbId) }),
  record({ code: fc.constant('INVALID_OP' as const), message: arbText }),
  record({ code: fc.constant('INVALID_VALUE' as const), message: arbText, path: arbText, rule: arbText, limit: fc.option(fc.nat()) }),
  record({ code: fc.constant('UNAVAILABLE' as const), message: arbText }),
  record({ code: fc.constant('FORBIDDEN' as const), message: arbText }),
)

const arbWriteReply: fc.Arbitrary<StrictWriteReply> = fc.oneof(
  record({
    status: fc.constant('acknowledged' as const),
    token: arbPosition,
    requested: arbConcern,
    level: arbConcern,
    degraded: fc.boolean(),
    duplicate: fc.boolean(),
  }, { requiredKeys: ['status', 'token', 'requested', 'level', 'degraded'] }),
  record({
    status: fc.constant('indeterminate' as const),
    token: nullable(arbPosition),
    requested: arbConcern,
    reason: fc.constantFrom('timeout' as const, 'stepped-down' as const, 'unreachable' as const),
    reached: nullable(arbConcern),
  }),
  record({ status: fc.constant('rejected' as const), error: arbWriteRejection }),
)

const arbReadRequest: fc.Arbitrary<StrictReadRequest> = record({
  collection: arbText,
  id: arbText,
  after: nullable(arbPosition),
  read: fc.constantFrom(...READ_PREFERENCES),
  maxStalenessMs: nullable(arbMillis),
  timeoutMs: nullable(arbMillis),
})

const READ_ERROR_CODES: readonly StrictReadErrorCode[] = ['TOKEN_ROLLED_BACK', 'NOT_YET', 'TOO_STALE', 'UNAVAILABLE', 'INVALID_REQUEST', 'FORBIDDEN']

const arbReadReply: fc.Arbitrary<StrictReadReply> = fc.oneof(
  record({
    status: fc.constant('ok' as const),
    document: nullable(arbStoredDocument),
    node: arbId,
    appliedLsn: arbUint,
    appliedEpoch: arbUint,
    lagMs: nullable(arbMillis),
    lagEntries: arbUint,
  }),
  record({
    status: fc.constant('rejected' as const),
    error: record({ code: fc.constantFrom(...READ_ERROR_CODES), message: arbText }),
  }),
)

const arbStrictWrite: fc.Arbitrary<StrictWriteMessage> = record({
  type: fc.constant(MessageType.StrictWrite),
  requestId: arbUint,
  request: arbWriteRequest,
})
const arbStrictWriteResult: fc.Arbitrary<StrictWriteResultMessage> = record({
  type: fc.constant(MessageType.StrictWriteResult),
  requestId: arbUint,
  reply: arbWriteReply,
})
const arbStrictRead: fc.Arbitrary<StrictReadMessage> = record({
  type: fc.constant(MessageType.StrictRead),
  requestId: arbUint,
  request: arbReadRequest,
})
const arbStrictReadResult: fc.Arbitrary<StrictReadResultMessage> = record({
  type: fc.constant(MessageType.StrictReadResult),
  requestId: arbUint,
  reply: arbReadReply,
})

const arbStrictSubscribe: fc.Arbitrary<StrictSubscribeMessage> = record({
  type: fc.constant(MessageType.StrictSubscribe),
  requestId: arbUint,
  collection: arbText,
  id: nullable(arbText),
})
const arbStrictUnsubscribe: fc.Arbitrary<StrictUnsubscribeMessage> = record({
  type: fc.constant(MessageType.StrictUnsubscribe),
  requestId: arbUint,
})
const arbStrictChanged: fc.Arbitrary<StrictChangedMessage> = record({
  type: fc.constant(MessageType.StrictChanged),
  requestId: arbUint,
  id: arbText,
  document: nullable(arbStoredDocument),
  position: arbPosition,
})

const arbStrictSynced: fc.Arbitrary<Message> = record({
  type: fc.constant(MessageType.StrictSynced),
  requestId: arbUint,
  position: arbPosition,
})

const FRAME_ARBITRARIES: [string, fc.Arbitrary<Message>][] = [
  ['Strict append / relayed-append', peer(arbAppend)],
  ['Strict snapshot / relayed-snapshot', peer(arbSnapshotMessage)],
  ['Strict append-reply / relayed-reply', peer(arbAppendReply)],
  ['Strict request-vote', peer(arbRequestVote)],
  ['Strict vote', peer(arbVote)],
  ['Strict timeout-now', peer(arbTimeoutNow)],
  ['Strict pre-vote', peer(arbPreVote)],
  ['Strict pre-vote-reply', peer(arbPreVoteReply)],
  ['Strict lend', peer(arbLend)],
  ['StrictWrite', arbStrictWrite],
  ['StrictWriteResult', arbStrictWriteResult],
  ['StrictRead', arbStrictRead],
  ['StrictReadResult', arbStrictReadResult],
  ['StrictSubscribe', arbStrictSubscribe],
  ['StrictUnsubscribe', arbStrictUnsubscribe],
  ['StrictChanged', arbStrictChanged],
  ['StrictSynced', arbStrictSynced],
]

/** Every strict frame, each kind equally likely. */
const arbStrictFrame: fc.Arbitrary<Message> = fc.oneof(...FRAME_ARBITRARIES.map(([, arb]) => arb))

// ------------------------------------------------------------------ helpers

function frame(build: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  build(e)
  return encoding.toUint8Array(e)
}

function expectBadFrame(input: Uint8Array, reason?: RegExp): void {
  let thrown: unknown
  try {
    decodeMessage(input)
  } catch (err) {
    thrown = err
  }
  expect(thrown).toBeInstanceOf(DecodeError)
  if (reason) expect((thrown as DecodeError).reason).toMatch(reason)
}

/**
 * A form of `v` for exact comparison with toEqual: every object must be plain and lists all of its
 * own keys (an undefined-valued field counts), -0 is told from 0. (toStrictEqual would do, but it
 * compares the `constructor` property, and "constructor" is a fine JSON key.)
 */
function exact(v: unknown): unknown {
  if (Object.is(v, -0)) return '-0'
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) return { array: Array.from(v, exact) }
  const proto: unknown = Object.getPrototypeOf(v)
  const entries = Reflect.ownKeys(v)
    .map((k) => [String(k), exact((v as Record<string | symbol, unknown>)[k])] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return { plain: proto === Object.prototype, entries }
}

function expectSame(actual: unknown, expected: unknown): void {
  expect(exact(actual)).toEqual(exact(expected))
}

/** True when `v` is a JSON value made only of plain objects, arrays, finite numbers, strings, booleans and null. */
function isJson(v: unknown, depth = 0): boolean {
  if (depth > MAX_JSON_DEPTH) return false
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true
  if (typeof v === 'number') return Number.isFinite(v)
  if (Array.isArray(v)) return Object.getPrototypeOf(v) === Array.prototype && v.every((x) => isJson(x, depth + 1))
  if (typeof v === 'object') {
    return Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every((x) => isJson(x, depth + 1))
  }
  return false
}

/** A StrictWrite frame of a put of `collection/id` whose value is whatever `writeValue` writes (raw). */
function rawPut(writeValue: (e: encoding.Encoder) => void): Uint8Array {
  return frame((e) => {
    encoding.writeUint8(e, MessageType.StrictWrite)
    encoding.writeVarUint(e, 7) // requestId
    encoding.writeUint8(e, 0) // op kind put
    encoding.writeVarString(e, 'c')
    encoding.writeVarString(e, 'd')
    encoding.writeUint8(e, 0) // no precondition
    writeValue(e)
    encoding.writeUint8(e, 2) // concern majority
    encoding.writeUint8(e, 0) // timeoutMs null
    encoding.writeUint8(e, 0) // requestKey null
  })
}

function putOf(value: JsonValue): StrictWriteMessage {
  return {
    type: MessageType.StrictWrite,
    requestId: 7,
    request: { op: { kind: 'put', collection: 'c', id: 'd', value }, concern: 'majority', timeoutMs: null, requestKey: null },
  }
}

function nested(depth: number): JsonValue {
  let v: JsonValue = null
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

const RUNS = 100

// ------------------------------------------------------------------ tests

describe('strict codec: round trip', () => {
  it.each(FRAME_ARBITRARIES)('[PR1] %s round-trips through encode/decode as an equal plain value', (_name, arb) => {
    fc.assert(
      fc.property(arb, (msg) => {
        const encoded = encodeMessage(msg)
        expect(peekMessageType(encoded)).toBe(msg.type)
        // No extra (undefined) fields, plain objects and arrays only.
        expectSame(decodeMessage(encoded), msg)
      }),
      { numRuns: RUNS },
    )
  })

  it('[PR1] re-encoding a decoded strict frame gives the same bytes', () => {
    fc.assert(
      fc.property(arbStrictFrame, (msg) => {
        const encoded = encodeMessage(msg)
        expect(encodeMessage(decodeMessage(encoded))).toEqual(encoded)
      }),
      { numRuns: RUNS },
    )
  })

  it('[PR1] decoded ops carry exactly their fields: absent preconditions and precondition fields stay absent', () => {
    const msg: StrictWriteMessage = {
      type: MessageType.StrictWrite,
      requestId: 1,
      request: {
        op: {
          kind: 'batch',
          ops: [
            { kind: 'delete', collection: 'c', id: 'a' },
            { kind: 'delete', collection: 'c', id: 'b', precondition: {} },
            { kind: 'delete', collection: 'c', id: 'e', precondition: { exists: false } },
            { kind: 'delete', collection: 'c', id: 'f', precondition: { expectVersion: 0 } },
          ],
        },
        concern: 'one',
        timeoutMs: 0,
        requestKey: null,
      },
    }
    const decoded = decodeMessage(encodeMessage(msg)) as StrictWriteMessage
    expectSame(decoded, msg)
    const ops = (decoded.request.op as BatchOp).ops
    expect(Object.keys(ops[0] as object)).toEqual(['kind', 'collection', 'id'])
    expect(Object.keys((ops[1] as DeleteOp).precondition as object)).toEqual([])
    expect(Object.keys((ops[2] as DeleteOp).precondition as object)).toEqual(['exists'])
    expect(Object.keys((ops[3] as DeleteOp).precondition as object)).toEqual(['expectVersion'])
  })

  it('[PR1] JSON edge values survive: -0, large and fractional numbers, astral strings, __proto__ keys', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "constructor": null, "2": [], "1": {}}') as JsonValue
    const values: JsonValue[] = [
      -0,
      0,
      -1,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      2 ** 53,
      -(2 ** 70),
      0.1,
      Number.MIN_VALUE,
      -Number.MAX_VALUE,
      '🌍 héllo',
      '',
      value,
      { a: [1, 'two', null, true, false, { b: -2.5 }] },
    ]
    for (const v of values) {
      const decoded = decodeMessage(encodeMessage(putOf(v))) as StrictWriteMessage
      const got = (decoded.request.op as PutOp).value
      expectSame(got, v)
    }
    const decoded = (decodeMessage(encodeMessage(putOf(value))) as StrictWriteMessage).request.op as PutOp
    expect(Object.getPrototypeOf(decoded.value)).toBe(Object.prototype)
    expect(Object.hasOwn(decoded.value as object, '__proto__')).toBe(true)
    expect(isJson(decoded.value)).toBe(true)
  })

  it('[PR1] a null-prototype object encodes and decodes to a plain object', () => {
    const value = Object.assign(Object.create(null) as { [k: string]: JsonValue }, { a: 1 })
    const decoded = (decodeMessage(encodeMessage(putOf(value))) as StrictWriteMessage).request.op as PutOp
    expect(Object.getPrototypeOf(decoded.value)).toBe(Object.prototype)
    expect({ ...(decoded.value as object) }).toEqual({ a: 1 })
  })

  it(`[PR1] JSON nested ${MAX_JSON_DEPTH} deep round-trips (also as patch fields)`, () => {
    expectSame(decodeMessage(encodeMessage(putOf(nested(MAX_JSON_DEPTH)))), putOf(nested(MAX_JSON_DEPTH)))
    // Patch fields are the outermost object: their values may nest one level less.
    const patch: StrictWriteMessage = {
      type: MessageType.StrictWrite,
      requestId: 0,
      request: { op: { kind: 'patch', collection: 'c', id: 'd', fields: { f: nested(MAX_JSON_DEPTH - 1) } }, concern: 'all', timeoutMs: 5, requestKey: 'k-1' },
    }
    expectSame(decodeMessage(encodeMessage(patch)), patch)
  })

  it('[PR1] the wire layout of the watch frames (13–15) is pinned; a whole-collection subscribe differs from id ""', () => {
    expect(hex(encodeMessage({ type: MessageType.StrictSubscribe, requestId: 5, collection: 'c', id: 'd' }))).toBe('0d 05 01 63 01 01 64')
    expect(hex(encodeMessage({ type: MessageType.StrictSubscribe, requestId: 5, collection: 'c', id: null }))).toBe('0d 05 01 63 00')
    expect(hex(encodeMessage({ type: MessageType.StrictSubscribe, requestId: 5, collection: 'c', id: '' }))).toBe('0d 05 01 63 01 00')
    expect(hex(encodeMessage({ type: MessageType.StrictUnsubscribe, requestId: 300 }))).toBe('0e ac 02')
    const changed: StrictChangedMessage = {
      type: MessageType.StrictChanged,
      requestId: 5,
      id: 'd',
      document: { version: 7, value: { n: 1 } },
      position: { epoch: 2, lsn: 9 },
    }
    expect(hex(encodeMessage(changed))).toBe('0f 05 01 64 01 07 08 01 01 6e 03 01 02 09')
    expect(hex(encodeMessage({ ...changed, document: null }))).toBe('0f 05 01 64 00 02 09')
  })

  it('[PR1] the wire layout of strict frames is pinned', () => {
    // Changing any of these is an incompatible wire change: bump PROTOCOL_VERSION.
    expect(hex(encodeMessage({ type: MessageType.Strict, message: { type: 'timeout-now', epoch: 3, from: 'a' } }))).toBe(
      '08 05 03 01 61',
    )
    expect(hex(encodeMessage({ type: MessageType.Strict, message: { type: 'vote', epoch: 300, from: 'b', granted: true } }))).toBe(
      '08 04 ac 02 01 62 01',
    )
    expect(
      hex(
        encodeMessage({
          type: MessageType.Strict,
          message: {
            type: 'append',
            epoch: 2,
            from: 'p',
            prevLsn: 4,
            prevEpoch: 1,
            entries: [{ epoch: 2, lsn: 5, op: { kind: 'noop' } }],
            commitLsn: 4,
            round: 300,
            confirmedRound: 7,
          },
        }),
      ),
    ).toBe('08 00 02 01 70 04 01 01 02 05 04 00 04 ac 02 07')
    expect(
      hex(
        encodeMessage({
          type: MessageType.StrictWrite,
          requestId: 1,
          request: {
            op: { kind: 'put', collection: 'c', id: 'd', value: { n: -2, f: 0.5, s: 'x', a: [true, null] }, precondition: { exists: false } },
            concern: 'majority',
            timeoutMs: null,
            requestKey: null,
          },
        }),
      ),
    ).toBe(
      '09 01 00 01 63 01 64 01 00 01 08 04 01 6e 04 02 01 66 05 3f e0 00 00 00 00 00 00 01 73 06 01 78 01 61 07 02 02 00 02 00 00',
    )
    // A keyed delete of c/d at local, and the duplicate acknowledgement of its resend.
    expect(
      hex(
        encodeMessage({
          type: MessageType.StrictWrite,
          requestId: 5,
          request: { op: { kind: 'delete', collection: 'c', id: 'd' }, concern: 'local', timeoutMs: null, requestKey: 'k' },
        }),
      ),
    ).toBe('09 05 02 01 63 01 64 00 00 00 01 01 6b')
    expect(
      hex(
        encodeMessage({
          type: MessageType.StrictWriteResult,
          requestId: 5,
          reply: { status: 'acknowledged', token: { epoch: 3, lsn: 7 }, requested: 'local', level: 'local', degraded: false, duplicate: true },
        }),
      ),
    ).toBe('0a 05 00 03 07 00 00 00 02')
    expect(
      hex(
        encodeMessage({
          type: MessageType.StrictWriteResult,
          requestId: 2,
          reply: { status: 'rejected', error: { code: 'NOT_PRIMARY', epoch: 4, primaryHint: 'eu-1' } },
        }),
      ),
    ).toBe('0a 02 02 01 04 01 04 65 75 2d 31')
    expect(
      hex(
        encodeMessage({
          type: MessageType.StrictRead,
          requestId: 3,
          request: { collection: 'c', id: 'd', after: { epoch: 1, lsn: 9 }, read: 'nearest', maxStalenessMs: null, timeoutMs: 1 },
        }),
      ),
    ).toBe('0b 03 01 63 01 64 01 01 09 01 00 01 3f f0 00 00 00 00 00 00')
    expect(
      hex(
        encodeMessage({
          type: MessageType.StrictReadResult,
          requestId: 4,
          reply: { status: 'rejected', error: { code: 'NOT_YET', message: '' } },
        }),
      ),
    ).toBe('0c 04 01 01 00')
  })
})

type Edit =
  | { readonly kind: 'set'; readonly at: number; readonly byte: number }
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'insert'; readonly at: number; readonly byte: number }
  | { readonly kind: 'delete'; readonly at: number }

const arbByte = fc.integer({ min: 0, max: 255 })
const arbEdit: fc.Arbitrary<Edit> = fc.oneof(
  record({ kind: fc.constant('set' as const), at: fc.nat(), byte: arbByte }),
  record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: arbByte }),
  record({ kind: fc.constant('delete' as const), at: fc.nat() }),
)

function applyEdits(input: Uint8Array, edits: readonly Edit[]): Uint8Array {
  const out = Array.from(input)
  for (const edit of edits) {
    if (edit.kind === 'insert') out.splice(edit.at % (out.length + 1), 0, edit.byte)
    else if (out.length === 0) continue
    else if (edit.kind === 'set') out[edit.at % out.length] = edit.byte
    else if (edit.kind === 'flip') out[edit.at % out.length] = (out[edit.at % out.length] as number) ^ (1 << edit.bit)
    else out.splice(edit.at % out.length, 1)
  }
  return Uint8Array.from(out)
}

/** Whatever the decoder accepts is a valid message: it is made of JSON values, encodes, and decodes back to itself. */
function expectValid(result: Message | DecodeError): void {
  if (result instanceof DecodeError) return
  expect(isJson(JSON.parse(JSON.stringify(result)))).toBe(true)
  expectSame(decodeMessage(encodeMessage(result)), result)
}

describe('strict codec: hostile input', () => {
  it('[PR1] arbitrary bytes behind a strict type byte never throw anything but DecodeError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 15 }), fc.uint8Array({ maxLength: 512 }), (type, rest) => {
        const input = new Uint8Array(rest.length + 1)
        input[0] = type
        input.set(rest, 1)
        expectValid(decodesOrDecodeError(() => decodeMessage(input)))
      }),
      { numRuns: 200 },
    )
  })

  it('[PR1] arbitrary bytes where a JSON value is expected decode only to JSON values, or throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (value) => {
        const input = rawPut((e) => encoding.writeUint8Array(e, value))
        const result = decodesOrDecodeError(() => decodeMessage(input))
        if (!(result instanceof DecodeError)) {
          const op = (result as StrictWriteMessage).request.op as PutOp
          expect(isJson(op.value)).toBe(true)
        }
        expectValid(result)
      }),
      { numRuns: 200 },
    )
  })

  it('[PR1] bit flips, insertions and deletions in valid strict frames decode to valid messages or throw DecodeError', () => {
    fc.assert(
      fc.property(arbStrictFrame, fc.array(arbEdit, { minLength: 1, maxLength: 4 }), (msg, edits) => {
        expectValid(decodesOrDecodeError(() => decodeMessage(applyEdits(encodeMessage(msg), edits))))
      }),
      { numRuns: 200 },
    )
  })

  it('[PR1] every truncated prefix of a valid strict frame throws DecodeError', () => {
    fc.assert(
      fc.property(arbStrictFrame, (msg) => {
        const encoded = encodeMessage(msg)
        for (let length = 0; length < encoded.length; length++) {
          expect(() => decodeMessage(encoded.subarray(0, length))).toThrow(DecodeError)
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('[PR1] trailing bytes after a strict frame are rejected', () => {
    fc.assert(
      fc.property(arbStrictFrame, fc.uint8Array({ minLength: 1, maxLength: 4 }), (msg, extra) => {
        const encoded = encodeMessage(msg)
        const input = new Uint8Array(encoded.length + extra.length)
        input.set(encoded)
        input.set(extra, encoded.length)
        expect(() => decodeMessage(input)).toThrow(/trailing bytes/)
      }),
      { numRuns: 50 },
    )
  })

  it(`[PR1] JSON nested deeper than ${MAX_JSON_DEPTH} is a DecodeError, however deep (no stack overflow)`, () => {
    const arrays = (depth: number) =>
      rawPut((e) => {
        for (let i = 0; i < depth; i++) {
          encoding.writeUint8(e, 7)
          encoding.writeVarUint(e, 1)
        }
        encoding.writeUint8(e, 0)
      })
    expectSame(decodeMessage(arrays(MAX_JSON_DEPTH)), putOf(nested(MAX_JSON_DEPTH)))
    expectBadFrame(arrays(MAX_JSON_DEPTH + 1), /nested deeper/)
    expectBadFrame(arrays(200_000), /nested deeper/)
    const objects = rawPut((e) => {
      for (let i = 0; i <= MAX_JSON_DEPTH; i++) {
        encoding.writeUint8(e, 8)
        encoding.writeVarUint(e, 1)
        encoding.writeVarString(e, 'k')
      }
      encoding.writeUint8(e, 0)
    })
    expectBadFrame(objects, /nested deeper/)
  })

  it('[PR1] counts larger than the remaining input fail at once', () => {
    const started = performance.now()
    // A JSON array and object announcing 2^50 elements.
    expectBadFrame(rawPut((e) => (encoding.writeUint8(e, 7), encoding.writeVarUint(e, 2 ** 50))), /count/)
    expectBadFrame(rawPut((e) => (encoding.writeUint8(e, 8), encoding.writeVarUint(e, 2 ** 50))), /count/)
    // An append announcing 2^40 entries.
    expectBadFrame(
      frame((e) => {
        encoding.writeUint8(e, MessageType.Strict)
        encoding.writeUint8(e, 0)
        encoding.writeVarUint(e, 1)
        encoding.writeVarString(e, 'p')
        encoding.writeVarUint(e, 0)
        encoding.writeVarUint(e, 0)
        encoding.writeVarUint(e, 2 ** 40)
      }),
      /count/,
    )
    // A batch of 2^40 ops; a snapshot with 2^40 history entries, then 2^40 documents, then 2^40 request keys.
    expectBadFrame(
      frame((e) => {
        encoding.writeUint8(e, MessageType.StrictWrite)
        encoding.writeVarUint(e, 0)
        encoding.writeUint8(e, 3)
        encoding.writeVarUint(e, 2 ** 40)
      }),
      /count/,
    )
    const snapshotFrame = (history: number, documents: number, requestKeys?: number) =>
      frame((e) => {
        encoding.writeUint8(e, MessageType.Strict)
        encoding.writeUint8(e, 1)
        encoding.writeVarUint(e, 1)
        encoding.writeVarString(e, 'p')
        encoding.writeVarUint(e, 10)
        encoding.writeVarUint(e, 1)
        encoding.writeVarUint(e, history)
        encoding.writeVarUint(e, documents)
        if (requestKeys === undefined) encoding.writeUint8(e, 0)
        else (encoding.writeUint8(e, 1), encoding.writeVarUint(e, requestKeys))
        encoding.writeVarUint(e, 10)
      })
    expectSame(decodeMessage(snapshotFrame(0, 0)), {
      type: MessageType.Strict,
      message: { type: 'snapshot', epoch: 1, from: 'p', snapshot: { lsn: 10, epoch: 1, history: [], documents: [] }, commitLsn: 10 },
    })
    expectBadFrame(snapshotFrame(2 ** 40, 0), /count/)
    expectBadFrame(snapshotFrame(0, 2 ** 40), /count/)
    expectBadFrame(snapshotFrame(0, 0, 2 ** 40), /count/)
    expect(performance.now() - started).toBeLessThan(100)
  })

  it('[PR1] unknown sub-tags, bad booleans and presence bytes are rejected', () => {
    const header = [MessageType.Strict]
    expectBadFrame(bytes(...header, 12, 1, 1, 0x61), /unknown strict\.message\.type 12/)
    expectBadFrame(bytes(...header, 4, 1, 1, 0x61, 2), /vote\.granted is 2/)
    expectBadFrame(bytes(...header, 5, 1, 0), /from is empty/)
    // append with one entry at lsn 0
    expectBadFrame(bytes(...header, 0, 1, 1, 0x61, 0, 0, 1, 1, 0, 4, 0), /lsn is 0/)
    // op kinds: 5 is unknown; a write may not be a noop; a batch may not hold a batch
    expectBadFrame(bytes(MessageType.StrictWrite, 0, 5), /unknown strictWrite\.op\.kind 5/)
    expectBadFrame(bytes(MessageType.StrictWrite, 0, 4, 2, 0), /noop is not allowed/)
    expectBadFrame(bytes(MessageType.StrictWrite, 0, 3, 1, 3, 0, 2, 0), /batch is not allowed in a batch/)
    // put c/d with a precondition whose exists byte is 3, or whose presence byte is 2
    expectBadFrame(bytes(MessageType.StrictWrite, 0, 0, 1, 0x63, 1, 0x64, 1, 0, 3, 0, 2, 0), /exists is 3/)
    expectBadFrame(bytes(MessageType.StrictWrite, 0, 0, 1, 0x63, 1, 0x64, 2, 0, 2, 0), /presence is 2/)
    // concern 4, timeout presence 2, negative and non-finite timeouts
    expectBadFrame(rawPutWithTail([4, 0]), /unknown strictWrite\.concern 4/)
    expectBadFrame(rawPutWithTail([2, 2]), /presence/)
    expectBadFrame(rawPutWithTail([2, 1, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0]), /timeoutMs is -1/)
    expectBadFrame(rawPutWithTail([2, 1, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]), /timeoutMs is Infinity/)
    expectBadFrame(rawPutWithTail([2, 1, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), /timeoutMs is NaN/)
    // request key: presence 2, or present but empty
    expectBadFrame(rawPutWithTail([2, 0, 2]), /requestKey presence is 2/)
    expectBadFrame(rawPutWithTail([2, 0, 1, 0]), /requestKey is empty/)
    // an acknowledged reply whose duplicate byte is 3 (token 1:1, requested and level one, not degraded)
    expectBadFrame(bytes(MessageType.StrictWriteResult, 0, 0, 1, 1, 1, 1, 0, 3), /duplicate is 3/)
    // append with one noop entry whose request key is present but empty
    expectBadFrame(bytes(...header, 0, 1, 1, 0x61, 0, 0, 1, 1, 1, 4, 1, 0, 0), /requestKey is empty/)
    // reply statuses and error codes
    expectBadFrame(bytes(MessageType.StrictWriteResult, 0, 3), /unknown strictWriteResult\.status 3/)
    expectBadFrame(bytes(MessageType.StrictWriteResult, 0, 2, 6, 0), /unknown rejected\.error\.code 6/)
    expectBadFrame(bytes(MessageType.StrictWriteResult, 0, 1, 0, 0, 3, 0), /unknown indeterminate\.reason 3/)
    expectBadFrame(bytes(MessageType.StrictReadResult, 0, 2), /unknown strictReadResult\.status 2/)
    expectBadFrame(bytes(MessageType.StrictReadResult, 0, 1, 6, 0), /unknown rejected\.error\.code 6/)
    expectBadFrame(bytes(MessageType.StrictRead, 0, 0, 0, 0, 4, 0, 0), /unknown strictRead\.read 4/)
    // a read served by an empty node name
    expectBadFrame(bytes(MessageType.StrictReadResult, 0, 0, 0, 0, 0, 0, 0, 0), /node is empty/)
    // watches: subscribe c with id presence 2; a change of d whose document presence is 2
    expectBadFrame(bytes(MessageType.StrictSubscribe, 0, 1, 0x63, 2), /strictSubscribe\.id presence is 2/)
    expectBadFrame(bytes(MessageType.StrictChanged, 0, 1, 0x64, 2, 1, 1), /strictChanged\.document presence is 2/)
  })

  it('[PR1] JSON values are validated: unknown tags, non-finite floats, duplicate keys, unsafe integers', () => {
    expectBadFrame(rawPut((e) => encoding.writeUint8(e, 9)), /unknown JSON tag 9/)
    expectBadFrame(rawPut((e) => (encoding.writeUint8(e, 5), encoding.writeFloat64(e, Number.NaN))), /non-finite/)
    expectBadFrame(rawPut((e) => (encoding.writeUint8(e, 5), encoding.writeFloat64(e, Number.NEGATIVE_INFINITY))), /non-finite/)
    expectBadFrame(rawPut((e) => (encoding.writeUint8(e, 4), encoding.writeVarUint(e, 0))), /below 1/)
    expectBadFrame(
      rawPut((e) => {
        encoding.writeUint8(e, 8)
        encoding.writeVarUint(e, 2)
        for (let i = 0; i < 2; i++) (encoding.writeVarString(e, '__proto__'), encoding.writeUint8(e, 0))
      }),
      /repeats the key "__proto__"/,
    )
    expectBadFrame(rawPut((e) => (encoding.writeUint8(e, 3), encoding.writeUint8Array(e, bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)))), /safe/)
    expectBadFrame(rawPut((e) => (encoding.writeUint8(e, 6), encoding.writeUint8Array(e, bytes(1, 0xff)))))
    // A float64 holding an integer is accepted (the encoder would have used tag 3).
    expect((decodeMessage(rawPut((e) => (encoding.writeUint8(e, 5), encoding.writeFloat64(e, 3)))) as StrictWriteMessage).request.op).toMatchObject({
      value: 3,
    })
  })
})

/** `rawPut` of null followed by raw bytes for the concern, timeout and request key fields. */
function rawPutWithTail(tail: number[]): Uint8Array {
  const full = rawPut((e) => encoding.writeUint8(e, 0))
  const out = new Uint8Array(full.length - 3 + tail.length)
  out.set(full.subarray(0, full.length - 3))
  out.set(tail, full.length - 3)
  return out
}

describe('strict codec: encoding refuses what it cannot represent', () => {
  const cyclic: { [k: string]: unknown } = { a: 1 }
  cyclic['self'] = cyclic
  it.each([
    ['undefined', undefined],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['a function', () => 1],
    ['a bigint', 1n],
    ['a symbol', Symbol('s')],
    ['a Uint8Array', bytes(1, 2)],
    ['a Map', new Map([['a', 1]])],
    ['a Date', new Date(0)],
    ['a class instance', new (class Point { x = 1 })()],
    ['a nested undefined', { a: [1, { b: undefined }] }],
    ['a nested NaN', [0, [Number.NaN]]],
    ['a sparse array', [1, , 3]],
    ['a lone surrogate', 'a\uD800'],
    ['a lone surrogate in a key', { '\uDC00': 1 }],
    ['a cyclic object', cyclic],
    [`JSON nested ${MAX_JSON_DEPTH + 1} deep`, nested(MAX_JSON_DEPTH + 1)],
  ] as [string, unknown][])('[PR1] a document value that is %s throws RangeError', (_name, value) => {
    expect(() => encodeMessage(putOf(value as JsonValue))).toThrow(RangeError)
    const doc = { value: value as JsonValue, version: 1 }
    expect(() =>
      encodeMessage({
        type: MessageType.StrictReadResult,
        requestId: 0,
        reply: { status: 'ok', document: doc, node: 'n', appliedLsn: 1, appliedEpoch: 1, lagMs: null, lagEntries: 0 },
      }),
    ).toThrow(RangeError)
    expect(() =>
      encodeMessage({
        type: MessageType.StrictWrite,
        requestId: 0,
        request: { op: { kind: 'patch', collection: 'c', id: 'd', fields: { f: value as JsonValue } }, concern: 'one', timeoutMs: null, requestKey: null },
      }),
    ).toThrow(RangeError)
  })

  it('[PR1] patch fields must be a plain object', () => {
    for (const fields of [null, [1], new Map(), 'x', nested(1)]) {
      expect(() =>
        encodeMessage({
          type: MessageType.StrictWrite,
          requestId: 0,
          request: { op: { kind: 'patch', collection: 'c', id: 'd', fields: fields as PatchOp['fields'] }, concern: 'one', timeoutMs: null, requestKey: null },
        }),
      ).toThrow(RangeError)
    }
  })

  const entry = (lsn: number, epoch = 1): Message => ({
    type: MessageType.Strict,
    message: { type: 'append', epoch: 1, from: 'p', prevLsn: 0, prevEpoch: 0, entries: [{ epoch, lsn, op: { kind: 'noop' } }], commitLsn: 0, round: 0, confirmedRound: 0 },
  })
  const appendWith = (patch: Partial<AppendMessage>): Message => ({
    type: MessageType.Strict,
    message: { type: 'append', epoch: 1, from: 'p', prevLsn: 0, prevEpoch: 0, entries: [], commitLsn: 0, round: 0, confirmedRound: 0, ...patch },
  })
  const ack = (token: LogPosition): Message => ({
    type: MessageType.StrictWriteResult,
    requestId: 1,
    reply: { status: 'acknowledged', token, requested: 'one', level: 'one', degraded: false },
  })
  const read = (patch: Partial<StrictReadRequest>): Message => ({
    type: MessageType.StrictRead,
    requestId: 1,
    request: { collection: 'c', id: 'd', after: null, read: 'primary', maxStalenessMs: null, timeoutMs: null, ...patch },
  })

  it.each([
    ['a negative entry LSN', entry(-1)],
    ['a fractional entry LSN', entry(1.5)],
    ['an entry LSN of 0', entry(0)],
    ['an NaN entry LSN', entry(Number.NaN)],
    ['an entry LSN beyond 2^53', entry(2 ** 53)],
    ['a negative entry epoch', entry(1, -1)],
    ['a negative commitLsn', appendWith({ commitLsn: -1 })],
    ['a fractional round', appendWith({ round: 1.5 })],
    ['a negative confirmedRound', appendWith({ confirmedRound: -1 })],
    ['a fractional prevLsn', appendWith({ prevLsn: 0.5 })],
    ['a string epoch', appendWith({ epoch: '1' as unknown as number })],
    ['an empty from', appendWith({ from: '' })],
    ['entries that are not an array', appendWith({ entries: 'x' as unknown as LogEntry[] })],
    ['a negative token LSN', ack({ epoch: 1, lsn: -2 })],
    ['a fractional token epoch', ack({ epoch: 1.1, lsn: 2 })],
    ['a negative requestId', { ...ack({ epoch: 1, lsn: 1 }), requestId: -1 } as Message],
    ['a fractional requestId', { ...ack({ epoch: 1, lsn: 1 }), requestId: 0.5 } as Message],
    ['an undefined nullable field', read({ after: undefined as unknown as null })],
    ['a negative timeout', read({ timeoutMs: -1 })],
    ['an infinite staleness bound', read({ maxStalenessMs: Number.POSITIVE_INFINITY })],
    ['a NaN timeout', read({ timeoutMs: Number.NaN })],
    ['an unknown read preference', read({ read: 'any' as StrictReadRequest['read'] })],
    ['an unknown strict message type', { type: MessageType.Strict, message: { type: 'ping', epoch: 1, from: 'a' } } as unknown as Message],
    ['a noop write', { type: MessageType.StrictWrite, requestId: 0, request: { op: { kind: 'noop' }, concern: 'one', timeoutMs: null } } as unknown as Message],
    [
      'a batch inside a batch',
      {
        type: MessageType.StrictWrite,
        requestId: 0,
        request: { op: { kind: 'batch', ops: [{ kind: 'batch', ops: [] }] }, concern: 'one', timeoutMs: null },
      } as unknown as Message,
    ],
    ['an unknown concern', { type: MessageType.StrictWrite, requestId: 0, request: { op: { kind: 'delete', collection: 'c', id: 'd' }, concern: 'quorum', timeoutMs: null } } as unknown as Message],
    [
      'a non-boolean exists',
      {
        type: MessageType.StrictWrite,
        requestId: 0,
        request: { op: { kind: 'delete', collection: 'c', id: 'd', precondition: { exists: 1 } }, concern: 'one', timeoutMs: null, requestKey: null },
      } as unknown as Message,
    ],
    [
      'a negative expectVersion',
      {
        type: MessageType.StrictWrite,
        requestId: 0,
        request: { op: { kind: 'delete', collection: 'c', id: 'd', precondition: { expectVersion: -1 } }, concern: 'one', timeoutMs: null, requestKey: null },
      },
    ],
    [
      'a snapshot document that is not a pair',
      {
        type: MessageType.Strict,
        message: { type: 'snapshot', epoch: 1, from: 'p', snapshot: { lsn: 1, epoch: 1, history: [], documents: [['k']] }, commitLsn: 1 },
      } as unknown as Message,
    ],
    [
      'an empty primaryHint',
      { type: MessageType.StrictWriteResult, requestId: 0, reply: { status: 'rejected', error: { code: 'NOT_PRIMARY', epoch: 1, primaryHint: '' } } },
    ],
    [
      'an unknown write error code',
      { type: MessageType.StrictWriteResult, requestId: 0, reply: { status: 'rejected', error: { code: 'NOPE', message: '' } } } as unknown as Message,
    ],
    [
      'an unknown read error code',
      { type: MessageType.StrictReadResult, requestId: 0, reply: { status: 'rejected', error: { code: 'NOPE', message: '' } } } as unknown as Message,
    ],
    ['a missing reply', { type: MessageType.StrictReadResult, requestId: 0 } as unknown as Message],
    [
      'an empty request key',
      { type: MessageType.StrictWrite, requestId: 0, request: { op: { kind: 'delete', collection: 'c', id: 'd' }, concern: 'one', timeoutMs: null, requestKey: '' } },
    ],
    [
      'an undefined request key (null means none)',
      { type: MessageType.StrictWrite, requestId: 0, request: { op: { kind: 'delete', collection: 'c', id: 'd' }, concern: 'one', timeoutMs: null } } as unknown as Message,
    ],
    [
      'an empty request key in a log entry',
      {
        type: MessageType.Strict,
        message: { type: 'append', epoch: 1, from: 'p', prevLsn: 0, prevEpoch: 0, entries: [{ epoch: 1, lsn: 1, op: { kind: 'noop' }, requestKey: '' }], commitLsn: 0 },
      },
    ],
    [
      'a snapshot request key that is not a pair',
      {
        type: MessageType.Strict,
        message: { type: 'snapshot', epoch: 1, from: 'p', snapshot: { lsn: 1, epoch: 1, history: [], documents: [], requestKeys: [['k']] }, commitLsn: 1 },
      } as unknown as Message,
    ],
    [
      'a non-boolean duplicate flag',
      {
        type: MessageType.StrictWriteResult,
        requestId: 0,
        reply: { status: 'acknowledged', token: { epoch: 1, lsn: 1 }, requested: 'one', level: 'one', degraded: false, duplicate: 'yes' },
      } as unknown as Message,
    ],
  ] as [string, Message][])('[PR1] %s throws RangeError', (_name, msg) => {
    expect(() => encodeMessage(msg)).toThrow(RangeError)
  })
})

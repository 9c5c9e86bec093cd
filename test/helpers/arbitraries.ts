/**
 * fast-check arbitraries for the core vocabulary and every wire message. Values generated here
 * are always encodable, and decode back to a deep-equal value (vectors carry no zero seqs).
 */
import fc from 'fast-check'
import {
  MessageType,
  PROTOCOL_VERSION,
  type AckMessage,
  type ReplicatedMessage,
  type ChangeBatchMessage,
  type DocumentStatesMessage,
  type StateCoveredMessage,
  type SubscribeMessage,
  type FetchedMessage,
  type SkippedMessage,
  type EphemeralMessage,
  type RejectedMessage,
  type ErrorMessage,
  type HandshakeAcceptMessage,
  type HandshakeMessage,
  type Message,
  type VersionVectorMessage,
} from '../../core/codec/messages.js'
import { DOC_TYPES, type Change, type DocumentState, type Hlc, type VersionVector } from '../../core/types.js'

/** Any well-formed string: ASCII most of the time, full Unicode (astral planes included) sometimes. */
export const arbString = (constraints: { minLength?: number; maxLength?: number } = {}): fc.Arbitrary<string> => {
  const c = { minLength: constraints.minLength ?? 0, maxLength: constraints.maxLength ?? 16 }
  return fc.oneof(
    { arbitrary: fc.string(c), weight: 3 },
    { arbitrary: fc.string({ ...c, unit: 'binary' }), weight: 1 },
  )
}

/** A non-empty id (node, origin, collection, doc id), sometimes from a small pool so ids repeat. */
export const arbId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('eu-1', 'us-1', 'ap-1', 'client-a', 'todos', 'doc-1'),
  arbString({ minLength: 1, maxLength: 12 }),
)

/** Small numbers mostly, with the edges of the safe-integer range mixed in. */
export const arbUint: fc.Arbitrary<number> = fc.oneof(
  fc.nat({ max: 1000 }),
  fc.maxSafeNat(),
  fc.constantFrom(0, 127, 128, 2 ** 32, Number.MAX_SAFE_INTEGER),
)

export const arbSeq: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 1, max: 1000 }),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
)

export const arbHlc: fc.Arbitrary<Hlc> = fc.record({
  wallMs: fc.oneof(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), arbUint),
  counter: arbUint,
  node: arbId,
})

export const arbPayload: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: 64 })

export const arbChange: fc.Arbitrary<Change> = fc.record({
  origin: arbId,
  seq: arbSeq,
  hlc: arbHlc,
  collection: arbId,
  docId: arbId,
  docType: fc.constantFrom(...DOC_TYPES),
  payload: arbPayload,
  author: fc.record({ origin: arbId, seq: arbSeq }),
}, { requiredKeys: ['origin', 'seq', 'hlc', 'collection', 'docId', 'docType', 'payload'] })

export const arbVersionVector: fc.Arbitrary<VersionVector> = fc
  .uniqueArray(fc.tuple(arbId, arbSeq), { selector: ([origin]) => origin, maxLength: 8 })
  .map((entries) => new Map(entries))

const arbProtocolVersion = fc.oneof(fc.constant(PROTOCOL_VERSION), arbUint)

export const arbHandshake: fc.Arbitrary<HandshakeMessage> = fc.record({
  type: fc.constant(MessageType.Handshake),
  protocolVersion: arbProtocolVersion,
  role: fc.constantFrom('client', 'peer'),
  identity: arbId,
  region: fc.oneof(fc.constant(''), arbString()),
  credentials: fc.oneof(fc.constant(''), arbString({ maxLength: 64 })),
})

export const arbHandshakeAccept: fc.Arbitrary<HandshakeAcceptMessage> = fc.record({
  type: fc.constant(MessageType.HandshakeAccept),
  protocolVersion: arbProtocolVersion,
  identity: arbId,
  region: fc.oneof(fc.constant(''), arbString()),
})

export const arbVersionVectorMessage: fc.Arbitrary<VersionVectorMessage> = fc.record({
  type: fc.constant(MessageType.VersionVector),
  vector: arbVersionVector,
})

export const arbChangeBatch: fc.Arbitrary<ChangeBatchMessage> = fc.record({
  type: fc.constant(MessageType.ChangeBatch),
  changes: fc.array(arbChange, { maxLength: 5 }),
})

export const arbAck: fc.Arbitrary<AckMessage> = fc.record({
  type: fc.constant(MessageType.Ack),
  node: arbId,
  durable: arbVersionVector,
})

export const arbReplicated: fc.Arbitrary<ReplicatedMessage> = fc.record({
  type: fc.constant(MessageType.Replicated),
  vector: arbVersionVector,
})

export const arbErrorMessage: fc.Arbitrary<ErrorMessage> = fc.record({
  type: fc.constant(MessageType.Error),
  code: fc.oneof(fc.constantFrom('BAD_FRAME', 'UNAUTHORIZED', 'TOO_LARGE'), arbString({ minLength: 1 })),
  message: arbString({ maxLength: 64 }),
})

export const arbDocumentState: fc.Arbitrary<DocumentState> = fc.record({
  collection: arbId,
  docId: arbId,
  docType: fc.constantFrom(...DOC_TYPES),
  state: arbPayload,
})

export const arbDocumentStates: fc.Arbitrary<DocumentStatesMessage> = fc.record({
  type: fc.constant(MessageType.DocumentStates),
  transfer: arbUint,
  documents: fc.array(arbDocumentState, { maxLength: 4 }),
})

export const arbStateCovered: fc.Arbitrary<StateCoveredMessage> = fc.record({
  type: fc.constant(MessageType.StateCovered),
  transfer: arbUint,
  documents: arbUint,
  vector: arbVersionVector,
  hlc: arbHlc,
  authors: fc.array(
    fc.record({
      author: arbId,
      accepted: fc.nat(1000).map((n) => n + 1000),
      replicated: fc.nat(1000),
      copies: fc.array(fc.record({ seq: arbSeq, at: fc.record({ origin: arbId, seq: arbSeq }) }), { maxLength: 3 }),
    }),
    { maxLength: 3 },
  ),
  refusals: fc.array(
    fc.record({ client: arbId, seq: arbSeq, collection: arbId, docId: arbId, at: fc.record({ origin: arbId, seq: arbSeq }) }),
    { maxLength: 3 },
  ),
})

const arbDocumentRef = fc.record({ collection: arbId, docId: arbId })

export const arbSubscribe: fc.Arbitrary<SubscribeMessage> = fc.record({
  type: fc.constant(MessageType.Subscribe),
  id: arbUint,
  collections: fc.array(arbId, { maxLength: 3 }),
  documents: fc.array(arbDocumentRef, { maxLength: 3 }),
  fetchCollections: fc.array(arbId, { maxLength: 3 }),
  fetchDocuments: fc.array(arbDocumentRef, { maxLength: 3 }),
})

export const arbFetched: fc.Arbitrary<FetchedMessage> = fc.record({
  type: fc.constant(MessageType.Fetched),
  fetch: arbUint,
  transfer: arbUint,
  documents: arbUint,
  hlc: arbHlc,
})

export const arbSkipped: fc.Arbitrary<SkippedMessage> = fc.record({
  type: fc.constant(MessageType.Skipped),
  ranges: fc.array(
    fc.record({ origin: arbId, from: arbSeq, length: fc.nat(1000) }).map(({ origin, from, length }) => ({ origin, from, to: Math.min(from + length, Number.MAX_SAFE_INTEGER) })),
    { maxLength: 4 },
  ),
  hlc: arbHlc,
})

export const arbEphemeral: fc.Arbitrary<EphemeralMessage> = fc.record({
  type: fc.constant(MessageType.Ephemeral),
  topic: arbString({ minLength: 1, maxLength: 16 }),
  collection: arbId,
  docId: arbId,
  payload: fc.uint8Array({ maxLength: 64 }),
})

export const arbRejected: fc.Arbitrary<RejectedMessage> = fc.record({
  type: fc.constant(MessageType.Rejected),
  seqs: fc.uniqueArray(arbSeq, { minLength: 1, maxLength: 4 }).map((seqs) => [...seqs].sort((a, b) => a - b)),
  collection: arbId,
  docId: arbId,
  code: fc.constantFrom('FORBIDDEN', 'INVALID_VALUE', 'TOO_LARGE'),
  message: arbString(),
  vector: arbVersionVector,
  hlc: arbHlc,
  state: fc.option(arbDocumentState, { nil: null }),
})

/** Every message type, equally likely. */
export const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  arbHandshake,
  arbHandshakeAccept,
  arbVersionVectorMessage,
  arbChangeBatch,
  arbAck,
  arbReplicated,
  arbErrorMessage,
  arbDocumentStates,
  arbStateCovered,
  arbSubscribe,
  arbFetched,
  arbSkipped,
  arbEphemeral,
  arbRejected,
)

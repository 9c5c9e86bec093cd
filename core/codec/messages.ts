import type { StrictMessage } from '../strict/messages.js'
import type { StrictReadReply, StrictReadRequest, StrictWriteReply, StrictWriteRequest } from '../strict/requests.js'
import type { LogPosition, StoredDocument } from '../strict/types.js'
import type { AuthorRecord, Change, DocumentState, Hlc, RefusalRecord, VersionVector } from '../types.js'

/**
 * Bumped on every incompatible wire change. A handshake with another version is refused with
 * close code `VERSION_MISMATCH` (see close-codes.ts).
 */
export const PROTOCOL_VERSION = 7

/** Who is on the other end of a connection. */
export type Role = 'client' | 'peer'

/** The numeric tag that starts every frame. Values are part of the wire format: never reuse one. */
export const MessageType = {
  Handshake: 1,
  HandshakeAccept: 2,
  VersionVector: 3,
  ChangeBatch: 4,
  Ack: 5,
  Error: 6,
  Replicated: 7,
  Strict: 8,
  StrictWrite: 9,
  StrictWriteResult: 10,
  StrictRead: 11,
  StrictReadResult: 12,
  StrictSubscribe: 13,
  StrictUnsubscribe: 14,
  StrictChanged: 15,
  StrictSynced: 16,
  DocumentStates: 17,
  StateCovered: 18,
  Subscribe: 19,
  Fetched: 20,
  Skipped: 21,
  Ephemeral: 22,
  Rejected: 23,
} as const
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

/** First frame on every connection, in both directions' first flight from the dialler. */
export interface HandshakeMessage {
  readonly type: typeof MessageType.Handshake
  readonly protocolVersion: number
  readonly role: Role
  /** nodeId for a peer, clientId for a client. */
  readonly identity: string
  /** Region of a peer node; empty for clients. */
  readonly region: string
  /** Opaque credentials (a token); empty when none. */
  readonly credentials: string
}

/** The listener's answer to an accepted handshake. */
export interface HandshakeAcceptMessage {
  readonly type: typeof MessageType.HandshakeAccept
  readonly protocolVersion: number
  readonly identity: string
  readonly region: string
}

/**
 * "This is what I hold". The receiver answers with exactly the changes the sender lacks.
 * Sent on connect and periodically as anti-entropy.
 */
export interface VersionVectorMessage {
  readonly type: typeof MessageType.VersionVector
  readonly vector: VersionVector
}

/** Changes, in seq order per origin. */
export interface ChangeBatchMessage {
  readonly type: typeof MessageType.ChangeBatch
  readonly changes: readonly Change[]
}

/**
 * "These changes are durable at `node`": what a writer waits on for acknowledgement levels.
 * Regional nodes pass on each other's acks, so every node learns every region's durable vector
 * whatever the topology.
 */
export interface AckMessage {
  readonly type: typeof MessageType.Ack
  /** The node (or client) whose durable state this is; not necessarily the sender. */
  readonly node: string
  readonly durable: VersionVector
}

/** Server to client: "every region holds these changes durably". */
export interface ReplicatedMessage {
  readonly type: typeof MessageType.Replicated
  readonly vector: VersionVector
}

/** A typed error before close, or a rejected request. `code` is a stable string (e.g. 'BAD_FRAME'). */
export interface ErrorMessage {
  readonly type: typeof MessageType.Error
  readonly code: string
  readonly message: string
}

/** Peer to peer: one strict replication message (append, snapshot, append-reply, election traffic). */
export interface StrictPeerMessage {
  readonly type: typeof MessageType.Strict
  readonly message: StrictMessage
}

/**
 * A strict write, from a client (or from a server forwarding it to the primary). `requestId` is
 * chosen by the sender and echoed in the `StrictWriteResult`.
 */
export interface StrictWriteMessage {
  readonly type: typeof MessageType.StrictWrite
  readonly requestId: number
  readonly request: StrictWriteRequest
}

/** The final answer to the `StrictWrite` with the same `requestId`. */
export interface StrictWriteResultMessage {
  readonly type: typeof MessageType.StrictWriteResult
  readonly requestId: number
  readonly reply: StrictWriteReply
}

/** A strict read; answered by the `StrictReadResult` with the same `requestId`. */
export interface StrictReadMessage {
  readonly type: typeof MessageType.StrictRead
  readonly requestId: number
  readonly request: StrictReadRequest
}

export interface StrictReadResultMessage {
  readonly type: typeof MessageType.StrictReadResult
  readonly requestId: number
  readonly reply: StrictReadReply
}

/**
 * Client to server: "tell me about changes to `collection/id`" (`id` null: every document of the
 * collection). The server answers with the current state as `StrictChanged` frames, then one per
 * applied change; a refusal is a `StrictReadResult` rejected with the same `requestId`.
 */
export interface StrictSubscribeMessage {
  readonly type: typeof MessageType.StrictSubscribe
  /** Chosen by the client; names the subscription in `StrictChanged` and `StrictUnsubscribe`. */
  readonly requestId: number
  readonly collection: string
  readonly id: string | null
}

/** Client to server: ends the subscription opened by the `StrictSubscribe` with this `requestId`. */
export interface StrictUnsubscribeMessage {
  readonly type: typeof MessageType.StrictUnsubscribe
  readonly requestId: number
}

/**
 * Server to client: document `id` of a subscription as applied on the server at `position`
 * (`document` null: deleted, or absent). Positions on one connection never go backwards.
 */
export interface StrictChangedMessage {
  readonly type: typeof MessageType.StrictChanged
  /** The subscription's `requestId`. */
  readonly requestId: number
  readonly id: string
  readonly document: StoredDocument | null
  readonly position: LogPosition
}

/**
 * Server to client: every document the whole-collection subscription `requestId` holds at `position` has
 * now been sent (after the initial state, and again after a replica installs a snapshot). A document
 * the client knew that was not among the `StrictChanged` frames at that `position` no longer exists:
 * this is how deletions missed while offline, or inside a snapshot, are learned.
 */
export interface StrictSyncedMessage {
  readonly type: typeof MessageType.StrictSynced
  readonly requestId: number
  readonly position: LogPosition
}

/**
 * Part of a state transfer [SG3]: documents as merged state, sent instead of changes the sender no
 * longer holds. The receiver merges them; its version vector moves only with the `StateCovered`
 * that ends the transfer, so a transfer cut short leaves nothing claimed that was not received.
 */
export interface DocumentStatesMessage {
  readonly type: typeof MessageType.DocumentStates
  /** Numbers the sender's transfers on this link, so parts of two transfers are never mixed up. */
  readonly transfer: number
  readonly documents: readonly DocumentState[]
}

/**
 * Ends a state transfer: its `documents` documents cover `vector` (every change up to it, per origin);
 * `hlc` is the sender's clock, past every timestamp in them. Changes after `vector` follow as
 * `ChangeBatch`es.
 */
export interface StateCoveredMessage {
  readonly type: typeof MessageType.StateCovered
  readonly transfer: number
  /** How many documents the transfer sent: a receiver that merged fewer (a part was lost) ignores it. */
  readonly documents: number
  readonly vector: VersionVector
  readonly hlc: Hlc
  /** The sender's author table at the cut (docs/design.md §3, "Authors"): who wrote what it covers. */
  readonly authors: readonly AuthorRecord[]
  /** Clients' refused changes the sender still has to tell them of; sent to member peers only. */
  readonly refusals: readonly RefusalRecord[]
}

/** A document named by collection and id. */
export interface DocumentRef {
  readonly collection: string
  readonly docId: string
}

/**
 * What a client syncs (docs/design.md §3, "Partial replication"): whole collections and single
 * documents. Replaces the client's previous interest on that link; a client that never sends one is
 * sent everything. `id` grows with every Subscribe a client sends: a region ignores one older than the
 * last it took. Non-empty `fetchCollections`/`fetchDocuments` (opened since the client's position last
 * covered them) ask for their current state; `Fetched` with the same id answers.
 */
export interface SubscribeMessage {
  readonly type: typeof MessageType.Subscribe
  readonly id: number
  readonly collections: readonly string[]
  readonly documents: readonly DocumentRef[]
  readonly fetchCollections: readonly string[]
  readonly fetchDocuments: readonly DocumentRef[]
}

/**
 * Ends the answer to a `Subscribe`'s fetch: the `DocumentStates` frames of transfer `transfer` that
 * came before it held `documents` documents, each at a state that covers at least the client's
 * position when it asked.
 */
export interface FetchedMessage {
  readonly type: typeof MessageType.Fetched
  /** The `id` of the Subscribe it answers. */
  readonly fetch: number
  readonly transfer: number
  readonly documents: number
  /** The sender's clock at the cut, past every timestamp in those documents. */
  readonly hlc: Hlc
}

/** A run of an origin's seqs none of which the client subscribes to: its position moves over them. */
export interface SkippedRange {
  readonly origin: string
  readonly from: number
  readonly to: number
}

/** Positions a region moved a client over without sending it anything (see `SubscribeMessage`). */
export interface SkippedMessage {
  readonly type: typeof MessageType.Skipped
  readonly ranges: readonly SkippedRange[]
  /** The newest timestamp among the skipped changes: the client's clock passes it, as if it had applied them [HLC2]. */
  readonly hlc: Hlc
}

/**
 * Region → region: state relayed, never logged (a Yjs room's awareness). Each region relays to its peers
 * only what its own clients said, so in a full mesh every region hears it once.
 */
export interface EphemeralMessage {
  readonly type: typeof MessageType.Ephemeral
  /** What the payload is, e.g. `yjs-awareness`. */
  readonly topic: string
  readonly collection: string
  readonly docId: string
  readonly payload: Uint8Array
}

/**
 * Region → client: the client's own changes `seqs` were refused (docs/security.md, "Refused writes"): a
 * document it may not write, a value the region does not store, a document grown past its limit. The
 * region logged an empty change in its place (so the client's seqs stay dense everywhere) and applied
 * nothing of it. `state` is the region's copy of the document when it refused (absent: it holds none),
 * covering `vector`; the client replaces its own copy with it and re-applies what came after.
 */
export interface RejectedMessage {
  readonly type: typeof MessageType.Rejected
  /**
   * The client's refused seqs, ascending: every one of this document refused for the same reason that
   * the client's stream passed at once, so a burst of refused writes costs one copy of the document.
   */
  readonly seqs: readonly number[]
  readonly collection: string
  readonly docId: string
  /** `FORBIDDEN`, `INVALID_VALUE`, `TOO_LARGE` or `REFUSED`. */
  readonly code: string
  readonly message: string
  readonly vector: VersionVector
  /** The region's clock then, past every timestamp in `state`: the client's clock passes it [HLC2]. */
  readonly hlc: Hlc
  readonly state: DocumentState | null
}

export type Message =
  | HandshakeMessage
  | HandshakeAcceptMessage
  | VersionVectorMessage
  | ChangeBatchMessage
  | AckMessage
  | ErrorMessage
  | ReplicatedMessage
  | StrictPeerMessage
  | StrictWriteMessage
  | StrictWriteResultMessage
  | StrictReadMessage
  | StrictReadResultMessage
  | StrictSubscribeMessage
  | StrictUnsubscribeMessage
  | StrictChangedMessage
  | StrictSyncedMessage
  | DocumentStatesMessage
  | StateCoveredMessage
  | SubscribeMessage
  | FetchedMessage
  | SkippedMessage
  | EphemeralMessage
  | RejectedMessage

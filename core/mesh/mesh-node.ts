import { compareHlc } from '../clock/hlc.js'
import { vvDominates, vvMerge } from '../clock/version-vector.js'
import { authoredChange, encodeChange } from '../codec/change.js'
import type { StoredDocumentState } from '../codec/document-state.js'
import {
  MessageType,
  type FetchedMessage,
  type Message,
  type RejectedMessage,
  type SkippedRange,
  type StateCoveredMessage,
  type SubscribeMessage,
} from '../codec/messages.js'
import type { ApplyResult, DocumentReplica } from '../crdt/document-type.js'
import type { AuthorRecord, Change, ChangeId, DocType, DocumentState, Hlc, RefusalRecord, VersionVector } from '../types.js'
import { AuthorTable } from './author-table.js'
import { ChangeLog } from './change-log.js'
import { isVoid, PendingRefusals, REFUSED_EARLIER, voidOf, type ChangeRefusal } from './refusal.js'

/** The clock a mesh node stamps its writes with; `HlcClock` from core/clock in production. */
export interface MeshClock {
  now(): Hlc
  /** Observe a remote timestamp; returns false when it had to be clamped [HLC3]. */
  receive(remote: Hlc): boolean
  /** Move past an own timestamp from before a restart, without the skew bound. */
  restore(own: Hlc): void
  peek(): Hlc
}

export interface ReplicaContext {
  readonly collection: string
  readonly docId: string
  readonly localOrigin: string
  readonly random: () => number
}

export type ReplicaFactory = (docType: DocType, context: ReplicaContext) => DocumentReplica

export interface MeshNodeOptions {
  /** This writer's origin id (a node id or a client id). */
  readonly id: string
  readonly clock: MeshClock
  readonly random: () => number
  readonly createReplica: ReplicaFactory
  /** Hands a message to the transport. The mesh never touches a socket. */
  readonly send: (peer: string, message: Message) => void
  /** Called once for every change that entered the log (local or remote), for the shell to persist. */
  readonly onAppend?: (change: Change) => void
  /**
   * Called with a local write's change before it enters the log; throwing refuses the write and
   * leaves nothing behind (the shell checks that the change can be encoded, so nothing in the log
   * can fail later, when it is sent or persisted).
   */
  readonly beforeCommit?: (change: Change) => void
  /** Called after a change was applied to its document. */
  readonly onApplied?: (change: Change, result: ApplyResult) => void
  /** Called when a change's payload could not be applied by its document type (it stays logged). */
  readonly onRejected?: (change: Change, error: unknown) => void
  /** Called after a state transfer merged a document's state into its replica. */
  readonly onStateMerged?: (collection: string, docId: string, docType: DocType, changed: boolean) => void
  /**
   * Called when a state transfer completed: the documents now cover `vector`, although the log never
   * held those changes. They are not durable here until the shell has stored the documents, so it must
   * store them before it next reports a vector durable that includes them (docs/design.md §6).
   */
  readonly onStateCovered?: (vector: VersionVector) => void
  /**
   * Cluster members whose acks are passed on between members, so every member learns every member's
   * durable vector whatever the topology (a chain included). Clients are never members. A member
   * logs what a non-member peer (a client) writes under its own origin, with the client as author;
   * a non-member sends a member only its own changes (docs/design.md §3, "Authors").
   */
  readonly ackGossipMembers?: ReadonlySet<string>
  /**
   * True for a client: it sends its peers (regions) only its own changes, which they log with it as
   * author; what it learnt from one region, the others get from their peers. Default false.
   */
  readonly ownChangesOnly?: boolean
  /**
   * On a client: what it syncs, sent to a region on every connect before its vector, and again on
   * `resubscribe()` (docs/design.md §3, "Partial replication"). Null or absent: everything.
   */
  readonly subscription?: (peer: string, connecting: boolean) => SubscribeMessage | null
  /**
   * On a region: whether a client may be sent a document's changes and state (docs/security.md,
   * "Permissions"). A document it may not read is treated like one it does not subscribe to: its changes
   * move the client's position as `Skipped`, and state transfers and fetches leave it out. Absent: all.
   */
  readonly readable?: (peer: string, collection: string, docId: string) => boolean
  /**
   * On a region: whether a client's own change may be logged (docs/security.md, "Refused writes"),
   * asked once per change in the client's seq order with the region's replica of its document. A
   * refusal logs a void change in its place (refusal.ts) and answers the client `Rejected`. Absent: all.
   */
  readonly admitClientChange?: (client: string, change: Change, document: DocumentReplica | undefined) => ChangeRefusal | null
  /**
   * On a client: a region refused own changes `seqs` (`message`). The mesh already made their log
   * entries void and replaced the document with the region's copy plus what came after; `voided` are the
   * entries it made void now, for the shell to persist in place of the originals (those void already, a
   * refusal told again, are not in it).
   */
  readonly onChangeRefused?: (message: RejectedMessage, voided: readonly Change[]) => void
  /** On a client: the document should be fetched from the region again (see `receiveRejected`). */
  readonly onRefetch?: (collection: string, docId: string) => void
  /** On a client: the answer to a `Subscribe`'s fetch arrived; `complete` when every document of it merged. */
  readonly onFetched?: (fetch: number, complete: boolean) => void
  /** Bound of the author table (see AuthorTable). Default 100 000. */
  readonly maxAuthors?: number
  /**
   * When true, news is not streamed from inside `receive`/`markDurable`: the shell calls
   * `propagate()` itself, typically once per event-loop turn, so changes that arrived in many small
   * frames leave in few large ones [PF1]. Default false (stream at once; the simulator and tests).
   */
  readonly deferPropagation?: boolean
  /** Upper bound of changes per ChangeBatch frame. Default 256. */
  readonly maxBatchChanges?: number
  /**
   * [limits] Upper bound of encoded change bytes per ChangeBatch frame (a single larger change goes
   * alone), so a batch fits the receiver's frame limit (a region's `limits.maxClientFrameBytes`). Default 1 MiB.
   */
  readonly maxBatchBytes?: number
  /** [PF4] Upper bound of out-of-order changes held while waiting for a gap to fill. Default 10 000. */
  readonly maxBufferedChanges?: number
  /**
   * [limits] On a region: encoded bytes of one client's own changes held out of order (its gap buffer);
   * past it a change is dropped like an overflow of `maxBufferedChanges`. Default 4 MiB; Infinity: none.
   */
  readonly maxClientGapBytes?: number
  /** On a region: a client's out-of-order change was dropped by `maxClientGapBytes` (for /metrics). */
  readonly onClientGapFull?: (client: string) => void
  /** Upper bound of document state bytes per DocumentStates frame of a state transfer. Default 256 KiB. */
  readonly maxTransferFrameBytes?: number
  /**
   * False for a client: it never sends state transfers (regions accept them only from regions). A
   * client compacts only what every region holds, so a region behind it gets those changes from
   * its peers; until then the client leaves those origins out. Default true.
   */
  readonly sendsStateTransfers?: boolean
}

export interface MeshStats {
  /** Changes applied to documents (each at most once [CV3]). */
  applied: number
  /** Changes that arrived again and were ignored [CV3]. */
  duplicates: number
  /** Changes that arrived before their predecessor and waited in the gap buffer. */
  buffered: number
  /** Out-of-order changes dropped because the gap buffer was full; anti-entropy fetches them again. */
  bufferOverflows: number
  /** Changes whose document exists with another type; logged and forwarded, not applied. */
  typeMismatches: number
  /** Changes whose payload the document type refused (malformed); logged and forwarded, not applied. */
  rejectedPayloads: number
  conflicts: number
  sentChanges: number
  receivedChanges: number
  /** Remote timestamps that were beyond the skew bound [HLC3]. */
  clampedTimestamps: number
  /** State transfers sent to peers that were behind what the log still held [SG3]. */
  stateTransfersSent: number
  /** State transfers received and completed. */
  stateTransfersReceived: number
  /** Changes dropped from the log by compaction; their effect lives on in the documents. */
  prunedChanges: number
  /** Changes a client sent that were not its own (ignored: a client speaks only for itself). */
  foreignChanges: number
  /** On a region: clients' changes refused and logged void; on a client: refusals of its own it was told. */
  refusedChanges: number
}

/** Every counter at 0. */
export function emptyMeshStats(): MeshStats {
  return {
    applied: 0,
    duplicates: 0,
    buffered: 0,
    bufferOverflows: 0,
    typeMismatches: 0,
    rejectedPayloads: 0,
    conflicts: 0,
    sentChanges: 0,
    receivedChanges: 0,
    clampedTimestamps: 0,
    stateTransfersSent: 0,
    stateTransfersReceived: 0,
    prunedChanges: 0,
    foreignChanges: 0,
    refusedChanges: 0,
  }
}

/** What a document holds that recovery must know even without the log (see StoredDocumentState). */
interface DocumentMarks {
  ownSeq: number
  ownHlc: Hlc | null
  remoteHlc: Hlc | null
}

/** A state transfer cut at `vector`, waiting until this node's own changes in it are durable [CV4]. */
interface PendingTransfer {
  readonly vector: VersionVector
  readonly documents: readonly DocumentState[]
  readonly hlc: Hlc
  readonly authors: readonly AuthorRecord[]
  readonly refusals: readonly RefusalRecord[]
}

interface PeerState {
  /** False until the peer told us its version vector: until then we cannot know what it lacks. */
  ready: boolean
  /** What we believe the peer holds: its last announced vector plus what we sent since. */
  known: Map<string, number>
  /**
   * Log size when we last re-announced our vector because of a gap: until the log grows, the sender
   * is already resending from there, and announcing again would only make it resend twice.
   */
  gapAnnouncedAtSize: number
  /** A state transfer to this peer waiting for durability; nothing else is streamed to it meanwhile. */
  transfer: PendingTransfer | null
  /** The newest state transfer from this peer whose `StateCovered` has not arrived yet. */
  incoming: IncomingTransfer | null
  /** A client's own changes that arrived before their predecessor (on a member only). */
  readonly clientGap: Map<number, Change>
  /** Encoded bytes of `clientGap`, bounded by `maxClientGapBytes`. */
  clientGapBytes: number
  /** On a member, what this client syncs (null: everything, as for a peer). */
  interest: Interest | null
  /** On a member, a client's fetch waiting to be cut or released. */
  fetch: PendingFetch | null
  /** On a member, the id of the last Subscribe taken from this client (older ones arrive late: ignored). */
  subscribed: number
  /** This connection's number: a refusal told on one that ended may not have arrived (PendingRefusals). */
  readonly session: number
}

/** What a client syncs: whole collections and single documents (by `documentKey`). */
interface Interest {
  readonly collections: ReadonlySet<string>
  readonly documents: ReadonlySet<string>
}

/** A client asked for the state of what it opened (see `SubscribeMessage`). */
interface PendingFetch {
  readonly id: number
  readonly wanted: Interest
  /** Cut once this node holds the client's position; released once own changes in it are durable. */
  cut: { readonly vector: VersionVector; readonly documents: readonly DocumentState[]; readonly hlc: Hlc } | null
  /**
   * A newer fetch that arrived while this one was cut and waiting: taken up once this one is sent, so
   * a client cannot make the node encode documents again and again without being charged for them.
   */
  next: { readonly id: number; readonly wanted: Interest } | null
}

/** An entry of the gap buffer: a change, or a run of seqs a region skipped (see `SkippedRange`). */
type GapEntry = Change | SkippedRange

const isSkip = (entry: GapEntry): entry is SkippedRange => !('payload' in entry)

const matches = (interest: Interest, collection: string, key: string): boolean =>
  interest.collections.has(collection) || interest.documents.has(key)

/** The parts of one state transfer received so far. */
interface IncomingTransfer {
  readonly id: number
  readonly merged: Set<string>
  /** A document could not be read: the transfer's `StateCovered` must not be believed. */
  failed: boolean
}

export const DEFAULT_MAX_BATCH_CHANGES = 256
/** Refusals told again per announcement of a client (the rest at its next ones). */
export const MAX_REFUSALS_PER_ANNOUNCEMENT = 16

/** An eighth of a region's default client frame limit (8 MiB): room for one larger change sent alone. */
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024
export const DEFAULT_MAX_CLIENT_GAP_BYTES = 4 * 1024 * 1024
export const DEFAULT_MAX_BUFFERED_CHANGES = 10_000
export const DEFAULT_MAX_TRANSFER_FRAME_BYTES = 256 * 1024

const maxHlc = (a: Hlc | null, b: Hlc): Hlc => (a === null || compareHlc(b, a) > 0 ? b : a)

export function documentKey(collection: string, docId: string): string {
  return `${collection}\u0000${docId}`
}

/** The `[collection, docId]` of a `documentKey` (collection names hold no NUL). */
export function splitDocumentKey(key: string): [string, string] {
  const at = key.indexOf('\u0000')
  return [key.slice(0, at), key.slice(at + 1)]
}

/**
 * The crdt anti-entropy state machine of one replica (docs/design.md §3). Peers exchange version vectors on
 * connect; each side then sends exactly what the other lacks and keeps streaming what it learns —
 * from local writes and from any peer — to every other peer, so chains and stars converge too.
 * Each origin's changes are applied in seq order; early ones wait in a bounded gap buffer and
 * duplicates are ignored.
 *
 * @example
 * const node = new MeshNode({ id: 'eu-1', clock, random, createReplica, send: (peer, msg) => socket(peer).send(encodeMessage(msg)) })
 * node.connect('us-1')                       // sends our version vector
 * node.receive('us-1', decodeMessage(bytes)) // answers, applies, forwards
 */
export class MeshNode {
  readonly id: string
  readonly stats: MeshStats = emptyMeshStats()
  /** Who wrote the changes this node logged for clients, and how far each is durable and replicated. */
  readonly authors: AuthorTable
  /** Refusals their clients may not know of yet (refusal.ts; `tellRefused`). */
  private readonly refusals = new PendingRefusals()
  /** Connections made so far (`PeerState.session`). */
  private sessions = 0
  protected readonly log = new ChangeLog()
  protected readonly options: MeshNodeOptions
  private readonly documents = new Map<string, DocumentReplica>()
  private readonly marks = new Map<string, DocumentMarks>()
  /** Documents changed since the shell last took them (see `takeChangedDocuments`). */
  private readonly changedDocuments = new Set<string>()
  private readonly gaps = new Map<string, Map<number, GapEntry>>()
  private bufferedCount = 0
  private readonly peers = new Map<string, PeerState>()
  private readonly durable = new Map<string, number>()
  /** What other nodes (and clients) reported durable, directly or passed on by members. */
  private readonly durableByNode = new Map<string, Map<string, number>>()
  /** Origins that gained changes since the last propagation; keeps forwarding proportional to news. */
  private readonly dirtyOrigins = new Set<string>()
  /** True while `restore` replays storage: those changes must not be persisted again. */
  private restoring = false
  private readonly maxBatchChanges: number
  private readonly maxBatchBytes: number
  private readonly maxBufferedChanges: number
  private readonly maxClientGapBytes: number
  private readonly maxTransferFrameBytes: number
  /** The newest own seq a stored document holds; the next own write numbers past it (restoreDocuments). */
  private ownFloor = 0
  /** True for a cluster member: it logs its clients' changes under its own origin. */
  private readonly isMember: boolean
  /** Numbers this node's state transfers and fetch answers, so a receiver never mixes up their parts. */
  private transferIds = 0

  constructor(options: MeshNodeOptions) {
    if (!options.id) throw new Error('MeshNode: id must be a non-empty string')
    this.id = options.id
    this.options = options
    this.maxBatchChanges = options.maxBatchChanges ?? DEFAULT_MAX_BATCH_CHANGES
    this.maxBufferedChanges = options.maxBufferedChanges ?? DEFAULT_MAX_BUFFERED_CHANGES
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES
    this.maxClientGapBytes = options.maxClientGapBytes ?? DEFAULT_MAX_CLIENT_GAP_BYTES
    this.maxTransferFrameBytes = options.maxTransferFrameBytes ?? DEFAULT_MAX_TRANSFER_FRAME_BYTES
    this.authors = new AuthorTable(options.maxAuthors)
    this.isMember = options.ackGossipMembers?.has(options.id) ?? false
    if (!(this.maxBatchChanges >= 1)) throw new Error('MeshNode: maxBatchChanges must be >= 1')
  }

  /** What this replica holds (contiguous per origin). Live view: do not mutate. */
  get vector(): VersionVector {
    return this.log.vector
  }

  /**
   * Whether `peer` is known to hold a change this replica lacks (it announced it, or sent one that is
   * waiting for a gap to fill). False for an unknown peer. What the peer wrote and has not sent yet is
   * not known here: the answer is late by at most that.
   */
  peerAhead(peer: string): boolean {
    const state = this.peers.get(peer)
    if (state === undefined) return false
    for (const [origin, seq] of state.known) if (seq > (this.log.vector.get(origin) ?? 0)) return true
    return false
  }

  /** What this replica holds durably, as reported by the shell through `markDurable`. */
  get durableVector(): VersionVector {
    return this.durable
  }

  /** Every change still held in the log (the tail above each origin's base), in origin, seq order. */
  changes(): IterableIterator<Change> {
    return this.log.all()
  }

  /** How many changes the log holds: the tail, not the history (see `compact`). */
  get changeCount(): number {
    return this.log.size
  }

  /** True while changes or skipped runs wait in the gap buffer for a predecessor. */
  get hasBuffered(): boolean {
    return this.bufferedCount > 0
  }

  /** How many documents this replica has. */
  get documentCount(): number {
    return this.documents.size
  }

  /** The seq of `origin` below which changes are held only as document state. */
  logBase(origin: string): number {
    return this.log.base(origin)
  }

  /** The held change `(origin, seq)`, or undefined when it is not held (yet, or any more). */
  changeAt(origin: string, seq: number): Change | undefined {
    return this.log.get(origin, seq)
  }

  /** The replica of a document if one exists; unlike `replica`, never creates one (for readers). */
  existingReplica(collection: string, docId: string): DocumentReplica | undefined {
    return this.documents.get(documentKey(collection, docId))
  }

  /** Every document held, as `[collection, docId]` (the divergence digest rescans them after a restart). */
  *documentIds(): IterableIterator<[string, string]> {
    for (const key of this.documents.keys()) yield splitDocumentKey(key)
  }

  /** The replica of a document, created empty on first use. */
  replica(collection: string, docId: string, docType: DocType): DocumentReplica {
    return this.replicaAt(documentKey(collection, docId), collection, docId, docType)
  }

  private replicaAt(key: string, collection: string, docId: string, docType: DocType): DocumentReplica {
    let replica = this.documents.get(key)
    if (!replica) {
      replica = this.options.createReplica(docType, {
        collection,
        docId,
        localOrigin: this.id,
        random: this.options.random,
      })
      this.documents.set(key, replica)
    }
    return replica
  }

  /** Every document's current view, keyed by `documentKey`. */
  views(): Map<string, unknown> {
    const out = new Map<string, unknown>()
    for (const key of [...this.documents.keys()].sort()) out.set(key, this.documents.get(key)?.view())
    return out
  }

  /**
   * Records a local write. The payload is built by the document type's writer API against
   * `replica(...)`. The change is applied at once but reaches peers only after `markDurable` covers
   * it: a change that a crash could still erase must not leave the node, or its seq would be reused.
   */
  commit(collection: string, docId: string, docType: DocType, payload: Uint8Array, stamp?: Hlc): Change {
    this.claimOwnFloor()
    // A stamp given by the caller (a write another tab of this client made, docs/client.md "Tabs"):
    // the clock moves past it, so that what this node writes later is newer.
    if (stamp !== undefined && !this.options.clock.receive(stamp)) this.stats.clampedTimestamps += 1
    const change: Change = {
      origin: this.id,
      seq: this.log.head(this.id) + 1,
      hlc: stamp ?? this.options.clock.now(),
      collection,
      docId,
      docType,
      payload,
    }
    this.options.beforeCommit?.(change)
    this.applyInOrder(change)
    return change
  }

  /** The shell made everything up to `vector` durable: release own changes and acknowledge. */
  markDurable(vector: VersionVector): void {
    const before = this.durable.get(this.id) ?? 0
    for (const [origin, seq] of vector) if (seq > (this.durable.get(origin) ?? 0)) this.durable.set(origin, seq)
    const released = (this.durable.get(this.id) ?? 0) > before
    if (released) {
      this.dirtyOrigins.add(this.id)
      for (const [peer, state] of this.peers) {
        if (state.transfer) this.releaseTransfer(peer, state)
        if (state.fetch) this.advanceFetch(peer, state)
      }
    }
    // Own changes this call released leave now, even when propagation is deferred: the call is one
    // commit round's worth (already a batch), and they must reach peers before the Ack that follows,
    // or a peer handles the Ack (gossip, client acks) before the changes its clients wait for.
    if (!this.options.deferPropagation || released) this.propagate()
    const ack: Message = { type: MessageType.Ack, node: this.id, durable: new Map(this.durable) }
    for (const [peer, state] of this.peers) {
      if (!state.ready) continue
      this.options.send(peer, this.isClient(peer) ? this.authorAck(peer) : ack)
    }
  }

  /**
   * A client learns only its own entry: how far its writes are durable here, whichever region logged
   * them. The whole vector would cost every client the number of regions and writers, per commit.
   */
  private authorAck(client: string): Message {
    return { type: MessageType.Ack, node: this.id, durable: new Map([[client, this.authorDurable(client)]]) }
  }

  /** How far `client`'s own writes are durable here (older versions logged them under its origin). */
  authorDurable(client: string): number {
    return Math.max(this.authors.durableUpTo(client, this.durable), this.durable.get(client) ?? 0)
  }

  /**
   * Clients' refused changes this node still has to tell them of: a snapshot round stores them beside
   * the author table and hands them back to `restoreDocuments`, so a void entry compacted out of the
   * log is not forgotten at a restart (docs/security.md, "Refused writes").
   */
  refusalRecords(): RefusalRecord[] {
    return this.refusals.records()
  }

  /** True for a non-member peer of a member: a client, whose changes this node logs as their author. */
  isClient(peer: string): boolean {
    return this.isMember && !(this.options.ackGossipMembers as ReadonlySet<string>).has(peer)
  }

  /** The highest seq of `client` this node holds: learnt as its author, or logged under its origin by older versions. */
  acceptedFrom(client: string): number {
    return Math.max(this.authors.accepted(client), this.log.head(client))
  }

  /**
   * What we tell `peer` we hold: our vector. To a client, a member adds the client's own entry: the
   * highest of its seqs held here as author, so it resends only what is above. A client's own entry
   * is instead its log's base: the own changes it dropped because every region holds them, so a
   * region that forgot them does not wait for them (see `receive`).
   */
  private announcement(peer: string): Message {
    const vector = new Map(this.log.vector)
    if (this.isClient(peer)) {
      const accepted = this.acceptedFrom(peer)
      if (accepted > 0) vector.set(peer, accepted)
    } else if (this.options.ownChangesOnly) {
      const base = this.log.base(this.id)
      if (base > 0) vector.set(this.id, base)
      else vector.delete(this.id)
    }
    return { type: MessageType.VersionVector, vector }
  }

  /**
   * Reloads stored document states after a (re)start, before `restore` replays the log's tail and
   * before any peer connects: the documents cover `vector` (what the last finished snapshot round
   * covered; a document stored by a later, unfinished round may hold more, which replay re-applies
   * harmlessly). An own change found in a document but lost from the log still used up its seq: the
   * next own write numbers past it, so a seq is never reused [CV4]. The clock moves past every stored
   * timestamp [HLC1]. Throws on a state its document type cannot read (storage corruption).
   */
  restoreDocuments(documents: Iterable<StoredDocumentState>, vector: VersionVector, authors: readonly AuthorRecord[] = [], clock?: Hlc, refusals: readonly RefusalRecord[] = []): void {
    this.authors.merge(authors)
    if (this.isMember) this.refusals.merge(refusals)
    // The clock as it was when `vector` was taken (`clockHighWater`): it covers timestamps no stored
    // document carries, those of the runs a client's region skipped [HLC2].
    if (clock !== undefined) this.options.clock.restore(clock)
    for (const stored of documents) {
      const { collection, docId, docType, state } = stored.document
      const replica = this.replica(collection, docId, docType)
      if (replica.docType !== docType) throw new Error(`MeshNode: stored ${collection}/${docId} is ${docType} and ${replica.docType}`)
      replica.mergeState(state)
      const marks = this.marksOf(documentKey(collection, docId))
      if (stored.ownSeq > marks.ownSeq) marks.ownSeq = stored.ownSeq
      if (stored.ownHlc) {
        marks.ownHlc = maxHlc(marks.ownHlc, stored.ownHlc)
        this.options.clock.restore(stored.ownHlc)
      }
      if (stored.remoteHlc) {
        marks.remoteHlc = maxHlc(marks.remoteHlc, stored.remoteHlc)
        this.options.clock.receive(stored.remoteHlc)
      }
      this.ownFloor = Math.max(this.ownFloor, stored.ownSeq)
    }
    for (const [origin, seq] of vector) this.log.coverUpTo(origin, seq)
    this.markDurable(this.log.vector)
  }

  /**
   * Reloads changes from durable storage after a (re)start, before any peer connects. They are
   * durable by definition; the clock moves past every timestamp seen so [HLC1]/[HLC2] survive restarts.
   */
  restore(changes: Iterable<Change>): void {
    this.restoring = true
    try {
      for (const change of changes) {
        // The clock restarts from scratch and must not reissue an old timestamp [HLC1]. (An authored
        // change's timestamp is its client's: the mesh observes it as a remote one when it applies it.)
        if (change.origin === this.id && change.author === undefined) this.options.clock.restore(change.hlc)
        this.ingest(change)
      }
    } finally {
      this.restoring = false
    }
    this.markDurable(this.log.vector)
  }

  /** A link to `peer` came up: announce what we hold; streaming starts when the peer answers. */
  connect(peer: string): void {
    this.claimOwnFloor()
    this.sessions += 1
    this.peers.set(peer, { ready: false, known: new Map(), gapAnnouncedAtSize: -1, transfer: null, incoming: null, clientGap: new Map(), clientGapBytes: 0, interest: null, fetch: null, subscribed: 0, session: this.sessions })
    // A client says what it syncs before its vector, so the region's answer is filtered from the start.
    const subscription = this.options.subscription?.(peer, true)
    if (subscription) this.options.send(peer, subscription)
    this.options.send(peer, this.announcement(peer))
  }

  /** On a client: what it syncs changed; tell every connected region. */
  resubscribe(): void {
    for (const peer of this.peers.keys()) {
      const subscription = this.options.subscription?.(peer, false)
      if (subscription) this.options.send(peer, subscription)
    }
  }

  disconnect(peer: string): void {
    const state = this.peers.get(peer)
    if (state !== undefined) this.bufferedCount -= state.clientGap.size
    this.peers.delete(peer)
    if (this.options.ownChangesOnly) this.dropWaitingSkips()
    // What a client (a non-member) reported durable matters only while it is connected: keeping it
    // would make a region's memory grow with every client that ever connected.
    const members = this.options.ackGossipMembers
    if (members !== undefined && !members.has(peer)) this.durableByNode.delete(peer)
  }

  isConnected(peer: string): boolean {
    return this.peers.has(peer)
  }

  /** What `node` (this node, a peer, or a member heard of through gossip) holds durably, as far as we know. */
  durableOf(node: string): VersionVector | undefined {
    return node === this.id ? this.durable : this.durableByNode.get(node)
  }

  /** Re-announce our vector (a client: and what it syncs) to every peer; repairs anything lost in transit. */
  antiEntropy(): void {
    for (const peer of this.peers.keys()) {
      const subscription = this.options.subscription?.(peer, false)
      if (subscription) this.options.send(peer, subscription)
      this.options.send(peer, this.announcement(peer))
    }
  }

  /** Handle one decoded message from `peer`. Messages from unknown peers are ignored. */
  receive(peer: string, message: Message): void {
    const state = this.peers.get(peer)
    if (!state) return
    switch (message.type) {
      case MessageType.VersionVector:
        // Replace, not merge: a peer that crashed may hold less than we sent it.
        state.known = new Map(message.vector)
        state.ready = true
        if (this.isClient(peer)) {
          this.raiseClientFloor(peer, state, message.vector.get(peer) ?? 0)
          // A refusal whose answer was lost with a connection: this stream may never pass its entry again.
          // At most a few per announcement: each carries a document's state, and announcing costs a client nothing.
          this.tellRefused(peer, state.session, this.refusals.unknownTo(peer, message.vector, state.session).slice(0, MAX_REFUSALS_PER_ANNOUNCEMENT))
        }
        if (state.fetch) this.advanceFetch(peer, state)
        this.sendMissing(peer, state, null)
        return
      case MessageType.ChangeBatch:
        if (this.isClient(peer)) this.receiveFromClient(peer, state, message.changes)
        else this.receiveBatch(peer, state, message.changes)
        return
      case MessageType.Ack:
        this.receiveAck(peer, message.node, message.durable)
        return
      case MessageType.DocumentStates:
        this.receiveStates(state, message.transfer, message.documents)
        return
      case MessageType.StateCovered:
        this.receiveStateCovered(state, message)
        return
      case MessageType.Subscribe:
        if (this.isClient(peer)) this.receiveSubscribe(peer, state, message)
        return
      // Only a client is ever sent these; a region ignores them (nobody may move its position by word).
      case MessageType.Fetched:
        if (this.options.ownChangesOnly) this.receiveFetched(state, message)
        return
      case MessageType.Rejected:
        if (this.options.ownChangesOnly) this.receiveRejected(message)
        return
      case MessageType.Skipped:
        if (!this.options.ownChangesOnly) return
        if (!this.options.clock.receive(message.hlc)) this.stats.clampedTimestamps += 1
        this.receiveSkipped(peer, state, message.ranges)
        return
      default:
        // Handshakes and errors belong to the shell.
        return
    }
  }

  private receiveAck(from: string, node: string, durable: VersionVector): void {
    // Only a member may speak for another node; a client's word counts for itself alone.
    const members = this.options.ackGossipMembers
    if (node === this.id || (node !== from && !members?.has(from))) return
    const known = this.durableByNode.get(node) ?? new Map<string, number>()
    if (vvDominates(known, durable)) return
    const merged = vvMerge(known, durable)
    this.durableByNode.set(node, merged)
    if (!members?.has(node)) return
    const ack: Message = { type: MessageType.Ack, node, durable: merged }
    for (const [peer, state] of this.peers) {
      if (peer !== from && peer !== node && state.ready && members.has(peer)) this.options.send(peer, ack)
    }
  }

  private receiveBatch(peer: string, state: PeerState, changes: readonly Change[]): void {
    let sawGap = false
    for (const change of changes) {
      this.stats.receivedChanges += 1
      if (change.seq > (state.known.get(change.origin) ?? 0)) state.known.set(change.origin, change.seq)
      if (!this.ingest(change)) sawGap = true
    }
    if (!this.options.deferPropagation) this.propagate()
    // Something before these changes is missing: tell the sender what we have so it resends.
    if (sawGap) this.announceGap(peer, state)
  }

  private announceGap(peer: string, state: PeerState): void {
    if (state.gapAnnouncedAtSize === this.log.size) return
    state.gapAnnouncedAtSize = this.log.size
    this.options.send(peer, this.announcement(peer))
  }

  /**
   * A client's own changes, on a member: each is logged under this node's origin with the client as
   * author, in the client's seq order, once — a seq this node already holds (from this client or from
   * another region's log) is a resend and dropped. Anything else a client sends is ignored.
   */
  private receiveFromClient(client: string, state: PeerState, changes: readonly Change[]): void {
    let sawGap = false
    for (const change of changes) {
      this.stats.receivedChanges += 1
      if (change.origin !== client || change.author !== undefined) {
        this.stats.foreignChanges += 1
        continue
      }
      if (change.seq > (state.known.get(client) ?? 0)) state.known.set(client, change.seq)
      const accepted = this.acceptedFrom(client)
      if (change.seq <= accepted) {
        this.stats.duplicates += 1
      } else if (change.seq > accepted + 1) {
        sawGap = true
        if (state.clientGap.has(change.seq)) this.stats.duplicates += 1
        else if (this.bufferedCount >= this.maxBufferedChanges) this.stats.bufferOverflows += 1
        else if (state.clientGapBytes + encodeChange(change).byteLength > this.maxClientGapBytes) {
          // Dropped, not logged nor acknowledged: the client resends it after our announcement.
          this.stats.bufferOverflows += 1
          this.options.onClientGapFull?.(client)
        } else {
          state.clientGap.set(change.seq, change)
          state.clientGapBytes += encodeChange(change).byteLength
          this.bufferedCount += 1
          this.stats.buffered += 1
        }
      } else {
        this.logAuthored(client, change)
      }
      if (state.clientGap.size > 0) this.drainClientGap(client, state)
    }
    if (!this.options.deferPropagation) this.propagate()
    if (sawGap) this.announceGap(client, state)
  }

  /**
   * A client announced that every region holds its seqs up to `floor` (it dropped them): they count
   * as held and replicated here, and its changes that waited for them go on.
   */
  private raiseClientFloor(client: string, state: PeerState, floor: number): void {
    if (floor <= this.acceptedFrom(client)) return
    this.authors.raiseFloor(client, floor)
    this.drainClientGap(client, state)
    if (!this.options.deferPropagation) this.propagate()
  }

  /**
   * Logs the client's waiting changes that now follow what this node holds of it, and forgets those
   * it came to hold meanwhile (learnt from another region's log, or from the client's floor).
   */
  private drainClientGap(client: string, state: PeerState): void {
    const accepted = this.acceptedFrom(client)
    for (const [seq, change] of state.clientGap) {
      if (seq <= accepted) {
        state.clientGap.delete(seq)
        state.clientGapBytes -= encodeChange(change).byteLength
        this.bufferedCount -= 1
      }
    }
    for (let next = state.clientGap.get(accepted + 1); next !== undefined; next = state.clientGap.get(next.seq + 1)) {
      state.clientGap.delete(next.seq)
      state.clientGapBytes -= encodeChange(next).byteLength
      this.bufferedCount -= 1
      this.logAuthored(client, next)
    }
  }

  private logAuthored(client: string, change: Change): void {
    this.claimOwnFloor()
    const key = documentKey(change.collection, change.docId)
    const refusal = isVoid(change) ? null : (this.options.admitClientChange?.(client, change, this.documents.get(key)) ?? null)
    const at = { origin: this.id, seq: this.log.head(this.id) + 1 }
    // The client is told where its stream reaches the void entry, or when it announces (`tellRefused`).
    this.applyInOrder(authoredChange(refusal === null ? change : voidOf(change), at.origin, at.seq))
    if (refusal === null) return
    this.stats.refusedChanges += 1
    this.refusals.remember(client, { seq: change.seq, collection: change.collection, docId: change.docId, refusal, at })
  }

  /**
   * Tells a client that its changes `refused` were refused: where its stream reaches their void entries,
   * and when it announces a position (see PendingRefusals for when it is told no more). The reason is the
   * one given when this node refused it, else `REFUSED_EARLIER` (after a restart, or a void entry learnt
   * from another region). One `Rejected` per document and code, so a burst of refused writes to one
   * document costs one copy of it: `state` is this node's copy now, unless the client may not read it.
   * A copy holding own changes not yet durable is not sent [CV4]: a crash could lose them, and the client
   * would keep them. Such a refusal stays untold until the client's next announcement (the simulator
   * found a client showing a region's write that the region's crash had lost).
   */
  private tellRefused(client: string, session: number, refused: readonly { readonly seq: number; readonly collection: string; readonly docId: string }[]): void {
    const byDocument = new Map<string, { collection: string; docId: string; byReason: Map<string, { refusal: ChangeRefusal; seqs: number[] }> }>()
    const durableOwn = this.durable.get(this.id) ?? 0
    for (const { seq, collection, docId } of refused) {
      const key = documentKey(collection, docId)
      if ((this.marks.get(key)?.ownSeq ?? 0) > durableOwn && this.options.readable?.(client, collection, docId) !== false) continue
      let document = byDocument.get(key)
      if (document === undefined) byDocument.set(key, (document = { collection, docId, byReason: new Map() }))
      // Grouped by code: the explanation of the first stands for the group (it often quotes the value).
      const refusal = this.refusals.tell(client, seq, session)
      const group = document.byReason.get(refusal.code)
      if (group === undefined) document.byReason.set(refusal.code, { refusal, seqs: [seq] })
      else group.seqs.push(seq)
    }
    for (const { collection, docId, byReason } of byDocument.values()) {
      const replica = this.documents.get(documentKey(collection, docId))
      // A document the client may not read is not shown to it here either: its copy is simply dropped.
      const hidden = replica === undefined || this.options.readable?.(client, collection, docId) === false
      const state = hidden ? null : { collection, docId, docType: replica.docType, state: replica.encodeState() }
      for (const { refusal, seqs } of byReason.values()) {
        // Once each: two regions may both have logged a void entry for the same write.
        const ascending = [...new Set(seqs)].sort((a, b) => a - b)
        this.options.send(client, { type: MessageType.Rejected, seqs: ascending, collection, docId, code: refusal.code, message: refusal.message, vector: new Map(this.log.vector), hlc: this.options.clock.peek(), state })
      }
    }
  }

  /** A void entry's author may not know its write was refused (its answer lost, or this node restarted). */
  private rememberVoid(change: Change): void {
    const author = change.author
    if (author === undefined || !this.isMember) return
    this.refusals.remember(author.origin, { seq: author.seq, collection: change.collection, docId: change.docId, refusal: REFUSED_EARLIER, at: { origin: change.origin, seq: change.seq } })
  }

  /** Takes a change from anywhere. Returns false when it had to wait for (or was dropped behind) a gap. */
  private ingest(change: Change): boolean {
    if (this.isDuplicate(change)) {
      // A logged void entry that a stored document's vector already covers is not applied again at a
      // restart, but its author may still not know (the simulator found a refusal forgotten that way).
      if (this.restoring && isVoid(change)) this.rememberVoid(change)
      this.stats.duplicates += 1
      return true
    }
    let head = this.log.head(change.origin)
    if (this.restoring && change.origin === this.id && change.seq > head + 1 && change.seq - 1 <= this.ownFloor) {
      // A logged own change after own changes that only a stored document kept (restoreDocuments):
      // the hole is theirs, not a loss, and what follows it must not wait for it.
      this.log.coverUpTo(this.id, change.seq - 1)
      head = change.seq - 1
    }
    if (change.seq > head + 1) {
      this.buffer(change)
      return false
    }
    this.applyInOrder(change)
    this.drainGap(change.origin)
    return true
  }

  /**
   * On a client: a region refused own changes `seqs` (docs/security.md, "Refused writes"). The own log
   * entries become void, so a resend to another region carries nothing, and the document is rebuilt as
   * the region's copy plus every change held here that the copy does not cover: own changes after the
   * first of `seqs`, and others' changes beyond the region's vector. Changes this client already compacted away
   * (learnt from another region, or own ones after `seq` when the answer is a late repeat) may have
   * lived only in the document just replaced: `onRefetch` asks for the document again, and the
   * region's state, which never contains a refused change, merges them back.
   */
  private receiveRejected(message: RejectedMessage): void {
    const { collection, docId, seqs } = message
    // The region's copy may hold timestamps this client never saw: later writes must order after them.
    if (!this.options.clock.receive(message.hlc)) this.stats.clampedTimestamps += 1
    const voided: Change[] = []
    let originalType: DocType | undefined
    for (const seq of seqs) {
      const original = this.log.get(this.id, seq)
      originalType ??= original?.docType
      if (original === undefined || isVoid(original)) continue
      const entry = voidOf(original)
      this.log.replace(entry)
      voided.push(entry)
    }
    this.stats.refusedChanges += seqs.length
    const key = documentKey(collection, docId)
    const docType = message.state?.docType ?? this.documents.get(key)?.docType ?? originalType
    if (docType !== undefined) {
      this.documents.delete(key)
      let replica = message.state === null ? undefined : this.replicaAt(key, collection, docId, message.state.docType)
      if (replica !== undefined && message.state !== null) {
        try {
          replica.mergeState(message.state.state)
        } catch {
          this.stats.rejectedPayloads += 1
        }
      }
      for (const [origin, head] of this.log.vector) {
        const from = origin === this.id ? (seqs[0] as number) + 1 : (message.vector.get(origin) ?? 0) + 1
        for (const change of this.log.range({ origin, from, to: head })) {
          if (change.collection !== collection || change.docId !== docId || isVoid(change)) continue
          replica ??= this.replicaAt(key, collection, docId, change.docType)
          if (replica.docType !== change.docType) continue
          try {
            replica.apply(change)
          } catch {
            this.stats.rejectedPayloads += 1
          }
        }
      }
      this.changedDocuments.add(key)
      this.options.onStateMerged?.(collection, docId, docType, true)
      this.options.onRefetch?.(collection, docId)
    }
    this.options.onChangeRefused?.(message, voided)
  }

  /**
   * On a client: a region moved its position over runs of seqs the client does not subscribe to.
   * Each run takes its place in seq order like a change (waiting in the gap buffer behind a missing
   * predecessor), so a change the region did send is never skipped over.
   */
  private receiveSkipped(peer: string, state: PeerState, ranges: readonly SkippedRange[]): void {
    let sawGap = false
    for (const range of ranges) {
      const head = this.log.head(range.origin)
      // A run over this client's own origin beyond its head skips seqs it never issued: ignored, like
      // such a claim in a state transfer (see `receiveStateCovered`).
      if (range.to <= head || range.origin === this.id) continue
      if (range.from > head + 1) {
        this.buffer(range, range.from)
        sawGap = true
        continue
      }
      this.skipTo(range.origin, range.to)
      this.drainGap(range.origin)
    }
    if (sawGap) this.announceGap(peer, state)
  }

  private skipTo(origin: string, seq: number): void {
    this.log.coverUpTo(origin, seq)
    this.dirtyOrigins.add(origin)
  }

  /** [CV3] A change at or below its origin's head has been applied already. */
  protected isDuplicate(change: Change): boolean {
    return change.seq <= this.log.head(change.origin)
  }

  /**
   * On a client whose session ended: skipped runs still waiting in the gap buffer are dropped. A run
   * is skipped for the interest of the session that sent it; applied later, in another session that
   * syncs the run's documents, it would count as held a change the client never got, and drop that
   * change as a duplicate when it comes (simulator seed yjs:star:494202753). Changes stay: they are
   * the same whoever sent them.
   */
  private dropWaitingSkips(): void {
    for (const [origin, pending] of this.gaps) {
      for (const [seq, entry] of pending) {
        if (!isSkip(entry)) continue
        pending.delete(seq)
        this.bufferedCount -= 1
      }
      if (pending.size === 0) this.gaps.delete(origin)
    }
  }

  private buffer(change: GapEntry, seq = (change as Change).seq): void {
    let pending = this.gaps.get(change.origin)
    if (pending?.has(seq)) {
      this.stats.duplicates += 1
      return
    }
    if (this.bufferedCount >= this.maxBufferedChanges) {
      this.stats.bufferOverflows += 1
      return
    }
    if (!pending) {
      pending = new Map()
      this.gaps.set(change.origin, pending)
    }
    pending.set(seq, change)
    this.bufferedCount += 1
    this.stats.buffered += 1
  }

  private drainGap(origin: string): void {
    const pending = this.gaps.get(origin)
    if (!pending) return
    for (;;) {
      const head = this.log.head(origin)
      const exact = pending.get(head + 1)
      if (exact !== undefined && !isSkip(exact)) {
        pending.delete(head + 1)
        this.bufferedCount -= 1
        this.applyInOrder(exact)
        continue
      }
      // Entries at or below the head are stale, except a skipped run that reaches past it.
      let skipTo = 0
      for (const [seq, entry] of pending) {
        if (seq > head + 1) continue
        pending.delete(seq)
        this.bufferedCount -= 1
        if (isSkip(entry) && entry.to > skipTo) skipTo = entry.to
      }
      if (skipTo <= head) break
      this.skipTo(origin, skipTo)
    }
    if (pending.size === 0) this.gaps.delete(origin)
  }

  protected applyInOrder(change: Change): void {
    const author = change.author
    const ownStamp = change.origin === this.id && author === undefined
    if (!ownStamp && !this.options.clock.receive(change.hlc)) this.stats.clampedTimestamps += 1
    this.log.append(change)
    this.dirtyOrigins.add(change.origin)
    if (!this.restoring) this.options.onAppend?.(change)
    if (author !== undefined) this.authors.learn(change)
    // A refused change's place in the log: nothing to apply, and no document comes to exist for it.
    // Its author may not know yet (its answer lost with a connection, or this node restarted).
    if (isVoid(change)) {
      this.rememberVoid(change)
      return
    }
    const key = documentKey(change.collection, change.docId)
    const marks = this.marksOf(key)
    // Max, not assignment: replaying older logged own changes into a restored document must not
    // lower what the stored document already held (the simulator found a reused seq that way).
    if (change.origin === this.id && change.seq > marks.ownSeq) marks.ownSeq = change.seq
    if (ownStamp) marks.ownHlc = maxHlc(marks.ownHlc, change.hlc)
    else marks.remoteHlc = maxHlc(marks.remoteHlc, change.hlc)
    this.changedDocuments.add(key)
    const replica = this.replicaAt(key, change.collection, change.docId, change.docType)
    if (replica.docType !== change.docType) {
      this.stats.typeMismatches += 1
      return
    }
    let result: ApplyResult
    try {
      result = replica.apply(change)
    } catch (error) {
      // A payload its type cannot read must not stop the origin's stream: the change keeps its place
      // in the log (seqs stay dense) and every replica skips it the same way, so [CV1] still holds.
      this.stats.rejectedPayloads += 1
      this.options.onRejected?.(change, error)
      return
    }
    this.stats.applied += 1
    this.stats.conflicts += result.conflicts.length
    this.options.onApplied?.(change, result)
  }

  /**
   * How far an origin's changes may leave this node: own changes only once durable (see `commit`),
   * everything learnt from others at once.
   */
  protected sendableHead(origin: string): number {
    const head = this.log.head(origin)
    return origin === this.id ? Math.min(head, this.durable.get(origin) ?? 0) : head
  }

  /** True when changes arrived that some peer may not have been sent yet (see `deferPropagation`). */
  get hasNews(): boolean {
    return this.dirtyOrigins.size > 0
  }

  /** Stream news to every ready peer: what each lacks among the origins that gained changes. */
  propagate(): void {
    if (this.dirtyOrigins.size === 0) return
    const origins = [...this.dirtyOrigins]
    this.dirtyOrigins.clear()
    for (const [peer, state] of this.peers) {
      if (!state.ready) continue
      this.sendMissing(peer, state, origins)
      if (state.fetch) this.advanceFetch(peer, state)
    }
  }

  /**
   * Send `peer` exactly what it lacks among `origins` (all held origins when null): changes while the
   * log still holds them, else a state transfer of every document [SG3].
   */
  private sendMissing(peer: string, state: PeerState, origins: readonly string[] | null): void {
    if (state.transfer) return
    let wanted = origins ?? [...this.log.vector.keys()].sort()
    // A client sends a region only its own changes: the region has the rest from its peers.
    if (this.options.ownChangesOnly) wanted = wanted.filter((origin) => origin === this.id)
    const transfers = this.options.sendsStateTransfers ?? true
    for (const origin of wanted) {
      const from = (state.known.get(origin) ?? 0) + 1
      if (transfers && from <= this.log.base(origin) && from <= this.sendableHead(origin)) {
        this.beginTransfer(peer, state)
        return
      }
    }
    const batch: Change[] = []
    let batchBytes = 0
    /** The client's own void entries passed here: told before the `Skipped` run that passes them. */
    const refused: { seq: number; collection: string; docId: string }[] = []
    const skipped: SkippedRange[] = []
    let skippedHlc: Hlc | null = null
    const client = this.isClient(peer)
    const interest = state.interest
    const readable = client ? this.options.readable : undefined
    for (const origin of wanted) {
      // Without state transfers, what the peer lacks below the log's base is left to its other peers
      // (it holds those changes durably, or compaction would not have dropped them); the rest is sent.
      const from = Math.max((state.known.get(origin) ?? 0) + 1, this.log.base(origin) + 1)
      const to = this.sendableHead(origin)
      if (from > to) continue
      // News of a member's own changes is not echoed back to it: it sent them only once durable [CV4],
      // so it holds them. (A member that lost some says so in the vector it announces on reconnecting,
      // and the full resend that answers it, `origins` null, still covers them.)
      if (origins !== null && origin === peer && this.options.ackGossipMembers?.has(peer) === true) {
        state.known.set(origin, to)
        continue
      }
      // A client is sent what it subscribes to; the runs in between, and its own writes (it applied
      // them when it made them), move its position as `Skipped`.
      let skipFrom = 0
      for (const change of this.log.range({ origin, from, to })) {
        const own = client && change.author?.origin === peer
        if (own && isVoid(change)) refused.push({ seq: (change.author as ChangeId).seq, collection: change.collection, docId: change.docId })
        if (
          own ||
          (interest !== null && !matches(interest, change.collection, documentKey(change.collection, change.docId))) ||
          (readable !== undefined && !readable(peer, change.collection, change.docId))
        ) {
          if (skipFrom === 0) skipFrom = change.seq
          skippedHlc = maxHlc(skippedHlc, change.hlc)
          continue
        }
        if (skipFrom !== 0) skipped.push({ origin, from: skipFrom, to: change.seq - 1 })
        skipFrom = 0
        // [limits] A batch fits the receiver's frame limit: it is sent before a change would take it
        // past maxBatchBytes (a larger change alone).
        const bytes = encodeChange(change).byteLength
        if (batch.length > 0 && batchBytes + bytes > this.maxBatchBytes) this.flushBatch(peer, batch)
        if (batch.length === 0) batchBytes = 0
        batch.push(change)
        batchBytes += bytes
        if (batch.length >= this.maxBatchChanges) this.flushBatch(peer, batch)
      }
      if (skipFrom !== 0) skipped.push({ origin, from: skipFrom, to })
      state.known.set(origin, to)
    }
    this.flushBatch(peer, batch)
    if (refused.length > 0) this.tellRefused(peer, state.session, refused)
    if (skippedHlc !== null) this.options.send(peer, { type: MessageType.Skipped, ranges: skipped, hlc: skippedHlc })
  }

  /**
   * The documents a client subscribes to (every document for anyone else), sorted by key; for a client
   * (`peer`), only those it may read.
   */
  private documentKeysFor(interest: Interest | null, peer: string | null = null): string[] {
    const readable = peer !== null && this.isClient(peer) ? this.options.readable : undefined
    const keys: string[] = []
    for (const key of this.documents.keys()) {
      const [collection, docId] = splitDocumentKey(key)
      if (interest !== null && !matches(interest, collection, key)) continue
      if (readable !== undefined && !readable(peer as string, collection, docId)) continue
      keys.push(key)
    }
    return keys.sort()
  }

  /**
   * The clock's latest timestamp: every timestamp this node has issued or seen is at or below it. Stored
   * with the covered vector and handed back to `restoreDocuments`, it keeps [HLC2] across a restart for
   * changes no stored document carries (a client's skipped runs, partial replication).
   */
  get clockHighWater(): Hlc {
    return this.options.clock.peek()
  }

  /** Every document this node holds, as states (sorted by key): what a tab that follows starts from. */
  allDocumentStates(): DocumentState[] {
    return this.documentStates(this.documentKeysFor(null))
  }

  private documentStates(keys: readonly string[]): DocumentState[] {
    return keys.map((key) => {
      const replica = this.documents.get(key) as DocumentReplica
      const [collection, docId] = splitDocumentKey(key)
      return { collection, docId, docType: replica.docType, state: replica.encodeState() }
    })
  }

  /** Sends `documents` as `DocumentStates` frames of about `maxTransferFrameBytes` each; returns the transfer id. */
  private sendDocumentStates(peer: string, documents: readonly DocumentState[]): number {
    const id = ++this.transferIds
    let chunk: DocumentState[] = []
    let bytes = 0
    for (const document of documents) {
      if (chunk.length > 0 && bytes + document.state.length > this.maxTransferFrameBytes) {
        this.options.send(peer, { type: MessageType.DocumentStates, transfer: id, documents: chunk })
        chunk = []
        bytes = 0
      }
      chunk.push(document)
      bytes += document.state.length
    }
    if (chunk.length > 0) this.options.send(peer, { type: MessageType.DocumentStates, transfer: id, documents: chunk })
    return id
  }

  /**
   * A client says what it syncs. From now on it is sent only changes to those collections and
   * documents; what it asks to fetch (opened since its position covered it) it gets as state, once
   * this node holds everything the client's position covers — else the state could miss changes the
   * client's position already claims — and once this node's own changes in it are durable [CV4].
   */
  private receiveSubscribe(peer: string, state: PeerState, message: SubscribeMessage): void {
    if (message.id <= state.subscribed) return
    state.subscribed = message.id
    const keys = (refs: SubscribeMessage['documents']): Set<string> => new Set(refs.map((ref) => documentKey(ref.collection, ref.docId)))
    state.interest = { collections: new Set(message.collections), documents: keys(message.documents) }
    if (message.fetchCollections.length === 0 && message.fetchDocuments.length === 0) return
    const wanted: Interest = { collections: new Set(message.fetchCollections), documents: keys(message.fetchDocuments) }
    if (state.fetch?.cut) state.fetch.next = { id: message.id, wanted }
    else state.fetch = { id: message.id, wanted, cut: null, next: null }
    this.advanceFetch(peer, state)
  }

  private advanceFetch(peer: string, state: PeerState): void {
    const fetch = state.fetch
    if (fetch === null || !state.ready) return
    if (fetch.cut === null) {
      if (!this.holdsPositionOf(peer, state.known)) return
      const documents = this.documentStates(this.documentKeysFor(fetch.wanted, peer))
      fetch.cut = { vector: new Map(this.log.vector), documents, hlc: this.options.clock.peek() }
    }
    if ((this.durable.get(this.id) ?? 0) < (fetch.cut.vector.get(this.id) ?? 0)) return
    state.fetch = fetch.next === null ? null : { ...fetch.next, cut: null, next: null }
    const transfer = this.sendDocumentStates(peer, fetch.cut.documents)
    this.options.send(peer, { type: MessageType.Fetched, fetch: fetch.id, transfer, documents: fetch.cut.documents.length, hlc: fetch.cut.hlc })
    // The link may have been closed for what that cost (the shell charges document states).
    if (state.fetch !== null && this.peers.get(peer) === state) this.advanceFetch(peer, state)
  }

  /** [PS2] True when this node holds everything a client's position covers (its own entry aside). */
  protected holdsPositionOf(client: string, position: VersionVector): boolean {
    for (const [origin, seq] of position) if (origin !== client && seq > this.log.head(origin)) return false
    return true
  }

  /** On a client: the documents of a fetch are in if all of them merged (see `receiveStateCovered`). */
  private receiveFetched(state: PeerState, message: FetchedMessage): void {
    const incoming = state.incoming
    const mine = incoming !== null && incoming.id === message.transfer
    if (mine) state.incoming = null
    const complete = message.documents === 0 || (mine && !incoming.failed && incoming.merged.size === message.documents)
    if (complete) {
      if (!this.options.clock.receive(message.hlc)) this.stats.clampedTimestamps += 1
      for (const key of mine ? incoming.merged : []) {
        const marks = this.marksOf(key)
        marks.remoteHlc = maxHlc(marks.remoteHlc, message.hlc)
        this.changedDocuments.add(key)
      }
    }
    this.options.onFetched?.(message.fetch, complete)
  }

  /**
   * Cuts a state transfer now: every document as merged state, covering exactly `vector` (what has
   * been applied). It leaves only once this node's own changes in it are durable [CV4].
   */
  private beginTransfer(peer: string, state: PeerState): void {
    // A client is sent the documents it subscribes to: its position covers those alone.
    const documents = this.documentStates(this.documentKeysFor(state.interest, peer))
    // Refusals go to members alone: a client has no use for others' (and should not learn of them).
    const refusals = this.isMember && this.options.ackGossipMembers?.has(peer) === true ? this.refusals.records() : []
    state.transfer = { vector: new Map(this.log.vector), documents, hlc: this.options.clock.peek(), authors: this.authors.records(), refusals }
    this.releaseTransfer(peer, state)
  }

  private releaseTransfer(peer: string, state: PeerState): void {
    const transfer = state.transfer
    if (!transfer || (this.durable.get(this.id) ?? 0) < (transfer.vector.get(this.id) ?? 0)) return
    state.transfer = null
    this.stats.stateTransfersSent += 1
    const id = this.sendDocumentStates(peer, transfer.documents)
    this.options.send(peer, {
      type: MessageType.StateCovered,
      transfer: id,
      documents: transfer.documents.length,
      vector: transfer.vector,
      hlc: transfer.hlc,
      authors: transfer.authors,
      refusals: transfer.refusals,
    })
    state.known = vvMerge(state.known, transfer.vector)
    this.sendMissing(peer, state, null)
  }

  /**
   * Merges documents of a state transfer. Parts of an older transfer than the newest one seen are
   * merged too (a state is never wrong, only possibly incomplete) but count for no transfer.
   */
  private receiveStates(state: PeerState, transfer: number, documents: readonly DocumentState[]): void {
    if (state.incoming === null || transfer > state.incoming.id) state.incoming = { id: transfer, merged: new Set(), failed: false }
    const incoming = state.incoming.id === transfer ? state.incoming : null
    for (const { collection, docId, docType, state: bytes } of documents) {
      const replica = this.replica(collection, docId, docType)
      if (replica.docType !== docType) {
        this.stats.typeMismatches += 1
        continue
      }
      let changed: boolean
      try {
        changed = replica.mergeState(bytes).changed
      } catch {
        // Unreadable state: the documents that could be read still count; the StateCovered that
        // follows must not claim this one, so the transfer is treated as cut short.
        this.stats.rejectedPayloads += 1
        if (incoming) incoming.failed = true
        continue
      }
      const key = documentKey(collection, docId)
      incoming?.merged.add(key)
      this.changedDocuments.add(key)
      this.options.onStateMerged?.(collection, docId, docType, changed)
    }
  }

  /**
   * Believes a transfer's vector only when every one of its documents was merged: over a link that
   * loses, duplicates or reorders messages, a part may be missing, and claiming changes whose effect
   * never arrived would lose them for good. An unbelieved transfer is repaired by the next one.
   */
  private receiveStateCovered(state: PeerState, message: StateCoveredMessage): void {
    const { vector, hlc } = message
    const incoming = state.incoming
    const complete = message.documents === 0 ? incoming === null || incoming.id <= message.transfer : incoming?.id === message.transfer
    if (!complete) return
    if (incoming !== null && incoming.id === message.transfer && (incoming.failed || incoming.merged.size !== message.documents)) return
    const merged = incoming?.id === message.transfer ? incoming.merged : new Set<string>()
    if (incoming?.id === message.transfer) state.incoming = null
    if (!this.options.clock.receive(hlc)) this.stats.clampedTimestamps += 1
    for (const key of merged) {
      const marks = this.marksOf(key)
      marks.remoteHlc = maxHlc(marks.remoteHlc, hlc)
      // Stored again even if a round took the document between its part and this: the mark is what
      // makes a restarted node's clock pass the timestamps the document holds [HLC2] (the simulator
      // found a write ordered before a change it had seen that way).
      this.changedDocuments.add(key)
    }
    let moved = false
    for (const [origin, seq] of vector) {
      // Never this node's own origin: only it numbers that, and a peer claiming more than it issued
      // is wrong; believed up to 2^53 − 1, no own seq would encode again (docs/fuzzing.md, "Findings").
      if (origin === this.id || seq <= this.log.head(origin)) continue
      this.log.coverUpTo(origin, seq)
      this.dirtyOrigins.add(origin)
      this.drainGap(origin)
      moved = true
    }
    state.known = vvMerge(state.known, vector)
    this.authors.merge(message.authors)
    if (this.isMember) this.refusals.merge(message.refusals)
    this.stats.stateTransfersReceived += 1
    if (!moved) return
    this.options.onStateCovered?.(vector)
    if (!this.options.deferPropagation) this.propagate()
  }

  /**
   * [SG3] How far the log may be compacted: per origin, the least of `covered` (what this node's
   * stored document states cover) and what every other member reports durable. A member that never
   * reported holds nothing, so nothing of anyone is pruned until every member has answered.
   */
  prunePoint(covered: VersionVector): Map<string, number> {
    const point = new Map<string, number>()
    const members = [...(this.options.ackGossipMembers ?? [])].filter((m) => m !== this.id)
    for (const [origin, head] of this.log.vector) {
      let upTo = Math.min(covered.get(origin) ?? 0, head)
      for (const member of members) upTo = Math.min(upTo, this.durableByNode.get(member)?.get(origin) ?? 0)
      if (upTo > this.log.base(origin)) point.set(origin, upTo)
    }
    return point
  }

  /**
   * Drops the log's changes up to `upTo` per origin (see `prunePoint`; a retention bound may pass
   * something larger, never more than the stored state covers). Peers behind it get a state transfer.
   * Returns how many changes were dropped.
   */
  compact(upTo: VersionVector): number {
    const dropped = this.log.prune(upTo)
    this.stats.prunedChanges += dropped
    return dropped
  }

  /** Keys of the documents changed since the last call, for the shell's snapshot rounds. */
  takeChangedDocuments(): string[] {
    const keys = [...this.changedDocuments]
    this.changedDocuments.clear()
    return keys
  }

  /** A document as the shell stores it (see StoredDocumentState); undefined for an unknown key. */
  storedDocument(key: string): StoredDocumentState | undefined {
    const replica = this.documents.get(key)
    if (!replica) return undefined
    const [collection, docId] = splitDocumentKey(key)
    const marks = this.marks.get(key)
    return {
      document: { collection, docId, docType: replica.docType, state: replica.encodeState() },
      ownSeq: marks?.ownSeq ?? 0,
      ownHlc: marks?.ownHlc ?? null,
      remoteHlc: marks?.remoteHlc ?? null,
    }
  }

  /**
   * Call once the last `restore` chunk is in: own changes a stored document holds but the log lost
   * (see `restoreDocuments`) are held as state from now on, so peers that need them get a state
   * transfer and the next own write numbers past them. (Not earlier: `restore` may still replay
   * logged own changes below them. A first link or write claims them too, if this was not called.)
   */
  finishRestore(): void {
    this.claimOwnFloor()
  }

  private claimOwnFloor(): void {
    if (this.ownFloor <= this.log.head(this.id)) return
    this.log.coverUpTo(this.id, this.ownFloor)
    this.dirtyOrigins.add(this.id)
    this.markDurable(new Map([[this.id, this.ownFloor]]))
  }

  private marksOf(key: string): DocumentMarks {
    let marks = this.marks.get(key)
    if (!marks) {
      marks = { ownSeq: 0, ownHlc: null, remoteHlc: null }
      this.marks.set(key, marks)
    }
    return marks
  }

  private flushBatch(peer: string, batch: Change[]): void {
    if (batch.length === 0) return
    this.stats.sentChanges += batch.length
    this.options.send(peer, { type: MessageType.ChangeBatch, changes: batch.splice(0) })
  }
}

import { HlcClock } from '../core/clock/hlc.js'
import type { Authorizer } from './auth/authorizer.js'
import { ANONYMOUS } from './auth/principal.js'
import { CloseCode, MessageType, decodeChange, encodeChange, encodeMessage, peekChangeId, type EphemeralMessage, type Message } from '../core/codec/index.js'
import { CollectionDigests, LwwReplica, createReplica, type CollectionDigestReport } from '../core/crdt/index.js'
import { MeshNode, ResyncBudget } from '../core/mesh/index.js'
import type { StorageAdapter } from '../core/storage/index.js'
import type { Change, DocType, VersionVector } from '../core/types.js'
import type { DocumentReplica } from '../core/crdt/document-type.js'
import { lwwPatchPayload, type StoredConflict } from '../core/crdt/index.js'
import { InvalidValueError } from '../core/values/storable-value.js'
import { collectionSpec, type CollectionConfig, type ServerConfig } from './config.js'
import { ConflictStore, type ConflictPage } from './conflict-store.js'
import { ChangeCommitQueue } from './region/change-commit-queue.js'
import { CommitLoop } from './storage/commit-loop.js'
import { LinkFlow } from './link-flow.js'
import type { Logger } from './logger.js'
import { patchedFields } from './merge-patch.js'
import type { ConnectionKind, ServerMetrics } from './metrics.js'
import { refusedChange } from './region/client-checks.js'
import { clientAdmission } from './region/client-admission.js'
import { DocumentSizeLimit } from './region/document-size.js'
import { AckWaiters } from './region/ack-waiters.js'
import { VectorWaiters } from './region/vector-waiters.js'
import { CrdtSnapshots } from './region/crdt-snapshots.js'
import { lwwRestPayload } from './region/lww-rest-payload.js'
import { LagAccounting } from './region/lag.js'
import {
  vectorToken,
  WriteError,
  type AckLevel,
  type CrdtRestConcern,
  type CrdtRestOp,
  type DocumentResult,
  type Lag,
  type LinkCounters,
  type LinkTransport,
  type WriteResult,
} from './region/types.js'

// Every name of the link, REST and lag types stays importable from here, as before the split.
export * from './region/types.js'

/** The storage log crdt changes are persisted in, one encoded change per record. */
export const CRDT_LOG = 'crdt'
/** Records read per step during recovery, bounding the memory of one read [PF4]. */
const RECOVERY_CHUNK_RECORDS = 4096

/**
 * What only a region may send: document states skip every check a client's changes get ([IN1],
 * collection types), and StateCovered, Skipped and Fetched move a position by word alone.
 */
const CLIENT_FORBIDDEN: ReadonlySet<MessageType> = new Set([
  MessageType.DocumentStates,
  MessageType.StateCovered,
  MessageType.Skipped,
  MessageType.Fetched,
  MessageType.Ephemeral,
  MessageType.Rejected,
])
/**
 * Every link re-announces our vector this often. Over WebSockets nothing is lost in transit, but a
 * change dropped by a full gap buffer is fetched again only on the next announce (docs/crdt.md).
 */
export const ANTI_ENTROPY_INTERVAL_MS = 30_000
/** How often the crdt staleness (`stalenessMs`) notices that the region caught up, besides every read. */
const STALENESS_CHECK_MS = 100

export interface RegionNodeOptions {
  readonly config: ServerConfig
  readonly storage: StorageAdapter
  readonly metrics: ServerMetrics
  readonly logger: Logger
  /** Wall clock for the HLC and lag ages; `Date.now` by default. */
  readonly wallClock?: () => number
  /** Monotonic milliseconds for the links' resync budgets; `performance.now` by default. */
  readonly monotonicClock?: () => number
  /** What each client may read (docs/security.md, "Permissions"); absent: everything. */
  readonly authorizer?: Authorizer
}

interface Link {
  readonly kind: ConnectionKind
  readonly transport: LinkTransport
  readonly flow: LinkFlow
  /** [PF4] What this link may make us resend by announcing less than it already held or was sent. */
  readonly resync: ResyncBudget
  /** A client's own seq last reported durable here (`Ack`) and in every region (`Replicated`). */
  ackSent: number
  replicatedSent: number
}

/**
 * One region's crdt replica with its durability: the HLC, the mesh, the storage log and group commit,
 * recovery, conflict records, the REST write path with `w=local|all` acknowledgements, and the
 * vector durable in every region (`Replicated`). Transports plug in through `attach`/`receive`/`detach`;
 * the node never touches a socket.
 *
 * @example
 * ```ts
 * const node = new RegionNode({ config, storage, metrics, logger })
 * await node.recover()
 * const { ack, token } = await node.write('put', 'notes', 'n1', { title: 'hello' }, 'all')
 * ```
 */
export class RegionNode {
  readonly config: ServerConfig
  readonly clock: HlcClock
  readonly mesh: MeshNode
  readonly members: ReadonlySet<string>
  readonly conflicts: ConflictStore
  readonly storage: StorageAdapter
  private readonly metrics: ServerMetrics
  /** [limits] Document sizes against `limits.maxDocumentBytes`, for clients' changes and this region's own writes. */
  private readonly documentSizes: DocumentSizeLimit
  private readonly logger: Logger
  private readonly wallClock: () => number
  private readonly monotonicClock: () => number
  /** The node's one group commit, shared with the strict log (docs/design.md §6). */
  readonly commits: CommitLoop
  private readonly commit: ChangeCommitQueue
  /** Snapshot rounds and log compaction: what is stored is state, not history (docs/design.md §6). */
  readonly snapshots: CrdtSnapshots
  private readonly lag: LagAccounting
  private propagateScheduled = false
  private readonly links = new Map<string, Link>()
  private readonly peerCounters = new Map<string, LinkCounters>()
  /** What REST writes wait for: durable here, or in every member region. */
  private readonly acks: AckWaiters
  /** The storage error that stopped persistence (the group commit's or a snapshot round's), or null. */
  private storageError: unknown = null
  private clientCount = 0
  private lastEncoded: { message: Message; bytes: Uint8Array } | null = null
  private recoveredFlag = false
  private closing = false
  private antiEntropyTimer: NodeJS.Timeout | null = null
  private stalenessTimer: NodeJS.Timeout | null = null
  private readonly vectorWaiters = new VectorWaiters(() => this.mesh.vector, () => this.wallClock())
  /** Wall time when this region last held everything its linked peers were known to hold. */
  private lastCaughtUpMs: number | null = null
  private readonly ephemeralListeners = new Set<(message: EphemeralMessage) => void>()
  private readonly documentListeners = new Set<(collection: string, docId: string) => void>()
  private readonly conflictListeners = new Set<(record: StoredConflict) => void>()
  /** Per-collection state digests (docs/crdt.md "Divergence digest"): a Set insert per applied change. */
  private readonly digests = new CollectionDigests({
    existingReplica: (collection, docId) => this.mesh.existingReplica(collection, docId),
    documentIds: () => this.mesh.documentIds(),
  })

  constructor(options: RegionNodeOptions) {
    const { config } = options
    this.config = config
    this.storage = options.storage
    this.metrics = options.metrics
    this.logger = options.logger
    this.wallClock = options.wallClock ?? Date.now
    this.monotonicClock = options.monotonicClock ?? (() => performance.now())
    this.members = new Set(config.members)
    this.conflicts = new ConflictStore({
      perDocument: config.maxConflictsPerDocument,
      total: config.maxConflicts,
      storage: this.storage,
      wallClock: this.wallClock,
      onError: (err) => this.onStorageFailure(err),
      requestCommit: () => this.commits.request(config.groupCommitMaxDelayMs),
      onDurable: (records) => {
        for (const record of records) for (const listener of this.conflictListeners) listener(record)
      },
    })
    for (const peer of config.peers) this.peerCounters.set(peer.nodeId, { sentChanges: 0, receivedChanges: 0 })
    this.clock = new HlcClock({ node: config.nodeId, wallClock: this.wallClock })
    this.documentSizes = new DocumentSizeLimit(config.limits.maxDocumentBytes)
    this.mesh = new MeshNode({
      id: config.nodeId,
      clock: this.clock,
      random: Math.random,
      createReplica: (docType, context) => createReplica(docType, context),
      send: (peer, message) => this.sendTo(peer, message),
      // [limits] What one client's out-of-order changes may hold here (docs/security.md, "Limits").
      maxClientGapBytes: config.limits.maxClientGapBytes === 0 ? Infinity : config.limits.maxClientGapBytes,
      onClientGapFull: () => options.metrics.limitRefusals.inc({ limit: 'clientGapBytes' }),
      // Clients whose writes this node knows of: one entry per client id ever seen, up to this bound.
      maxAuthors: config.maxAuthors,
      // [permissions] A client is sent only documents its principal may read.
      ...(options.authorizer?.restricts === true ? { readable: this.readableBy(options.authorizer) } : {}),
      // [permissions] [limits] A client's change it may not make is logged void and answered Rejected.
      admitClientChange: clientAdmission(config, options.authorizer, (client) => this.links.get(client)?.transport.principal ?? ANONYMOUS, options.metrics, this.documentSizes),
      // A write whose change cannot be encoded fails before it is logged, never later in the
      // replication loop; the encoding is cached [PF1], so onAppend and every send reuse it.
      beforeCommit: (change) => void encodeChange(change),
      onAppend: (change) => {
        this.commit.enqueue(encodeChange(change))
        this.snapshots.logged(change)
      },
      onStateCovered: () => this.snapshots.stateCovered(),
      onApplied: (change, result) => {
        this.digests.touched(change.collection, change.docId)
        // Hooks hear of records observed while serving, not of those the log's replay finds again.
        for (const conflict of result.conflicts) this.conflicts.add(conflict, this.recoveredFlag)
        if (result.changed) for (const listener of this.documentListeners) listener(change.collection, change.docId)
      },
      onStateMerged: (collection, docId, _docType, changed) => {
        this.digests.touched(collection, docId)
        if (changed) for (const listener of this.documentListeners) listener(collection, docId)
      },
      onRejected: (change, error) => {
        this.digests.touched(change.collection, change.docId)
        this.logger.warn(`change ${change.origin}:${change.seq} to ${change.collection}/${change.docId} not applied: ${String(error)}`)
      },
      ackGossipMembers: this.members,
      // Changes that arrive in many small frames in one event-loop turn leave in few large ones.
      deferPropagation: true,
    })
    this.lag = new LagAccounting(this.mesh, this.wallClock)
    this.acks = new AckWaiters({
      mesh: this.mesh,
      nodeId: config.nodeId,
      members: this.members,
      ackTimeoutMs: config.ackTimeoutMs,
      onReplicated: () => this.onReplicated(),
    })
    this.commits = new CommitLoop({
      storage: this.storage,
      onSync: ({ flushMs }) => {
        this.metrics.fsyncs.inc()
        this.metrics.fsyncSeconds.observe(flushMs / 1000)
      },
    })
    this.commits.onFailure((err) => this.onStorageFailure(err))
    this.commits.join(this.conflicts)
    this.commit = new ChangeCommitQueue({
      storage: this.storage,
      loop: this.commits,
      log: CRDT_LOG,
      maxDelayMs: config.groupCommitMaxDelayMs,
      cut: () => new Map(this.mesh.vector),
      onBatch: (records) => this.metrics.groupCommitBatch.observe(records),
      onDurable: (covered) => this.onDurable(covered),
    })
    this.snapshots = new CrdtSnapshots({
      storage: this.storage,
      mesh: this.mesh,
      log: CRDT_LOG,
      everyChanges: config.snapshotEveryChanges,
      intervalMs: config.snapshotIntervalMs,
      retainChanges: config.retainChanges,
      onDurable: (covered) => this.onDurable(covered),
      onCompacted: () => this.lag.compacted(),
      onError: (err) => this.onStorageFailure(err),
    })
  }

  /** True once the durable log has been replayed. */
  get recovered(): boolean {
    return this.recoveredFlag
  }

  /** The storage error that stopped persistence, or null. */
  get storageFailure(): unknown {
    return this.storageError
  }

  /** Records in the storage log: the tail compaction has not cut yet, not the history. */
  get logRecords(): number {
    return this.snapshots.storedRecords
  }

  get clients(): number {
    return this.clientCount
  }

  /** What is durable in every member region: the pointwise minimum of their durable vectors. */
  get replicatedVector(): VersionVector {
    return this.acks.replicatedVector
  }

  /** The token for the current state (base64url version vector). */
  token(): string {
    return vectorToken(this.mesh.vector)
  }

  /**
   * Loads the stored document states, then replays the durable log's tail (in chunks) into the mesh,
   * before any link is attached. Each record must decode as a change; a record that does not is
   * reported with its index. A data directory of an older version (no stored states) is replayed
   * whole once, and compacted by the first snapshot round.
   */
  async recover(): Promise<{ changes: number; documents: number }> {
    // Conflict records first: the replay below observes again what the stored ones already hold.
    await this.conflicts.load()
    const { documents } = await this.snapshots.recover()
    const { firstIndex, lastIndex } = await this.storage.logBounds(CRDT_LOG)
    let count = 0
    for (let from = firstIndex; from <= lastIndex; from += RECOVERY_CHUNK_RECORDS) {
      const to = Math.min(lastIndex, from + RECOVERY_CHUNK_RECORDS - 1)
      const records = await this.storage.readLog(CRDT_LOG, from, to)
      const changes: Change[] = []
      records.forEach((record, i) => {
        try {
          // A record the stored documents already cover is only counted, never decoded whole.
          const id = peekChangeId(record)
          if (id.seq <= this.mesh.logBase(id.origin)) {
            this.snapshots.restoredRecord(id)
            return
          }
          const change = decodeChange(record)
          changes.push(change)
          this.snapshots.restoredRecord(change)
        } catch (err) {
          throw new Error(`meridian: record ${from + i} of storage log '${CRDT_LOG}' is not a change: ${String(err)}`, {
            cause: err,
          })
        }
      })
      this.mesh.restore(changes)
      count += changes.length
    }
    this.mesh.finishRestore()
    // Stored documents were loaded without the apply hooks: hash every document now, while the node is
    // not serving yet, rather than stall the event loop on the first /status or /metrics request.
    this.digests.rescan()
    this.digests.reports()
    this.snapshots.recovered()
    this.recoveredFlag = true
    this.antiEntropyTimer = setInterval(() => this.mesh.antiEntropy(), ANTI_ENTROPY_INTERVAL_MS)
    this.antiEntropyTimer.unref()
    this.lastCaughtUpMs = this.caughtUp() ? this.wallClock() : null
    this.stalenessTimer = setInterval(() => this.stalenessMs(), STALENESS_CHECK_MS)
    this.stalenessTimer.unref()
    this.acks.scheduleCheck()
    return { changes: count, documents }
  }

  // ---- links -------------------------------------------------------------------------------------

  /**
   * A peer or client finished its handshake: connect it to the mesh (which announces our vector), and
   * tell it what we know is durable, so it does not have to wait for the next write to learn it.
   * A second link with the same id replaces the first.
   */
  attach(id: string, kind: ConnectionKind, transport: LinkTransport): void {
    const existing = this.links.get(id)
    if (existing !== undefined) {
      this.links.delete(id)
      existing.flow.stop()
      this.mesh.disconnect(id)
      if (existing.kind === 'client') this.clientCount -= 1
      existing.transport.close(CloseCode.FORBIDDEN, 'replaced by a newer connection with the same id')
    }
    const highWaterBytes = Math.max(1, Math.floor(this.config.maxSendBufferBytes / 2))
    const resync = new ResyncBudget({ budgetBytes: this.config.resyncBudgetBytes, windowMs: this.config.resyncWindowMs, now: this.monotonicClock })
    const flow = new LinkFlow({
      transport,
      highWaterBytes,
      lowWaterBytes: Math.max(1, Math.floor(highWaterBytes / 2)),
      encode: (message) => this.encode(message),
      onSent: (changes) => {
        resync.observeChanges(changes, this.mesh.vector)
        const counters = this.peerCounters.get(id)
        if (counters !== undefined) counters.sentChanges += changes.length
      },
      onPause: () => this.metrics.linkPauses.inc({ kind }),
      resync: (delivered) => {
        if (this.links.get(id)?.flow !== flow) return
        this.mesh.receive(id, { type: MessageType.VersionVector, vector: delivered })
      },
    })
    const link: Link = { kind, transport, flow, resync, ackSent: 0, replicatedSent: 0 }
    this.links.set(id, link)
    if (kind === 'client') this.clientCount += 1
    this.mesh.connect(id)
    const durable = this.mesh.durableVector
    if (kind === 'client') this.ackClient(id, link, this.mesh.authorDurable(id))
    else if (durable.size > 0) transport.send(encodeMessage({ type: MessageType.Ack, node: this.config.nodeId, durable: new Map(durable) }))
    if (kind === 'peer') {
      for (const member of this.members) {
        if (member === this.config.nodeId || member === id) continue
        const known = this.mesh.durableOf(member)
        if (known !== undefined && known.size > 0) {
          transport.send(encodeMessage({ type: MessageType.Ack, node: member, durable: new Map(known) }))
        }
      }
    } else {
      this.replicatedToClient(id, link)
    }
  }

  /**
   * A client learns only its own entry: how far its writes are durable here (`MeshNode.authorDurable`),
   * all its write handles need. Sending it the whole vector after every group commit cost every client
   * the number of writers ever seen, per commit (7 GiB over 5,000 clients in bench:storage before).
   */
  private ackClient(id: string, link: Link, seq: number): void {
    if (seq <= link.ackSent) return
    link.ackSent = seq
    link.flow.offer({ type: MessageType.Ack, node: this.config.nodeId, durable: new Map([[id, seq]]) })
  }

  /**
   * Likewise for what every region holds: the client's own seq, when it grew (the author table's, or
   * an older version's entry for the client's own origin).
   */
  private replicatedToClient(id: string, link: Link): void {
    const seq = Math.max(this.mesh.authors.replicated(id), this.acks.replicatedVector.get(id) ?? 0)
    if (seq <= link.replicatedSent) return
    link.replicatedSent = seq
    link.transport.send(encodeMessage({ type: MessageType.Replicated, vector: new Map([[id, seq]]) }))
  }

  /** The link ended. Ignored when `transport` is no longer the link registered for `id` (it was replaced). */
  detach(id: string, transport: LinkTransport): void {
    const link = this.links.get(id)
    if (link === undefined || link.transport !== transport) return
    this.links.delete(id)
    link.flow.stop()
    this.mesh.disconnect(id)
    if (link.kind === 'client') this.clientCount -= 1
  }

  isAttached(id: string): boolean {
    return this.links.has(id)
  }

  /** One decoded frame from an attached link (after its handshake). */
  receive(id: string, message: Message): void {
    const link = this.links.get(id)
    if (link === undefined) return
    if (message.type === MessageType.ChangeBatch) {
      const counters = this.peerCounters.get(id)
      if (counters !== undefined) counters.receivedChanges += message.changes.length
      // A client may only write to the crdt collections this cluster serves, with their type. The whole
      // batch is refused before any of it enters the log (its seqs must stay dense).
      const refused = link.kind === 'client' ? refusedChange(this.config, id, message.changes) : null
      if (refused !== null) {
        this.logger.warn(`client ${id}: ${refused}`)
        link.transport.close(CloseCode.FORBIDDEN, refused)
        return
      }
    }
    if (link.kind === 'client' && CLIENT_FORBIDDEN.has(message.type)) {
      this.logger.warn(`client ${id}: sent a frame of type ${message.type}, which only regions may send`)
      link.transport.close(CloseCode.FORBIDDEN, `only regions may send frames of type ${message.type}`)
      return
    }
    if (message.type === MessageType.Ephemeral) {
      // Relayed state, never logged: for whoever listens here (server/yjs-rooms.ts), not for the mesh.
      for (const listener of this.ephemeralListeners) listener(message)
      return
    }
    if (message.type === MessageType.VersionVector && !this.allowAnnouncement(id, link, message.vector)) return
    link.flow.observeIncoming(message)
    this.mesh.receive(id, message)
    if (message.type === MessageType.ChangeBatch) link.resync.observeChanges(message.changes, this.mesh.vector)
    if (message.type === MessageType.Ack) this.acks.scheduleCheck()
    this.schedulePropagate()
  }

  /**
   * [PF4] Charges an announcement from a link to its resync budget (core/mesh/resync-budget.ts): what
   * answering it would resend of what the link already held or was sent. Beyond the budget the link is
   * closed with RESYNC_LIMIT before anything is resent, so no connection can make the region send its
   * log over and over. Flow control's own replay goes straight to the mesh and is never charged.
   */
  private allowAnnouncement(id: string, link: Link, vector: VersionVector): boolean {
    const verdict = link.resync.announce(vector, this.mesh.vector, (origin, seq) => this.bytesThrough(origin, seq))
    if (verdict.allowed) {
      if (verdict.resentBytes > 0) this.metrics.resyncBytes.inc({ kind: link.kind }, verdict.resentBytes)
      return true
    }
    this.refuseResync(id, link, `${verdict.resentBytes} bytes the connection already held or was sent`, verdict.availableBytes)
    return false
  }

  /** Closes a link whose announcements would make the node resend more than its budget allows [IN3]. */
  private refuseResync(id: string, link: Link, what: string, available = link.resync.availableBytes): void {
    const message =
      `this announcement would make the node resend ${what}; ` +
      `${Math.floor(available)} of ${this.config.resyncBudgetBytes} left per ${this.config.resyncWindowMs} ms`
    this.metrics.connectionsResyncLimited.inc({ kind: link.kind })
    this.metrics.rejected('RESYNC_LIMIT')
    this.logger.warn(`${link.kind} ${id}: RESYNC_LIMIT: ${message}`)
    link.transport.close(CloseCode.RESYNC_LIMIT, message)
  }

  /** Streams what arrived during this event-loop turn, once, after every frame of the turn was read. */
  private schedulePropagate(): void {
    if (this.propagateScheduled || !this.mesh.hasNews) return
    this.propagateScheduled = true
    setImmediate(() => {
      this.propagateScheduled = false
      this.mesh.propagate()
    })
  }

  counters(peer: string): LinkCounters {
    return this.peerCounters.get(peer) ?? { sentChanges: 0, receivedChanges: 0 }
  }

  /** Bytes waiting in the socket buffer of the link to `id`; undefined when not attached. */
  linkBufferedBytes(id: string): number | undefined {
    return this.links.get(id)?.transport.bufferedAmount
  }

  /** Whether ChangeBatches to `id` are held back until its socket drains [PF4]. */
  isPaused(id: string): boolean {
    return this.links.get(id)?.flow.isPaused ?? false
  }

  private sendTo(peer: string, message: Message): void {
    const link = this.links.get(peer)
    if (link === undefined) return
    if (link.kind === 'client' && message.type === MessageType.Ack) {
      if (message.node === this.config.nodeId) this.ackClient(peer, link, message.durable.get(peer) ?? 0)
      return
    }
    if (message.type === MessageType.DocumentStates) {
      let bytes = 0
      for (const document of message.documents) bytes += document.state.length
      if (!link.resync.spend(bytes)) {
        this.refuseResync(peer, link, `${bytes} bytes of document states it already held`)
        this.detach(peer, link.transport)
        return
      }
    } else if (message.type === MessageType.StateCovered) {
      link.resync.observeCovered(message.vector, this.mesh.vector)
    }
    link.flow.offer(message)
  }

  /** The mesh hands the same message object to several peers (acks); encode it once [PF1]. */
  private encode(message: Message): Uint8Array {
    if (this.lastEncoded?.message === message) return this.lastEncoded.bytes
    const bytes = encodeMessage(message)
    this.lastEncoded = { message, bytes }
    return bytes
  }

  // ---- durability --------------------------------------------------------------------------------

  private onDurable(covered: VersionVector): void {
    this.mesh.markDurable(covered)
    this.schedulePropagate()
    this.acks.durableChanged()
    // Changes learnt since the last turn may name authors whose copies are already replicated.
    this.settleAuthors()
  }

  private onStorageFailure(err: unknown): void {
    if (this.storageError !== null) return
    this.storageError = err ?? new Error('storage failed')
    this.metrics.storageFailures.inc()
    this.logger.error('storage failed; writes are no longer persisted', err)
    this.acks.storageFailed()
  }

  /** Every member holds more durably: tell the clients (their `replicated` handles resolve on it). */
  private onReplicated(): void {
    this.settleAuthors()
    for (const [id, link] of this.links) if (link.kind === 'client') this.replicatedToClient(id, link)
  }

  /** Moves authors' replicated seqs over what every member holds, and tells those connected. */
  private settleAuthors(): void {
    for (const author of this.mesh.authors.settle(this.acks.replicatedVector)) {
      const link = this.links.get(author)
      if (link?.kind === 'client') this.replicatedToClient(author, link)
    }
  }

  // ---- REST --------------------------------------------------------------------------------------

  private collection(collection: string): CollectionConfig {
    const spec = collectionSpec(this.config, collection)
    if (spec === undefined) throw new WriteError('UNKNOWN_COLLECTION', `no collection ${JSON.stringify(collection)}`)
    // REST routes strict collections to server/strict before they get here; direct callers learn why.
    if (spec.mode === 'strict') {
      throw new WriteError('UNSUPPORTED_FOR_TYPE', `collection ${JSON.stringify(collection)} is strict: it lives in the strict log (StrictHost), not the crdt mesh`)
    }
    return spec
  }

  private assertServing(): void {
    if (!this.recoveredFlag) throw new WriteError('UNAVAILABLE', 'the node is still recovering its log')
    if (this.closing) throw new WriteError('UNAVAILABLE', 'the node is shutting down')
  }

  /**
   * How stale this region's crdt state may be, in ms: 0 while every configured peer is linked and none is
   * known to hold a change this region lacks; otherwise the time since that was last so (checked every
   * 100 ms and on every call); null if it never was. What a peer wrote and has not sent yet is not known
   * here, so the figure is low by at most that delivery.
   */
  stalenessMs(): number | null {
    const now = this.wallClock()
    if (this.caughtUp()) this.lastCaughtUpMs = now
    return this.lastCaughtUpMs === null ? null : Math.max(0, now - this.lastCaughtUpMs)
  }

  private caughtUp(): boolean {
    for (const peer of this.config.peers) {
      const link = this.links.get(peer.nodeId)
      if (link === undefined || link.kind !== 'peer' || this.mesh.peerAhead(peer.nodeId)) return false
    }
    return true
  }

  /**
   * A read after a token [RD1 for crdt]: waits until this region holds everything `after` names, at most
   * `timeoutMs` (`VectorWaiters`); then reads, or fails `NOT_YET`.
   */
  async readAfter(collection: string, id: string, after: VersionVector, timeoutMs: number): Promise<DocumentResult> {
    this.assertServing()
    this.collection(collection)
    if (!(await this.vectorWaiters.wait(after, timeoutMs))) {
      throw new WriteError('NOT_YET', `this region does not hold everything the token names after ${timeoutMs} ms`)
    }
    return this.read(collection, id)
  }

  /** The current view of a document, or `NOT_FOUND`. */
  read(collection: string, id: string): DocumentResult {
    this.assertServing()
    this.collection(collection)
    const doc = this.mesh.existingReplica(collection, id)?.view() ?? null
    if (doc === null) throw new WriteError('NOT_FOUND', `no document ${JSON.stringify(id)} in ${JSON.stringify(collection)}`)
    return { collection, id, doc, token: this.token() }
  }

  /** The lww collection `collection`, or UNKNOWN_COLLECTION / UNSUPPORTED_FOR_TYPE saying why not. */
  private lwwCollection(collection: string): void {
    const spec = this.collection(collection)
    if (spec.mode === 'crdt' && spec.type === 'lww') return
    throw new WriteError(
      'UNSUPPORTED_FOR_TYPE',
      `${JSON.stringify(collection)} is a ${spec.mode === 'crdt' ? spec.type : spec.mode} collection: only lww collections have conflict records (${spec.mode === 'crdt' ? `${spec.type} keeps every concurrent edit` : 'one primary orders every write'})`,
    )
  }

  /** Conflict records of a document, oldest first (docs/server.md, "Conflicts"). */
  conflictsOf(collection: string, id: string): StoredConflict[] {
    this.assertServing()
    this.lwwCollection(collection)
    return this.conflicts.of(collection, id)
  }

  /** A collection's conflict records with a cursor above `after`, oldest first, at most `limit`. */
  listConflicts(collection: string, after: number, limit: number, unresolvedOnly: boolean): ConflictPage {
    this.assertServing()
    this.lwwCollection(collection)
    return this.conflicts.list(collection, after, limit, unresolvedOnly)
  }

  /**
   * Resolves conflict record `cursor` of document `id`: writes `resolution` to the record's field (a value,
   * or its deletion) as an ordinary lww write of this region, stamped after both sides, so it wins
   * everywhere, and marks the record resolved (persisted with the write's group commit). Idempotent: a
   * record already resolved is answered as it is, nothing written, after waiting for its resolving write
   * like a write waits (`w`). NOT_FOUND when this node keeps no such record for that document.
   */
  async resolveConflict(
    collection: string,
    id: string,
    cursor: number,
    resolution: { readonly value: unknown } | { readonly deleted: true },
    w: CrdtRestConcern,
  ): Promise<{ conflict: StoredConflict; alreadyResolved: boolean; token: string; ack: AckLevel }> {
    this.assertServing()
    if (this.storageError !== null) throw new WriteError('UNAVAILABLE', 'storage failed; the node no longer accepts writes')
    this.lwwCollection(collection)
    const record = this.conflicts.get(cursor)
    if (record === undefined || record.collection !== collection || record.docId !== id) {
      throw new WriteError('NOT_FOUND', `no conflict record ${cursor} of ${JSON.stringify(id)} in ${JSON.stringify(collection)} at ${this.config.nodeId} (evicted, or observed by another region)`)
    }
    let resolved = record
    const alreadyResolved = record.resolved
    if (!alreadyResolved) {
      const replica = this.mesh.replica(collection, id, 'lww')
      if (!(replica instanceof LwwReplica)) throw new WriteError('UNSUPPORTED_FOR_TYPE', `document ${JSON.stringify(id)} exists with type ${replica.docType}`)
      const deleted = 'deleted' in resolution
      const value = deleted ? undefined : resolution.value
      let payload: Uint8Array
      try {
        payload = lwwPatchPayload(replica, { [record.field]: value }, this.config.values)
      } catch (err) {
        if (err instanceof InvalidValueError) throw err
        throw new WriteError('BAD_REQUEST', err instanceof Error ? err.message : String(err))
      }
      // The region's clock has received both sides' stamps, so this write's is newer than either.
      const change = this.mesh.commit(collection, id, 'lww', payload)
      resolved = this.conflicts.resolve(cursor, { value: deleted ? null : value, deleted, origin: change.origin, seq: change.seq, hlc: change.hlc, atMs: this.wallClock() }) ?? record
    }
    const seq = resolved.resolution?.origin === this.config.nodeId ? resolved.resolution.seq : 0
    const token = this.token()
    let ack: AckLevel = (await this.acks.waitLocal(seq)) ? 'local' : 'indeterminate'
    if (ack === 'local' && w === 'all') ack = await this.acks.waitAll(seq)
    return { conflict: resolved, alreadyResolved, token, ack }
  }

  /**
   * Called with every conflict record this node keeps from now on, once it is durable (not with those the
   * log's replay observes again at restart). Synchronous, in the group commit's report: defer real work.
   */
  onConflict(listener: (record: StoredConflict) => void): () => void {
    this.conflictListeners.add(listener)
    return () => void this.conflictListeners.delete(listener)
  }

  /**
   * A REST write on an lww collection: `put` makes the document exactly `body`, `patch` applies a JSON
   * merge patch (null deletes a field), `delete` deletes the document. Resolves once the change is
   * durable here (`local`), or durable in every member region (`all`); a `w=all` that times out
   * answers `indeterminate`, as does a write whose storage failed — never "failed" [ST3].
   */
  async write(op: CrdtRestOp, collection: string, id: string, body: Readonly<Record<string, unknown>> | null, w: CrdtRestConcern): Promise<WriteResult> {
    this.assertServing()
    if (this.storageError !== null) throw new WriteError('UNAVAILABLE', 'storage failed; the node no longer accepts writes')
    const spec = this.collection(collection)
    if (spec.mode !== 'crdt' || spec.type !== 'lww') {
      throw new WriteError('UNSUPPORTED_FOR_TYPE', `REST writes need an lww collection; ${JSON.stringify(collection)} is ${spec.mode === 'crdt' ? spec.type : spec.mode}`)
    }
    const replica = this.mesh.replica(collection, id, 'lww')
    if (!(replica instanceof LwwReplica)) {
      throw new WriteError('UNSUPPORTED_FOR_TYPE', `document ${JSON.stringify(id)} exists with type ${replica.docType}`)
    }
    const payload = lwwRestPayload(op, replica, body, this.config.values)
    this.checkDocumentSize(collection, id, payload, replica)
    const change = this.mesh.commit(collection, id, 'lww', payload)
    // [PF3] A patch answers the fields it named, read one by one: the whole view (and its JSON) would
    // make a one-field patch cost the document. A put writes every field anyway; a delete's view is null.
    const after = op === 'patch' ? { fields: patchedFields(body ?? {}, (field) => replica.get(field)) } : { doc: replica.view() }
    const token = this.token()
    let ack: AckLevel = (await this.acks.waitLocal(change.seq)) ? 'local' : 'indeterminate'
    if (ack === 'local' && w === 'all') ack = await this.acks.waitAll(change.seq)
    this.metrics.restWrites.inc({ op, ack })
    return { collection, id, ...after, token, ack }
  }

  /**
   * Called whenever a crdt document's content changes here, whoever changed it (this region, a client,
   * a peer, a state transfer). Synchronous, in the middle of the change's application: defer real work.
   */
  onDocumentChanged(listener: (collection: string, docId: string) => void): () => void {
    this.documentListeners.add(listener)
    return () => void this.documentListeners.delete(listener)
  }

  /** [permissions] The mesh's `readable`: the principal of the client's current link decides. */
  private readableBy(authorizer: Authorizer): (peer: string, collection: string, docId: string) => boolean {
    return (peer, collection, docId) => authorizer.mayRead(this.links.get(peer)?.transport.principal ?? ANONYMOUS, collection, docId)
  }

  /** Called with every `Ephemeral` frame a peer sends. */
  onEphemeral(listener: (message: EphemeralMessage) => void): () => void {
    this.ephemeralListeners.add(listener)
    return () => void this.ephemeralListeners.delete(listener)
  }

  /**
   * Sends `message` to every peer connected now. Ephemeral state is lossy by nature: a peer whose link
   * is backed up does not get it (the next update, or the awareness timeout, makes up for it).
   */
  relayEphemeral(message: EphemeralMessage): void {
    const bytes = encodeMessage(message)
    for (const link of this.links.values()) {
      if (link.kind !== 'peer' || link.transport.bufferedAmount > this.config.maxSendBufferBytes / 2) continue
      link.transport.send(bytes)
    }
  }

  /**
   * A change this region writes itself, as a writer of its own (a Yjs room edit from `ws /yjs/:room`):
   * logged, stored and replicated like a REST write's. Throws `WriteError` when the node cannot take
   * it or the collection holds another type.
   */
  commitLocal(collection: string, id: string, docType: DocType, payload: Uint8Array): Change {
    this.assertServing()
    if (this.storageError !== null) throw new WriteError('UNAVAILABLE', 'storage failed; the node no longer accepts writes')
    this.checkDocumentSize(collection, id, payload, this.replicaOf(collection, id, docType))
    return this.mesh.commit(collection, id, docType, payload)
  }

  /** [limits] `limits.maxDocumentBytes` for this region's own writes (REST, `/yjs`, `/automerge`): `TOO_LARGE`. */
  private checkDocumentSize(collection: string, id: string, payload: Uint8Array, replica: DocumentReplica): void {
    const tooLarge = this.documentSizes.refusalOf(collection, id, payload.length, replica)
    if (tooLarge === null) return
    this.metrics.limitRefusals.inc({ limit: 'documentBytes' })
    throw new WriteError('TOO_LARGE', tooLarge)
  }

  /** The document's replica (created empty if need be), or `UNSUPPORTED_FOR_TYPE` for another type. */
  replicaOf(collection: string, id: string, docType: DocType): DocumentReplica {
    this.assertServing()
    const spec = this.collection(collection)
    if (spec.mode !== 'crdt' || spec.type !== docType) {
      throw new WriteError('UNSUPPORTED_FOR_TYPE', `${JSON.stringify(collection)} does not hold ${docType} documents`)
    }
    const replica = this.mesh.replica(collection, id, docType)
    if (replica.docType !== docType) throw new WriteError('UNSUPPORTED_FOR_TYPE', `document ${JSON.stringify(id)} exists with type ${replica.docType}`)
    return replica
  }

  // ---- status ------------------------------------------------------------------------------------

  /**
   * What this node holds that `peer` has not acknowledged durable: count, encoded bytes, and the age
   * of the oldest by HLC wall time. O(origins), not O(lag) [PF3].
   */
  lagOf(peer: string): Lag {
    return this.lag.lagOf(peer)
  }

  /**
   * Every crdt collection's digest and documents, with the vector they were computed at, read in one
   * synchronous turn (docs/crdt.md "Divergence digest"): equal vectors with different digests means the
   * regions diverged. Hashes again only the documents changed since the last call.
   */
  collectionDigests(): { vector: VersionVector; collections: Map<string, CollectionDigestReport & { type: DocType }> } {
    const types = new Map<string, DocType>()
    for (const [name, spec] of Object.entries(this.config.collections)) if (spec.mode === 'crdt') types.set(name, spec.type)
    const reports = this.digests.reports(types.keys())
    const collections = new Map<string, CollectionDigestReport & { type: DocType }>()
    for (const [name, type] of types) collections.set(name, { type, ...(reports.get(name) as CollectionDigestReport) })
    return { vector: new Map(this.mesh.vector), collections }
  }

  /** Encoded bytes of `origin`'s changes 1..seq. */
  private bytesThrough(origin: string, seq: number): number {
    return this.lag.bytesThrough(origin, seq)
  }


  // ---- shutdown ----------------------------------------------------------------------------------

  /** Stops taking writes, waits for queued changes to become durable, answers pending acks, closes storage. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    if (this.antiEntropyTimer !== null) clearInterval(this.antiEntropyTimer)
    if (this.stalenessTimer !== null) clearInterval(this.stalenessTimer)
    this.vectorWaiters.close()
    for (const [id, link] of this.links) {
      link.flow.stop()
      this.mesh.disconnect(id)
    }
    this.links.clear()
    this.clientCount = 0
    await this.commits.idle()
    if (this.storageError === null) await this.snapshots.close()
    this.acks.close()
    try {
      await this.storage.close()
    } catch (err) {
      this.logger.error('closing storage failed', err)
    }
  }
}

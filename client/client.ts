import { HlcClock } from '../core/clock/hlc.js'
import type { StoredDocumentState } from '../core/codec/document-state.js'
import { MessageType, type RejectedMessage } from '../core/codec/messages.js'
import type { ApplyResult, DocumentReplica } from '../core/crdt/document-type.js'
import { documentKey, MeshNode, type MeshStats } from '../core/mesh/mesh-node.js'
import type { JsonValue } from '../core/strict/types.js'
import type { Change, DocType, VersionVector } from '../core/types.js'
import { NO_FRAME_EXTENSIONS, type FrameCodec } from '../core/codec/base-codec.js'
import type { AutomergeCollection } from './automerge-collection.js'
import { ClientConnection, GLOBAL_TIMERS, type ConnectionStatus, type Timers } from './connection.js'
import { expectDocType, type ClientContext } from './context.js'
import { ClientClosedError, WriteRejectedError, type ConnectionError } from './errors.js'
import { Listeners, reportListenerError } from './listeners.js'
import { LocalContext } from './local-context.js'
import type { HubObserver } from './tab-messages.js'
import { ClientInterest } from './interest.js'
import type { LwwCollection } from './lww-collection.js'
import { checkModules, ClientCollections, ReplicaTypes } from './collections.js'
import { cryptoRandom, randomClientId } from './random.js'
import { memoryClientStore, type ClientStore } from './store.js'
import type { StrictCollection, StrictReadDefaults } from './strict-collection.js'
import type { StrictWriteOutcome } from './strict-queue.js'
import { missingModule, type ClientModule, type StrictSide } from './modules.js'
import type { WebSocketConstructor } from './websocket.js'
import { WriteHandleTracker, type WriteHandle } from './write-handle.js'
import type { YjsCollection } from './yjs-collection.js'
import type { SyncState } from './sync-state.js'

export interface ClientOptions {
  /**
   * Region URLs (`ws://host:port` or `wss://…`; the `/sync` path is added when there is none). The
   * client connects to the first and moves to the next, round robin, whenever one fails.
   */
  readonly urls: readonly string[]
  /** This client's writer id. Default: `c-` and 12 random base36 characters. Reuse it only with the same store. */
  readonly clientId?: string
  /** Credentials sent in the handshake (the server's `clientToken`, or a signed token: docs/security.md). */
  readonly token?: string
  /**
   * Asked for credentials before every connection attempt, instead of `token`: when the server ends a
   * session because its token expired (TOKEN_EXPIRED), the client reconnects with a fresh one.
   */
  readonly getToken?: () => string | Promise<string>
  /** WebSocket implementation. Default `globalThis.WebSocket`; `meridian/client/node` injects `ws`. */
  readonly WebSocket?: WebSocketConstructor
  /** Where changes are kept. Default `memoryClientStore()`: nothing survives a restart. */
  readonly store?: ClientStore
  /** First reconnect delay in ms, before jitter. Default 100. */
  readonly minDelayMs?: number
  /** Cap of the exponential reconnect delay in ms. Default 5000. */
  readonly maxDelayMs?: number
  /** A handshake not accepted within this many ms counts as a failed attempt. Default 10 000. */
  readonly handshakeTimeoutMs?: number
  /** Frames from the server above this size are refused. Default 16 MiB. */
  readonly maxFrameBytes?: number
  /** Conflict records kept per LWW document (oldest dropped first). Default 100. */
  readonly maxConflictsPerDocument?: number
  /** Randomness in [0, 1). Default `crypto.getRandomValues`. */
  readonly random?: () => number
  /** Wall clock in ms for the hybrid logical clock. Default `Date.now`. */
  readonly now?: () => number
  /** Timers for reconnects, handshake timeouts and strict answer deadlines. Default the global ones. */
  readonly timers?: Timers
  /**
   * Strict writes sent and not yet answered, at most. Default 1: strict writes go out one at a time,
   * in the order they were made, and a dropped connection leaves at most one `indeterminate`.
   */
  readonly strictMaxInFlight?: number
  /**
   * What the client can do beyond lww collections: `strictSupport` (meridian/client/strict),
   * `yjsSupport` (meridian/client/yjs), `automergeSupport` (meridian/client/automerge). Each is an
   * entry of its own so that a bundle carries only what the app uses. `createNodeClient` passes all three.
   */
  readonly use?: readonly ClientModule[]
}

/**
 * A Meridian client: local replicas of crdt collections, kept in sync with the regions over one
 * WebSocket. Writes apply locally at once (online or not) and reach the regions when connected.
 *
 * @example
 * ```ts
 * const client = createClient({ urls: ['wss://eu.example.com', 'wss://us.example.com'] })
 * const notes = client.lww<{ title: string }>('notes')
 * const w = notes.put('n1', { title: 'hello' })
 * notes.subscribe('n1', (doc) => render(doc))
 * await w.replicated
 * ```
 */
export interface MeridianClient {
  readonly clientId: string
  readonly status: ConnectionStatus
  /** The node id and region of the region server we are connected to, or null. */
  readonly server: { readonly nodeId: string; readonly region: string } | null
  /** The error that made the client stop reconnecting (`UNAUTHORIZED` …), or null. */
  readonly error: ConnectionError | null
  /** Own changes not yet durable at any region (including those written while offline). */
  readonly outboxSize: number
  /** What this client holds, per origin. Live view: do not mutate. */
  readonly vector: VersionVector
  /** Replication counters of the client's replica (applied, duplicates …). */
  readonly stats: Readonly<MeshStats>
  /** Called on every status change. Returns the unsubscribe function. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void
  /** Called for every failed connection attempt or lost session (see `ConnectionError.fatal`). */
  onError(listener: (error: ConnectionError) => void): () => void
  /**
   * Called when a region refused one of this client's crdt writes (docs/security.md, "Refused
   * writes"); the document is already back at the region's state. Returns the unsubscribe function.
   */
  onWriteRejected(listener: (error: WriteRejectedError) => void): () => void
  /** Connection and outbox at a glance, for a UI: the region, reconnecting or not, writes not synced yet. */
  readonly syncState: SyncState
  /**
   * Called with the new `syncState` whenever it changes (at most once per microtask: a loop of writes
   * makes one call). Returns the unsubscribe function.
   */
  onSyncState(listener: (state: SyncState) => void): () => void
  lww<T extends Record<string, unknown> = Record<string, unknown>>(collection: string): LwwCollection<T>
  yjs(collection: string): YjsCollection
  automerge<T extends object = Record<string, unknown>>(collection: string): AutomergeCollection<T>
  /**
   * A strict (primary-replica) collection: writes go to the primary, reads ask a region. `readDefaults`
   * (e.g. `{ read: 'nearest', maxStalenessMs: 500 }`) route its reads unless a read says otherwise;
   * `.primary()` is the escape hatch (docs/client.md, "Read routing").
   */
  strict<T extends JsonValue = JsonValue>(collection: string, readDefaults?: StrictReadDefaults): StrictCollection<T>
  /**
   * Called once with the outcome of every strict write of this client, whichever collection made it,
   * including writes restored from the store by a restart (`outcome.write.restored`). Outcomes of
   * restored writes that settle before any listener exists are held and delivered to the first
   * listener that registers. Returns the unsubscribe function.
   */
  onStrictOutcome(listener: (outcome: StrictWriteOutcome) => void): () => void
  /**
   * `epoch:lsn` of the highest committed strict position this client has seen (majority-or-better
   * write acknowledgements, read answers, subscription changes), or null. Every strict read asks for state at or after
   * it [RD2].
   */
  readonly strictToken: string | null
  /**
   * Closes the connection and the store. Pending `durable` / `replicated` promises and pending strict
   * writes and reads reject with `ClientClosedError` (queued strict writes stay in the store); writes
   * afterwards throw it (strict writes reject with it).
   */
  close(): Promise<void>
}

/** Conflict records kept per LWW document when `maxConflictsPerDocument` is not given. */
export const DEFAULT_MAX_CONFLICTS_PER_DOCUMENT = 100

/**
 * Creates a client and starts connecting.
 *
 * @example
 * ```ts
 * const client = createClient({ urls: ['ws://127.0.0.1:4101', 'ws://127.0.0.1:4102'], token })
 * client.onStatus((status) => badge.textContent = status)
 * ```
 */
export function createClient(options: ClientOptions): MeridianClient {
  return new Client(options)
}

/** The client class, for the tabs module's leader client (client/hub-client.ts); apps use `createClient`. */
export class Client extends LocalContext implements MeridianClient, ClientContext {
  readonly clientId: string
  protected readonly mesh: MeshNode
  private readonly connection: ClientConnection
  private readonly store: ClientStore
  private readonly tracker: WriteHandleTracker
  /** The strict module's side of this client, or null without it. */
  protected readonly strictSide: StrictSide | null
  protected readonly collections: ClientCollections
  /** Highest own seq handed to the store and not yet marked durable in the mesh; 0 when none. */
  private ownUnsettled = 0
  private settleScheduled = false
  private storeWrites: Promise<void>[] = []
  private durability: Promise<void> = Promise.resolve()
  /** Asynchronous settlements in flight; a later synchronous one must queue behind them. */
  private settling = 0
  private storeFailure: unknown = null
  /** The pending save of documents (see scheduleStoreDocuments). */
  private storeTimer: unknown = null
  /** How far every region holds this client's own changes (its entry of `Replicated`). */
  private ownReplicated = 0
  private storeSaves: Promise<void> = Promise.resolve()
  private readonly timers: Timers
  /** What this client syncs: the collections it uses and the documents it opens. */
  private readonly interest: ClientInterest
  /** The tabs module's hub, when this client is the one a leader tab runs for every tab (hub-client.ts). */
  protected hubObserver: HubObserver | null = null
  protected closed = false
  private readonly writeRejections = new Listeners<[WriteRejectedError]>()

  constructor(options: ClientOptions) {
    super(options?.maxConflictsPerDocument ?? DEFAULT_MAX_CONFLICTS_PER_DOCUMENT)
    if (!options || !Array.isArray(options.urls)) throw new TypeError('createClient: options.urls must be an array of region URLs')
    const random = options.random ?? cryptoRandom
    const keptId = options.store?.clientId
    if (options.clientId !== undefined && keptId !== undefined && options.clientId !== keptId) {
      throw new TypeError(`createClient: clientId ${JSON.stringify(options.clientId)} differs from the store's ${JSON.stringify(keptId)}, whose outbox belongs to that id`)
    }
    this.clientId = options.clientId ?? keptId ?? randomClientId(random)
    if (typeof this.clientId !== 'string' || this.clientId === '') throw new TypeError('createClient: clientId must be a non-empty string')
    const WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined)
    if (typeof WebSocketImpl !== 'function') {
      throw new TypeError('createClient: no WebSocket available; pass options.WebSocket (or use meridian/client/node)')
    }
    const modules = checkModules(options.use)
    const types = new ReplicaTypes(modules)
    const frames = new Map<number, FrameCodec>()
    for (const module of modules) for (const [type, codec] of module.frames ?? NO_FRAME_EXTENSIONS) frames.set(type, codec)
    this.store = options.store ?? memoryClientStore()
    this.timers = options.timers ?? GLOBAL_TIMERS
    this.tracker = new WriteHandleTracker(this.clientId)
    const now = options.now ?? Date.now
    this.interest = new ClientInterest(
      () => {
        if (!this.closed) this.mesh.resubscribe()
      },
      () => this.mesh.hasBuffered || [...this.mesh.vector.keys()].some((origin) => origin !== this.clientId),
    )
    this.mesh = new MeshNode({
      id: this.clientId,
      clock: new HlcClock({ node: this.clientId, wallClock: now }),
      random,
      createReplica: (docType, context) => types.create(docType, context),
      send: (peer, message) => this.connection.send(peer, message),
      onAppend: (change) => this.persist(change),
      onApplied: (change, result) => this.applied(change, result),
      onStateMerged: (collection, docId, _docType, changed) => this.stateMerged(collection, docId, changed),
      onChangeRefused: (message, voided) => this.refused(message, voided),
      onRefetch: (collection, docId) => this.interest.refetch(collection, docId),
      sendsStateTransfers: false,
      ownChangesOnly: true,
      subscription: (_peer, connecting) => this.interest.subscription(connecting),
      onFetched: (fetch, complete) => this.interest.fetched(fetch, complete),
      // Documents that arrived whole exist nowhere in the store yet: save them soon.
      onStateCovered: () => this.scheduleStoreDocuments(),
    })
    this.connection = new ClientConnection({
      urls: options.urls,
      clientId: this.clientId,
      token: options.token,
      getToken: options.getToken,
      mesh: this.mesh,
      WebSocket: WebSocketImpl,
      random,
      minDelayMs: options.minDelayMs,
      maxDelayMs: options.maxDelayMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxFrameBytes: options.maxFrameBytes,
      frames,
      timers: options.timers,
      onMessage: (_serverId, message) => {
        if (message.type === MessageType.Ack) this.ownDurableAt(message.durable.get(this.clientId) ?? 0)
        else if (message.type === MessageType.ChangeBatch) {
          this.settle()
          this.scheduleStoreDocuments()
        } else if (message.type === MessageType.Skipped || message.type === MessageType.Fetched) this.scheduleStoreDocuments()
        else this.strictSide?.receive(message)
      },
      onReplicated: (vector) => {
        const own = vector.get(this.clientId) ?? 0
        this.tracker.replicatedAt(own)
        this.writeStatuses.replicatedThrough(own)
        this.scheduleSyncState()
        this.hubObserver?.marks(this.writeStatuses.marks)
        if (own > this.ownReplicated) this.ownReplicated = own
        this.scheduleStoreDocuments()
      },
      onSessionStart: () => this.strictSide?.sessionStarted(),
      onSessionEnd: () => this.strictSide?.sessionEnded(),
    })
    const strict = modules.find((module) => module.strict !== undefined)?.strict
    this.strictSide =
      strict === undefined
        ? null
        : strict({
            send: (message) => this.connection.sendToServer(message),
            store: this.store,
            timers: this.timers,
            now,
            maxInFlight: options.strictMaxInFlight,
            clientId: this.clientId,
            // A random part per client instance: the same clientId with a store that no longer holds any
            // strict write restarts writeIds at 1, and must not reuse a key the cluster still remembers.
            instance: randomClientId(random).slice(2, 10),
            onQueueChange: () => this.scheduleSyncState(),
          })
    this.collections = new ClientCollections(this, types, (what) => this.requireStrict(what), () => this.closed)
    // Replay what an earlier session kept, before any region connects: documents, then changes.
    const kept = this.store.loadDocuments?.()
    if (kept !== undefined) this.mesh.restoreDocuments(this.documentsNoted(kept.documents), kept.covered, [], kept.clock)
    this.mesh.restore(this.ownChangesNoted(this.store.load()))
    this.mesh.finishRestore()
    // What the store held is saved by definition: restored own changes are `local` (in the outbox).
    this.writeStatuses.savedThrough(this.mesh.vector.get(this.clientId) ?? 0)
    this.connection.onStatus(() => this.scheduleSyncState())
    this.connection.start()
  }

  get status(): ConnectionStatus {
    return this.connection.status
  }

  get server(): MeridianClient['server'] {
    const nodeId = this.connection.serverId
    return nodeId === null ? null : { nodeId, region: this.connection.region ?? '' }
  }

  get error(): ConnectionError | null {
    return this.connection.error
  }

  get outboxSize(): number {
    return Math.max(0, (this.mesh.vector.get(this.clientId) ?? 0) - this.tracker.durableThrough)
  }

  get vector(): VersionVector {
    return this.mesh.vector
  }

  get stats(): Readonly<MeshStats> {
    return this.mesh.stats
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.connection.onStatus(listener)
  }

  onError(listener: (error: ConnectionError) => void): () => void {
    return this.connection.onError(listener)
  }

  onWriteRejected(listener: (error: WriteRejectedError) => void): () => void {
    return this.writeRejections.add(listener)
  }

  protected currentSyncState(): SyncState {
    const connection = this.connection
    const status = connection.status
    const state: SyncState = {
      connection:
        status === 'connected'
          ? 'connected'
          : this.closed || connection.error !== null
            ? 'offline'
            : connection.reconnecting
              ? 'reconnecting'
              : 'connecting',
      region: status === 'connected' ? (connection.region ?? '') : null,
      nodeId: status === 'connected' ? connection.serverId : null,
      retryInMs: status === 'connected' ? null : connection.retryDelayMs,
      error: connection.error,
      unsynced: this.writeStatuses.notDurable + (this.strictSide?.size ?? 0),
      unreplicated: this.writeStatuses.notReplicated,
    }
    return state
  }

  onStrictOutcome(listener: (outcome: StrictWriteOutcome) => void): () => void {
    return this.requireStrict('onStrictOutcome').onOutcome(listener)
  }

  get strictToken(): string | null {
    return this.strictSide?.token ?? null
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // Before the connection stops: its session end must not turn pending strict writes indeterminate.
    this.strictSide?.close(new ClientClosedError())
    this.connection.stop()
    this.tracker.close(new ClientClosedError())
    this.endSyncState()
    this.writeStatuses.close()
    for (const hook of this.closeHooks.splice(0)) hook()
    this.documents.clearListeners()
    // A last save, so that the next session on this store reads documents rather than changes.
    if (this.storeTimer !== null) {
      this.timers.clearTimeout(this.storeTimer)
      this.storeTimer = null
      this.storeDocuments()
    }
    await this.storeSaves
    await this.store.close()
  }

  // ClientContext, for the collections.

  replica(collection: string, docId: string, docType: DocType): DocumentReplica {
    return expectDocType(this.mesh.replica(collection, docId, docType), docType, collection, docId)
  }

  write(collection: string, docId: string, docType: DocType, payload: Uint8Array): WriteHandle {
    if (this.closed) throw new ClientClosedError('the Meridian client is closed: writes are no longer accepted')
    const change = this.mesh.commit(collection, docId, docType, payload)
    const handle = this.tracker.track(change.seq)
    this.writeStatuses.wrote(documentKey(collection, docId), change.seq)
    this.scheduleSettle()
    this.scheduleSyncState()
    return handle
  }

  subscribeCollection(collection: string): () => void {
    return this.interest.addCollection(collection)
  }

  openDocument(collection: string, docId: string): () => void {
    return this.interest.openDocument(collection, docId)
  }

  private requireStrict(what: string): StrictSide {
    if (this.strictSide === null) throw missingModule('strict', what)
    return this.strictSide
  }

  /** Every change that enters the mesh's log (own or learnt) goes to the store. */
  private persist(change: Change): void {
    const stored = this.store.append(change)
    if (stored) this.storeWrites.push(stored)
    if (change.origin === this.clientId) this.ownUnsettled = change.seq
  }

  /**
   * Tells the mesh which own changes the store has made durable: they leave the client only then,
   * with an Ack to the region. A synchronous store settles at once; an asynchronous one in call order.
   *
   * Only the client's own origin is marked: the mesh needs it to release own changes, while marking
   * everything learnt would put the whole vector (every writer ever seen) in an Ack after every
   * batch received, and regions have no use for a client's durable copy of their own changes.
   */
  private settle(): void {
    const own = this.ownUnsettled
    this.ownUnsettled = 0
    const writes = this.storeWrites.splice(0)
    if (this.storeFailure !== null || (own === 0 && writes.length === 0)) return
    if (writes.length === 0 && this.settling === 0) {
      this.markOwnDurable(own)
      return
    }
    this.settling += 1
    this.durability = this.durability
      .then(() => Promise.all(writes))
      .then(() => {
        if (!this.closed && this.storeFailure === null) this.markOwnDurable(own)
      })
      .catch((error: unknown) => {
        // Nothing after a failed write may be reported durable: marks are cumulative. Own changes
        // stay in the outbox; the app learns of it as an uncaught error.
        this.storeFailure ??= error
        reportListenerError(error)
      })
      .finally(() => {
        this.settling -= 1
      })
  }

  /**
   * Settles once per microtask: writes made in one synchronous run (a loop of puts) leave as one
   * ChangeBatch with one Ack instead of a frame pair each [PF1].
   */
  protected scheduleSettle(): void {
    if (this.settleScheduled) return
    this.settleScheduled = true
    queueMicrotask(() => {
      this.settleScheduled = false
      this.settle()
    })
  }

  /**
   * Compacts and saves documents at most once per STORE_DOCUMENTS_INTERVAL_MS, after changes arrived,
   * a state transfer, or news of what every region holds: doing it per frame would cost more than the
   * writes themselves.
   */
  private scheduleStoreDocuments(): void {
    if (this.storeTimer !== null) return
    this.storeTimer = this.timers.setTimeout(() => {
      this.storeTimer = null
      if (!this.closed) this.storeDocuments()
    }, STORE_DOCUMENTS_INTERVAL_MS)
  }

  /**
   * [SG3] for a client, state, not history: other writers' changes live on in the documents (a client
   * sends no one else's changes anywhere that matters: regions get them from each other); of its own,
   * the log keeps what not every region holds yet. With a store that keeps documents, the documents
   * changed since the last call are saved, then the kept changes they cover are dropped, in call order
   * with the store's other writes; a failure is reported like theirs.
   */
  private storeDocuments(): void {
    const upToInLog = new Map(this.mesh.vector)
    upToInLog.set(this.clientId, this.ownReplicated)
    this.mesh.compact(upToInLog)
    const store = this.store
    if (store.saveDocuments === undefined || store.dropChanges === undefined || this.storeFailure !== null) return
    const documents: StoredDocumentState[] = []
    const removed: string[] = []
    for (const key of this.mesh.takeChangedDocuments()) {
      const stored = this.mesh.storedDocument(key)
      if (stored !== undefined) documents.push(stored)
      else removed.push(key)
    }
    const covered = new Map(this.mesh.vector)
    // A client sends no state transfers: its own changes count as covered only once every region holds
    // them; the rest stay in the store as changes (the outbox) and are replayed and sent after a restart.
    covered.set(this.clientId, Math.min(covered.get(this.clientId) ?? 0, this.ownReplicated))
    const upTo = covered
    const dropChanges = store.dropChanges.bind(store)
    // Saved even with no document changed: `covered` must be recorded before changes it covers go.
    const saved = store.saveDocuments(documents, covered, this.mesh.clockHighWater, removed)
    this.storeSaves = Promise.resolve(saved)
      .then(() => dropChanges(upTo))
      .catch((error: unknown) => {
        this.storeFailure ??= error
        reportListenerError(error)
      })
  }

  private markOwnDurable(seq: number): void {
    if (seq <= 0) return
    this.writeStatuses.savedThrough(seq)
    this.mesh.markDurable(new Map([[this.clientId, seq]]))
    this.hubObserver?.ownSaved(seq)
  }

  private ownDurableAt(seq: number): void {
    this.tracker.durableAt(seq)
    this.writeStatuses.durableThrough(seq)
    this.scheduleSyncState()
    this.hubObserver?.marks(this.writeStatuses.marks)
  }

  /** Passes the store's documents on, noting them: `ids()` lists them before anything arrives. */
  private *documentsNoted(documents: Iterable<StoredDocumentState>): Iterable<StoredDocumentState> {
    for (const stored of documents) {
      this.documents.note(stored.document.collection, stored.document.docId)
      yield stored
    }
  }

  /** Passes the store's changes on, noting which documents own ones (the outbox) touch. */
  private *ownChangesNoted(changes: Iterable<Change>): Iterable<Change> {
    for (const change of changes) {
      if (change.origin === this.clientId) this.writeStatuses.wrote(documentKey(change.collection, change.docId), change.seq)
      yield change
    }
  }

  private applied(change: Change, result: ApplyResult): void {
    this.documents.applied(change, result)
    if (change.origin !== this.clientId) this.hubObserver?.learnt(change)
  }

  /**
   * A region refused own writes `message.seqs`; the mesh has rebuilt the document. The void entries take
   * the originals' place in the store, so a restart never replays what was refused.
   */
  private refused(message: RejectedMessage, voided: readonly Change[]): void {
    // Told again (a region whose answer was lost, or another region): rebuilt again, not reported again.
    if (voided.length === 0) return
    for (const entry of voided) {
      const stored = this.store.append(entry)
      if (stored) this.storeWrites.push(stored)
    }
    this.scheduleSettle()
    for (const entry of voided) {
      // Plain data for the other tabs: structured cloning keeps only an Error's message.
      const rejection = { code: message.code, collection: message.collection, docId: message.docId, seq: entry.seq, serverMessage: message.message }
      const error = new WriteRejectedError(rejection)
      this.tracker.rejectAt(entry.seq, error)
      this.hubObserver?.refused(rejection)
      this.writeRejections.emit(error)
    }
    // The rebuilt document is saved at once, right behind the void entry: a crash in between would
    // bring the refused write back from an older saved copy, and no region would send it again.
    queueMicrotask(() => {
      if (!this.closed) this.storeDocuments()
    })
  }

  /** A state transfer brought a document's state whole (the client was behind what regions still log). */
  private stateMerged(collection: string, docId: string, changed: boolean): void {
    this.documents.stateMerged(collection, docId, changed)
    this.hubObserver?.stateMerged(collection, docId)
  }
}

/** How often at most a client saves its changed documents to its store (docs/client.md, state, not history). */
export const STORE_DOCUMENTS_INTERVAL_MS = 1000

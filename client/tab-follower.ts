import { HlcClock } from '../core/clock/hlc.js'
import type { DocumentReplica } from '../core/crdt/document-type.js'
import { documentKey, emptyMeshStats, type MeshStats } from '../core/mesh/mesh-node.js'
import type { Change, DocType, DocumentState, VersionVector } from '../core/types.js'
import type { MeridianClient } from './client.js'
import { ClientCollections, ReplicaTypes } from './collections.js'
import type { ConnectionStatus } from './connection.js'
import { expectDocType, type ClientContext } from './context.js'
import { ClientClosedError, ConnectionError, WriteRejectedError } from './errors.js'
import { Listeners } from './listeners.js'
import { LocalContext } from './local-context.js'
import { missingModule, type ClientModule, type StrictSide } from './modules.js'
import type { StrictWriteOutcome } from './strict-queue.js'
import { RemoteStrict } from './tab-strict.js'
import { type SyncState } from './sync-state.js'
import type { FollowerMessage, HubConnection, HubMessage, HubSnapshot, Rejection, RelayedWrite } from './tab-messages.js'
import { deferred, WriteHandleTracker, type Deferred, type WriteHandle } from './write-handle.js'

export interface TabFollowerOptions {
  /** This tab's id: its replicas' writer name (Automerge actors, the stamps' node), never a log origin. */
  readonly tab: string
  readonly modules: readonly ClientModule[]
  readonly maxConflictsPerDocument: number
  readonly now: () => number
  readonly random: () => number
  /** How to reach the hub (the channel, or the hub itself once this tab leads). */
  send(message: FollowerMessage): void
}

/** A write this tab made that the hub has not logged (and saved) yet. */
interface UnconfirmedWrite {
  readonly id: number
  readonly write: RelayedWrite
  readonly key: string
  readonly durable: Deferred
  readonly replicated: Deferred
  /** The hub it was last sent to: a new hub gets it again. */
  sentTo: string | null
  seq: number
}

/**
 * A tab that follows the leader tab (docs/client.md, "Tabs"): the same API as a client, over replicas
 * of its own, with the leader's client doing the storing and the syncing. A write applies here at
 * once with this tab's stamp, goes to the hub, and comes back as the client's own change with the
 * same stamp (so it orders the same everywhere, and applying it again changes nothing). Until the hub
 * has saved it, the write is `pending` and kept here, to be sent again to the next leader.
 */
export class TabFollower extends LocalContext implements MeridianClient, ClientContext {
  private id = ''
  private readonly replicas = new Map<string, DocumentReplica>()
  private readonly clock: HlcClock
  private readonly types: ReplicaTypes
  protected readonly collections: ClientCollections
  private handles: WriteHandleTracker | null = null
  private readonly unconfirmed = new Map<number, UnconfirmedWrite>()
  private writeIds = 0
  private hub: string | null = null
  private hubConnection: HubConnection | null = null
  private readonly interest = new Map<string, { readonly collection: string; readonly docId: string | null; count: number }>()
  private readonly statusListeners = new Listeners<[ConnectionStatus]>()
  private readonly errorListeners = new Listeners<[ConnectionError]>()
  private readonly writeRejections = new Listeners<[WriteRejectedError]>()
  private lastError: ConnectionError | null = null
  private readonly followed: Deferred = deferred()
  /** Strict collections, run by the leader tab; null without the strict module. */
  private readonly remoteStrict: RemoteStrict | null
  private readonly strictModule: ClientModule | undefined
  private closed = false
  readonly stats: MeshStats = emptyMeshStats()

  constructor(private readonly options: TabFollowerOptions) {
    super(options.maxConflictsPerDocument)
    this.clock = new HlcClock({ node: options.tab, wallClock: options.now })
    this.types = new ReplicaTypes(options.modules)
    this.collections = new ClientCollections(this, this.types, (what) => this.strictSide(what), () => this.closed)
    this.strictModule = options.modules.find((module) => module.strictCollection !== undefined)
    this.remoteStrict = this.strictModule === undefined ? null : new RemoteStrict(options.tab, (message) => options.send(message))
  }

  /** Resolves once a hub's first snapshot arrived (the client id and the documents are known). */
  get ready(): Promise<void> {
    return this.followed.promise
  }

  /** Asks the current hub (or, after `t: 'hub'`, the new one) for a snapshot. */
  hello(): void {
    this.options.send({ t: 'hello', tab: this.options.tab })
  }

  /** A message from the hub. */
  receive(message: HubMessage): void {
    if (this.closed || typeof message !== 'object' || message === null) return
    if (message.t === 'hub') {
      if (message.hub !== this.hub) this.hello()
      return
    }
    if (message.t === 'snapshot') {
      if (message.to === this.options.tab) this.follow(message.hub, message.snapshot, message.connection)
      return
    }
    // Until its snapshot, a hub's messages are in it; a former hub's are stale.
    if (message.hub !== this.hub) return
    switch (message.t) {
      case 'changes':
        for (const change of message.changes) this.applyChange(change)
        for (const relayed of message.relayed) if (relayed.tab === this.options.tab) this.confirm(relayed.id, relayed.seq)
        return
      case 'states':
        for (const state of message.documents) this.mergeState(state)
        return
      case 'rejected':
        this.rejected(message.rejection, message.state)
        return
      case 'marks':
        this.writeStatuses.advanceTo(message.marks)
        this.handles?.durableAt(message.marks.durable)
        this.handles?.replicatedAt(message.marks.replicated)
        this.scheduleSyncState()
        return
      case 'connection':
        this.connectionChanged(message.connection)
        return
      case 'strict-reply':
      case 'strict-event':
      case 'strict-outcome':
        this.remoteStrict?.receive(message)
        return
      default:
        return
    }
  }

  // MeridianClient

  get clientId(): string {
    return this.id
  }

  get status(): ConnectionStatus {
    return this.closed ? 'offline' : (this.hubConnection?.status ?? 'connecting')
  }

  get server(): MeridianClient['server'] {
    const connection = this.hubConnection
    return connection?.status === 'connected' && connection.nodeId !== null ? { nodeId: connection.nodeId, region: connection.region ?? '' } : null
  }

  get error(): ConnectionError | null {
    return this.lastError
  }

  get outboxSize(): number {
    return this.writeStatuses.notDurable
  }

  get vector(): VersionVector {
    return this.vectorMap
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.statusListeners.add(listener)
  }

  onError(listener: (error: ConnectionError) => void): () => void {
    return this.errorListeners.add(listener)
  }

  onWriteRejected(listener: (error: WriteRejectedError) => void): () => void {
    return this.writeRejections.add(listener)
  }

  protected currentSyncState(): SyncState {
    const connection = this.hubConnection
    const status = this.status
    const state: SyncState = {
      connection:
        status === 'connected' ? 'connected' : this.closed || this.lastError !== null ? 'offline' : connection?.reconnecting ? 'reconnecting' : 'connecting',
      region: status === 'connected' ? (connection?.region ?? '') : null,
      nodeId: status === 'connected' ? (connection?.nodeId ?? null) : null,
      retryInMs: status === 'connected' ? null : (connection?.retryInMs ?? null),
      error: this.lastError,
      // The leader's count covers what it logged; this tab adds what it has not logged yet.
      unsynced: (connection?.unsynced ?? 0) + this.unconfirmed.size,
      unreplicated: (connection?.unreplicated ?? 0) + this.unconfirmed.size,
    }
    return state
  }

  onStrictOutcome(listener: (outcome: StrictWriteOutcome) => void): () => void {
    if (this.remoteStrict === null) throw missingModule('strict', 'onStrictOutcome')
    return this.remoteStrict.onOutcome(null, listener)
  }

  get strictToken(): string | null {
    return this.remoteStrict?.token ?? null
  }

  /** Where this tab's leader client numbers strict writes from, should this tab take over. */
  get nextStrictWriteId(): number {
    return this.remoteStrict?.nextWriteId ?? 1
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.options.send({ t: 'bye', tab: this.options.tab })
    const error = new ClientClosedError()
    for (const write of this.unconfirmed.values()) {
      write.durable.reject(error)
      write.replicated.reject(error)
    }
    this.handles?.close(error)
    this.remoteStrict?.close(error)
    this.followed.reject(error)
    this.endSyncState()
    this.statusListeners.clear()
    this.errorListeners.clear()
    this.writeStatuses.close()
    for (const hook of this.closeHooks.splice(0)) hook()
    this.documents.clearListeners()
  }

  // ClientContext

  replica(collection: string, docId: string, docType: DocType): DocumentReplica {
    const key = documentKey(collection, docId)
    let replica = this.replicas.get(key)
    if (replica === undefined) {
      replica = this.types.create(docType, { collection, docId, localOrigin: this.options.tab, random: this.options.random })
      this.replicas.set(key, replica)
    }
    return expectDocType(replica, docType, collection, docId)
  }

  write(collection: string, docId: string, docType: DocType, payload: Uint8Array): WriteHandle {
    if (this.closed) throw new ClientClosedError('the Meridian client is closed: writes are no longer accepted')
    const write: RelayedWrite = { collection, docId, docType, payload, hlc: this.clock.now() }
    // Applied as the client's own change (origin: its id), with no seq yet: the copy the hub logs has
    // the same origin and stamp, so an lww replica sees the same write twice, not two writes.
    const change: Change = { origin: this.id, seq: 0, ...write }
    this.documents.applied(change, this.replica(collection, docId, docType).apply(change))
    const entry: UnconfirmedWrite = { id: ++this.writeIds, write, key: documentKey(collection, docId), durable: deferred(), replicated: deferred(), sentTo: null, seq: 0 }
    this.unconfirmed.set(entry.id, entry)
    this.writeStatuses.hold(entry.key)
    this.send(entry)
    this.scheduleSyncState()
    return {
      origin: this.id,
      // Known once the leader logged it: the write's number in the client's log.
      get seq() {
        return entry.seq
      },
      local: Promise.resolve(),
      durable: entry.durable.promise,
      replicated: entry.replicated.promise,
    }
  }

  subscribeCollection(collection: string): () => void {
    return this.addInterest(collection, null)
  }

  openDocument(collection: string, docId: string): () => void {
    return this.addInterest(collection, docId)
  }

  // Internals

  private readonly vectorMap = new Map<string, number>()

  private follow(hub: string, snapshot: HubSnapshot, connection: HubConnection): void {
    const first = this.id === ''
    if (first) {
      this.id = snapshot.clientId
      this.handles = new WriteHandleTracker(this.id)
    }
    this.hub = hub
    for (const state of snapshot.documents) this.mergeState(state)
    for (const [origin, seq] of snapshot.vector) if (seq > (this.vectorMap.get(origin) ?? 0)) this.vectorMap.set(origin, seq)
    for (const [key, seq] of snapshot.outstanding) this.writeStatuses.wrote(key, seq)
    this.writeStatuses.advanceTo(snapshot.marks)
    this.handles?.durableAt(snapshot.marks.durable)
    this.handles?.replicatedAt(snapshot.marks.replicated)
    // What this tab syncs and what the hub has not confirmed: a new hub knows neither.
    for (const { collection, docId, count } of this.interest.values()) {
      for (let i = 0; i < count; i++) this.options.send({ t: 'interest', tab: this.options.tab, add: true, collection, docId })
    }
    for (const entry of this.unconfirmed.values()) if (entry.sentTo !== hub) this.send(entry)
    this.remoteStrict?.following(hub)
    this.connectionChanged(connection)
    if (first) this.followed.resolve()
  }

  private send(entry: UnconfirmedWrite): void {
    if (this.hub === null || this.id === '') return
    entry.sentTo = this.hub
    this.options.send({ t: 'write', tab: this.options.tab, id: entry.id, write: entry.write })
  }

  private applyChange(change: Change): void {
    if (change.seq <= (this.vectorMap.get(change.origin) ?? 0)) {
      this.stats.duplicates += 1
      return
    }
    this.vectorMap.set(change.origin, change.seq)
    if (!this.clock.receive(change.hlc)) this.stats.clampedTimestamps += 1
    const key = documentKey(change.collection, change.docId)
    if (change.origin === this.id) {
      // Own changes come once saved by the hub.
      this.writeStatuses.wrote(key, change.seq)
      this.writeStatuses.savedThrough(change.seq)
    }
    let replica: DocumentReplica
    try {
      replica = this.replica(change.collection, change.docId, change.docType)
    } catch {
      this.stats.typeMismatches += 1
      return
    }
    try {
      const result = replica.apply(change)
      this.stats.applied += 1
      this.stats.conflicts += result.conflicts.length
      this.documents.applied(change, result)
    } catch {
      this.stats.rejectedPayloads += 1
    }
  }

  private mergeState(state: DocumentState): void {
    let changed: boolean
    try {
      changed = this.replica(state.collection, state.docId, state.docType).mergeState(state.state).changed
    } catch {
      this.stats.rejectedPayloads += 1
      return
    }
    this.documents.stateMerged(state.collection, state.docId, changed)
  }

  /**
   * A region refused the hub's own write `rejection.seq` (perhaps this tab's): the document is replaced
   * by the hub's rebuilt copy, and the write's handle, if it is this tab's, rejects.
   */
  private rejected(rejection: Rejection, state: DocumentState | undefined): void {
    const { collection, docId } = rejection
    this.replicas.delete(documentKey(collection, docId))
    if (state !== undefined) this.mergeState(state)
    else this.documents.stateMerged(collection, docId, true)
    const error = new WriteRejectedError(rejection)
    this.handles?.rejectAt(rejection.seq, error)
    this.writeRejections.emit(error)
  }

  /** The hub saved this tab's write `id` as own change `seq`. */
  private confirm(id: number, seq: number): void {
    const entry = this.unconfirmed.get(id)
    if (entry === undefined) return
    this.unconfirmed.delete(id)
    entry.seq = seq
    this.writeStatuses.release(entry.key)
    const handle = this.handles?.track(seq)
    if (handle !== undefined) {
      handle.durable.then(entry.durable.resolve, entry.durable.reject)
      handle.replicated.then(entry.replicated.resolve, entry.replicated.reject)
    }
    this.scheduleSyncState()
  }

  private connectionChanged(connection: HubConnection): void {
    const before = this.hubConnection?.status
    this.hubConnection = connection
    this.remoteStrict?.stateChanged(connection.strict)
    const error = connection.error
    if (error !== null && (this.lastError === null || this.lastError.message !== error.message)) {
      this.lastError = new ConnectionError({ code: error.code, url: error.url, closeCode: error.closeCode, serverMessage: error.serverMessage, message: error.message, fatal: error.fatal })
      this.errorListeners.emit(this.lastError)
    } else if (error === null) this.lastError = null
    if (connection.status !== before) this.statusListeners.emit(connection.status)
    this.scheduleSyncState()
  }

  private addInterest(collection: string, docId: string | null): () => void {
    const key = docId === null ? collection : documentKey(collection, docId)
    const entry = this.interest.get(key) ?? { collection, docId, count: 0 }
    entry.count += 1
    this.interest.set(key, entry)
    if (this.hub !== null) this.options.send({ t: 'interest', tab: this.options.tab, add: true, collection, docId })
    let released = false
    return () => {
      if (released || this.closed) return
      released = true
      entry.count -= 1
      if (entry.count === 0) this.interest.delete(key)
      if (this.hub !== null) this.options.send({ t: 'interest', tab: this.options.tab, add: false, collection, docId })
    }
  }

  private strictSide(what: string): Pick<StrictSide, 'collection'> {
    const remote = this.remoteStrict
    const make = this.strictModule?.strictCollection
    if (remote === null || make === undefined) throw missingModule('strict', what)
    return { collection: (name) => make(remote, name) }
  }
}

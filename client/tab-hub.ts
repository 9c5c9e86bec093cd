import { documentKey, splitDocumentKey } from '../core/mesh/mesh-node.js'
import type { Change, DocumentState } from '../core/types.js'
import type { Timers } from './connection.js'
import type { ClientContext } from './context.js'
import type { ConnectionError } from './errors.js'
import type { MeridianClient } from './client.js'
import type {
  FollowerMessage,
  HubConnection,
  HubMessage,
  HubObserver,
  HubPort,
  PlainConnectionError,
  RelayedSeq,
  TabChannel,
  Rejection,
} from './tab-messages.js'
import type { WriteMarks } from './write-status.js'
import { HubStrict } from './tab-strict.js'

/** A hello waits at most this long for own changes to be saved before the snapshot goes anyway. */
const HELLO_WAIT_MS = 250

export interface TabHubOptions {
  readonly id: string
  /** The leader tab's client, with the hooks of client.ts's `createHubClient`. */
  readonly client: MeridianClient & ClientContext & HubPort
  readonly channel: TabChannel
  /** The leader tab's own follower, when a tab that followed became the leader (BroadcastChannel does not echo). */
  readonly local?: (message: HubMessage) => void
  readonly timers: Timers
}

/**
 * The leader tab's side of tab sharing (docs/client.md, "Tabs"): its client holds the store and the
 * connection for every tab of the app. The hub logs the other tabs' writes as the client's own (with
 * their stamps), and passes on everything the client applies, in order: changes learnt from regions at
 * once, own changes once saved in the store — a tab must never hold an own change that a crash of
 * this one could still erase, or the next leader would make another change with its seq.
 */
export class TabHub implements HubObserver {
  private readonly client: TabHubOptions['client']
  /** Own seqs passed on so far. */
  private echoedThrough: number
  /** Own seqs that are other tabs' writes, until passed on. */
  private readonly relayed = new Map<number, { readonly tab: string; readonly id: number }>()
  private pendingChanges: Change[] = []
  private pendingRelayed: RelayedSeq[] = []
  private pendingStates = new Set<string>()
  private flushScheduled = false
  private readonly waitingHellos = new Set<string>()
  private helloTimer: unknown = null
  /** Per tab, what it syncs: key → releases (one per `add`). */
  private readonly interests = new Map<string, Map<string, (() => void)[]>>()
  private readonly stopSyncState: () => void
  private readonly strict: HubStrict
  private closed = false

  constructor(private readonly options: TabHubOptions) {
    this.client = options.client
    this.echoedThrough = this.client.writeMarks.saved
    this.client.observe(this)
    this.strict = new HubStrict(options.id, this.client.strictOps, (message) => this.broadcast(message))
    // A tab that followed and now leads has no app listener on this client: restored writes' outcomes
    // go to every tab from the start.
    if (options.local !== undefined) this.strict.passOutcomes()
    this.stopSyncState = this.client.onSyncState(() => this.broadcast({ t: 'connection', hub: options.id, connection: this.connection() }))
  }

  /** Tells the tabs that follow that this hub leads now: they say hello, and send what no hub confirmed. */
  start(): void {
    this.broadcast({ t: 'hub', hub: this.options.id })
  }

  /** A message from a tab that follows (over the channel, or directly from this tab's own follower). */
  receive(message: FollowerMessage): void {
    if (this.closed || typeof message !== 'object' || message === null) return
    switch (message.t) {
      case 'hello':
        this.waitingHellos.add(message.tab)
        this.answerHellos()
        return
      case 'write': {
        let seq: number
        try {
          seq = this.client.commitRelayed(message.write)
        } catch {
          // This tab's client is closing (the writer keeps the write and sends it to the next leader), or
          // the write is one this client cannot log (malformed, or of a type it has no module for).
          return
        }
        this.relayed.set(seq, { tab: message.tab, id: message.id })
        return
      }
      case 'interest':
        this.interest(message.tab, message.add, message.collection, message.docId)
        return
      case 'strict-call':
      case 'strict-watch':
      case 'strict-unwatch':
        this.strict.receive(message)
        return
      case 'bye':
        this.strict.forget(message.tab)
        for (const releases of this.interests.get(message.tab)?.values() ?? []) for (const release of releases) release()
        this.interests.delete(message.tab)
        return
      default:
        return
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.stopSyncState()
    this.strict.close()
    if (this.helloTimer !== null) this.options.timers.clearTimeout(this.helloTimer)
    for (const byKey of this.interests.values()) for (const releases of byKey.values()) for (const release of releases) release()
    this.interests.clear()
  }

  // HubObserver: what the client applied.

  learnt(change: Change): void {
    this.pendingChanges.push(change)
    this.scheduleFlush()
  }

  refused(rejection: Rejection): void {
    // What was applied before goes first, so the replacement below is the newest state in every tab.
    this.flush()
    this.broadcast({ t: 'rejected', hub: this.options.id, rejection, state: this.client.documentState(rejection.collection, rejection.docId) })
  }

  stateMerged(collection: string, docId: string): void {
    this.pendingStates.add(documentKey(collection, docId))
    this.scheduleFlush()
  }

  ownSaved(seq: number): void {
    for (let next = this.echoedThrough + 1; next <= seq; next++) {
      const change = this.client.ownChange(next)
      if (change !== undefined) this.pendingChanges.push(change)
      const from = this.relayed.get(next)
      if (from !== undefined) {
        this.relayed.delete(next)
        this.pendingRelayed.push({ ...from, seq: next })
      }
    }
    if (seq > this.echoedThrough) this.echoedThrough = seq
    this.scheduleFlush()
    if (this.waitingHellos.size > 0) this.answerHellos()
  }

  marks(marks: WriteMarks): void {
    this.flush()
    this.broadcast({ t: 'marks', hub: this.options.id, marks })
  }

  private interest(tab: string, add: boolean, collection: string, docId: string | null): void {
    let byKey = this.interests.get(tab)
    if (byKey === undefined) {
      byKey = new Map()
      this.interests.set(tab, byKey)
    }
    const key = docId === null ? collection : documentKey(collection, docId)
    const releases = byKey.get(key) ?? []
    if (add) {
      releases.push(docId === null ? this.client.subscribeCollection(collection) : this.client.openDocument(collection, docId))
      byKey.set(key, releases)
    } else {
      releases.pop()?.()
      if (releases.length === 0) byKey.delete(key)
    }
  }

  /**
   * Snapshots go out once own changes are all saved (they then count as held), or after HELLO_WAIT_MS
   * of writes that never pause (the snapshot then counts own changes only up to what is saved).
   */
  private answerHellos(): void {
    if (this.client.hasUnsavedOwnChanges && this.helloTimer === null) {
      this.helloTimer = this.options.timers.setTimeout(() => {
        this.helloTimer = null
        this.sendSnapshots()
      }, HELLO_WAIT_MS)
      return
    }
    if (!this.client.hasUnsavedOwnChanges) this.sendSnapshots()
  }

  private sendSnapshots(): void {
    if (this.closed || this.waitingHellos.size === 0) return
    if (this.helloTimer !== null) {
      this.options.timers.clearTimeout(this.helloTimer)
      this.helloTimer = null
    }
    // Everything passed on before the snapshot is in it; what follows it comes after, in order.
    this.flush()
    const snapshot = this.client.snapshot()
    const connection = this.connection()
    for (const tab of this.waitingHellos) this.broadcast({ t: 'snapshot', hub: this.options.id, to: tab, snapshot, connection })
    this.waitingHellos.clear()
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => this.flush())
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.closed) return
    if (this.pendingChanges.length > 0 || this.pendingRelayed.length > 0) {
      this.broadcast({ t: 'changes', hub: this.options.id, changes: this.pendingChanges, relayed: this.pendingRelayed })
      this.pendingChanges = []
      this.pendingRelayed = []
    }
    if (this.pendingStates.size > 0) {
      const documents: DocumentState[] = []
      for (const key of this.pendingStates) {
        const [collection, docId] = splitDocumentKey(key)
        const state = this.client.documentState(collection, docId)
        if (state !== undefined) documents.push(state)
      }
      this.pendingStates.clear()
      this.broadcast({ t: 'states', hub: this.options.id, documents })
    }
  }

  private connection(): HubConnection {
    const state = this.client.syncState
    return {
      status: this.client.status,
      reconnecting: state.connection === 'reconnecting',
      nodeId: state.nodeId,
      region: state.region,
      retryInMs: state.retryInMs,
      error: plainError(state.error),
      unsynced: state.unsynced,
      unreplicated: state.unreplicated,
      strict: this.strict.state(this.client.strictToken),
    }
  }

  private broadcast(message: HubMessage): void {
    if (this.closed && message.t !== 'connection') return
    this.options.channel.postMessage(message)
    this.options.local?.(message)
  }
}

function plainError(error: ConnectionError | null): PlainConnectionError | null {
  if (error === null) return null
  return { code: error.code, url: error.url, closeCode: error.closeCode, serverMessage: error.serverMessage, message: error.message, fatal: error.fatal }
}

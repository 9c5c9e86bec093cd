import { MessageType, type Message, type StrictChangedMessage } from '../core/codec/messages.js'
import type { JsonValue, LogPosition } from '../core/strict/types.js'
import { StrictReadFailed } from './errors.js'
import { reportListenerError } from './listeners.js'
import { compareStrictPositions, formatStrictToken } from './strict-queue.js'

/** What a strict subscription's listener receives: a document as a region applied it. */
export interface StrictChange<T = JsonValue> {
  readonly id: string
  /** null: the document does not exist (deleted, or never written). */
  readonly value: T | null
  /** LSN of the document's last write (use it as `expectVersion`); 0 when it does not exist. */
  readonly version: number
  /** `epoch:lsn` of the state this shows: a read `after` it never sees older state. */
  readonly token: string
  readonly position: LogPosition
}

export type StrictChangeListener<T = JsonValue> = (change: StrictChange<T>) => void

/** Options of `subscribe` and `subscribeAll`. */
export interface StrictSubscribeOptions {
  /**
   * Called when a region refuses the subscription (e.g. the collection is not strict there, or the
   * connection holds too many subscriptions); the subscription has then ended. Without it, the
   * error is reported like a listener's: rethrown from a fresh task.
   */
  readonly onError?: (error: StrictReadFailed) => void
}

export interface StrictWatchesOptions {
  /** Sends on the current session; false when there is none. */
  readonly send: (message: Message) => boolean
  /** Request ids shared with strict reads: a refusal comes back as a `StrictReadResult`. */
  readonly nextRequestId: () => number
  /** Every position a change shows is committed: the session's reads may start from it [RD2]. */
  readonly advance: (position: LogPosition) => void
}

interface Subscription {
  readonly collection: string
  /** null: the whole collection. */
  readonly id: string | null
  readonly listener: StrictChangeListener
  readonly onError: ((error: StrictReadFailed) => void) | undefined
  /** This session's request id; 0 while not subscribed on the current session. */
  requestId: number
  /** Per document: the newest position seen and the version it showed. Kept across sessions. */
  readonly seen: Map<string, { position: LogPosition; version: number }>
  /** The ids of the latest run of frames at one position (a whole collection's state burst ends with StrictSynced). */
  burst: { position: LogPosition; ids: Set<string> } | null
}

/**
 * The strict subscriptions of one client (docs/client.md, "Watching strict documents"). Each is sent
 * as a `StrictSubscribe` on every session — with a fresh request id after every reconnect, since the
 * region it lands on may be another one — and the region answers with the current state, then each
 * change it applies. Nothing arrives while offline.
 *
 * Regions apply the same log at different speeds, so after a failover the new region may show a
 * document older than the last one delivered: a change is delivered only when its position is newer
 * than the newest seen for that document, and not when it shows a version already delivered (the
 * repeat of the current state after a reconnect).
 */
export class StrictWatches {
  private readonly options: StrictWatchesOptions
  private readonly subscriptions = new Set<Subscription>()
  private readonly byRequest = new Map<number, Subscription>()
  private connected = false
  private closed = false

  constructor(options: StrictWatchesOptions) {
    this.options = options
  }

  /** Returns the unsubscribe function. */
  subscribe(collection: string, id: string | null, listener: StrictChangeListener, options: StrictSubscribeOptions = {}): () => void {
    if (typeof listener !== 'function') throw new TypeError('Meridian client: listener must be a function')
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('Meridian client: onError must be a function')
    // A closed client delivers nothing: keeping the listener would only hold on to it.
    if (this.closed) return () => {}
    const subscription: Subscription = { collection, id, listener, onError: options.onError, requestId: 0, seen: new Map(), burst: null }
    this.subscriptions.add(subscription)
    if (this.connected) this.send(subscription)
    return () => {
      if (!this.subscriptions.delete(subscription)) return
      if (subscription.requestId === 0) return
      this.byRequest.delete(subscription.requestId)
      // Best effort: if the session is gone, so is the region's subscription.
      this.options.send({ type: MessageType.StrictUnsubscribe, requestId: subscription.requestId })
      subscription.requestId = 0
    }
  }

  /** A session started: every live subscription is sent again. */
  sessionStarted(): void {
    if (this.closed) return
    this.connected = true
    for (const subscription of this.subscriptions) if (this.connected) this.send(subscription)
  }

  /** The session ended: the region forgot the subscriptions; they are sent again on the next one. */
  sessionEnded(): void {
    this.connected = false
    this.byRequest.clear()
    for (const subscription of this.subscriptions) {
      subscription.requestId = 0
      subscription.burst = null
    }
  }

  /** A frame of the current session; false when it is not about a subscription. */
  receive(message: Message): boolean {
    if (message.type === MessageType.StrictChanged) {
      const subscription = this.byRequest.get(message.requestId)
      if (subscription !== undefined) this.changed(subscription, message)
      return true
    }
    if (message.type === MessageType.StrictSynced) {
      const subscription = this.byRequest.get(message.requestId)
      if (subscription !== undefined) this.synced(subscription, message.position)
      return true
    }
    if (message.type === MessageType.StrictReadResult && message.reply.status === 'rejected') {
      const subscription = this.byRequest.get(message.requestId)
      if (subscription === undefined) return false
      this.byRequest.delete(message.requestId)
      this.subscriptions.delete(subscription)
      const error = new StrictReadFailed(message.reply.error.code, message.reply.error.message)
      try {
        if (subscription.onError) subscription.onError(error)
        else reportListenerError(error)
      } catch (thrown) {
        reportListenerError(thrown)
      }
      return true
    }
    return false
  }

  close(): void {
    this.closed = true
    this.connected = false
    this.subscriptions.clear()
    this.byRequest.clear()
  }

  private send(subscription: Subscription): void {
    const requestId = this.options.nextRequestId()
    const message: Message = { type: MessageType.StrictSubscribe, requestId, collection: subscription.collection, id: subscription.id }
    // False: the socket is closing; its session end comes next, and the next session sends it again.
    if (!this.options.send(message)) return
    subscription.requestId = requestId
    this.byRequest.set(requestId, subscription)
  }

  /**
   * A whole collection's state at `position` is complete: the documents of the burst at `position`
   * exist; any other this listener still shows as existing was deleted meanwhile (while offline, or
   * inside a snapshot the region installed), so it is shown deleted at `position`.
   */
  private synced(subscription: Subscription, position: LogPosition): void {
    const burst = subscription.burst !== null && compareStrictPositions(subscription.burst.position, position) === 0 ? subscription.burst.ids : new Set<string>()
    subscription.burst = null
    for (const [id, last] of [...subscription.seen]) {
      if (burst.has(id) || last.version === 0 || compareStrictPositions(last.position, position) >= 0) continue
      subscription.seen.set(id, { position, version: 0 })
      try {
        subscription.listener({ id, value: null, version: 0, token: formatStrictToken(position), position })
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  private changed(subscription: Subscription, message: StrictChangedMessage): void {
    const { id, document, position } = message
    // Frames at one position in a row are a state burst (or one entry's changes): remember which ids.
    if (subscription.burst === null || compareStrictPositions(subscription.burst.position, position) !== 0) subscription.burst = { position, ids: new Set() }
    subscription.burst.ids.add(id)
    this.options.advance(position)
    const last = subscription.seen.get(id)
    // [RD2] for subscriptions: never older than what this listener already showed for the document.
    if (last !== undefined && compareStrictPositions(position, last.position) <= 0) return
    const version = document?.version ?? 0
    subscription.seen.set(id, { position, version })
    if (last !== undefined && last.version === version) return
    try {
      subscription.listener({ id, value: document?.value ?? null, version, token: formatStrictToken(position), position })
    } catch (error) {
      reportListenerError(error)
    }
  }
}

/**
 * Strict collections in a tab that follows another (docs/client.md, "Tabs"): the leader tab's client
 * runs the strict writes, reads and subscriptions of every tab, on its connection and its store's
 * strict queue. This tab's collections are the strict module's, over `RemoteStrict`; the leader's hub
 * runs the calls with `HubStrict`.
 */
import type { Forbidden, StrictReadRequest, StrictWriteRequest, Unavailable } from '../core/strict/requests.js'
import type { WriteOp, WriteRejection } from '../core/strict/types.js'
import type { StrictOps } from './strict-collection.js'
import type { StrictPendingWrite, StrictReadAnswer, StrictWriteOutcome, StrictWriteResult } from './strict-queue.js'
import type { StrictChange, StrictChangeListener, StrictSubscribeOptions } from './strict-watch.js'
import { ClientClosedError, StrictReadFailed, StrictWriteRejected } from './errors.js'
import { KeyedListeners, Listeners, reportListenerError } from './listeners.js'

/** An error as it crosses between tabs (structured clone keeps neither the class nor its fields). */
export interface PlainError {
  readonly name: string
  readonly message: string
  readonly code?: string
  readonly rejection?: WriteRejection | Unavailable | Forbidden
}

/** The leader's strict queue and position, as every tab shows them. */
export interface HubStrictState {
  readonly token: string | null
  readonly pending: readonly StrictPendingWrite[]
}

export type StrictCall =
  | { readonly op: 'submit'; readonly collection: string; readonly write: Omit<StrictWriteRequest, 'requestKey'> }
  | { readonly op: 'read'; readonly request: StrictReadRequest }

export type StrictFollowerMessage =
  | { readonly t: 'strict-call'; readonly tab: string; readonly call: number; readonly what: StrictCall }
  | { readonly t: 'strict-watch'; readonly tab: string; readonly watch: number; readonly collection: string; readonly id: string | null }
  | { readonly t: 'strict-unwatch'; readonly tab: string; readonly watch: number }

export type StrictHubMessage =
  | { readonly t: 'strict-reply'; readonly hub: string; readonly to: string; readonly call: number; readonly value?: unknown; readonly error?: PlainError }
  | { readonly t: 'strict-event'; readonly hub: string; readonly to: string; readonly watch: number; readonly change?: StrictChange; readonly error?: PlainError }
  | { readonly t: 'strict-outcome'; readonly hub: string; readonly outcome: PlainOutcome }

type PlainOutcome = Omit<StrictWriteOutcome, 'error'> & { readonly error: PlainError | null }

export function plainError(error: unknown): PlainError {
  if (error instanceof StrictWriteRejected) return { name: error.name, message: error.message, code: error.code, rejection: error.rejection }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) }
  }
  return { name: 'Error', message: String(error) }
}

/** The error again, of its class: `op` is the write's, for a rejection's description and fields. */
export function revive(error: PlainError, op?: WriteOp): Error {
  switch (error.name) {
    case 'StrictWriteRejected':
      if (error.rejection !== undefined) return new StrictWriteRejected(error.rejection, op)
      break
    case 'StrictReadFailed':
      if (error.code !== undefined) return new StrictReadFailed(error.code as StrictReadFailed['code'], error.message.slice(error.code.length + 2))
      break
    case 'ClientClosedError':
      return new ClientClosedError(error.message)
    case 'TypeError':
      return new TypeError(error.message)
    default:
      break
  }
  const revived = new Error(error.message)
  revived.name = error.name
  return revived
}

interface PendingCall {
  readonly what: StrictCall
  readonly resolve: (value: never) => void
  readonly reject: (error: Error) => void
  sentTo: string | null
}

interface Watch {
  readonly collection: string
  readonly id: string | null
  readonly listener: StrictChangeListener
  readonly onError: ((error: StrictReadFailed) => void) | undefined
}

/** A follower tab's strict ops: each call goes to the leader's hub, whose answer settles it. */
export class RemoteStrict implements StrictOps {
  private readonly calls = new Map<number, PendingCall>()
  private readonly watches = new Map<number, Watch>()
  private readonly allOutcomes = new Listeners<[StrictWriteOutcome]>()
  private readonly outcomesByCollection = new KeyedListeners<string, [StrictWriteOutcome]>()
  private ids = 0
  private hub: string | null = null
  private state: HubStrictState = { token: null, pending: [] }
  /** The highest writeId of the leaders' writes this tab has seen (listed pending, or settled). */
  private highestWriteId = 0
  private closedWith: Error | null = null

  constructor(
    private readonly tab: string,
    private readonly send: (message: StrictFollowerMessage) => void,
  ) {}

  get token(): string | null {
    return this.state.token
  }

  /** Where a leader that this tab becomes must number its strict writes from. */
  get nextWriteId(): number {
    return this.highestWriteId + 1
  }

  /** Strict calls of this tab not answered yet. */
  get size(): number {
    return this.calls.size
  }

  submit(collection: string, write: Omit<StrictWriteRequest, 'requestKey'>): Promise<StrictWriteResult> {
    return this.call({ op: 'submit', collection, write })
  }

  read(request: StrictReadRequest): Promise<StrictReadAnswer> {
    return this.call({ op: 'read', request })
  }

  pending(collection?: string): StrictPendingWrite[] {
    return this.state.pending.filter((write) => collection === undefined || write.collection === collection)
  }

  onOutcome(collection: string | null, listener: (outcome: StrictWriteOutcome) => void): () => void {
    return collection === null ? this.allOutcomes.add(listener) : this.outcomesByCollection.add(collection, listener)
  }

  subscribe(collection: string, id: string | null, listener: StrictChangeListener, options: StrictSubscribeOptions = {}): () => void {
    if (typeof listener !== 'function') throw new TypeError('Meridian client: listener must be a function')
    if (this.closedWith !== null) return () => undefined
    const watch = ++this.ids
    this.watches.set(watch, { collection, id, listener, onError: options.onError })
    if (this.hub !== null) this.send({ t: 'strict-watch', tab: this.tab, watch, collection, id })
    return () => {
      if (!this.watches.delete(watch)) return
      if (this.hub !== null) this.send({ t: 'strict-unwatch', tab: this.tab, watch })
    }
  }

  /**
   * A hub answered this tab's hello. A new one never saw this tab's calls: reads and subscriptions go
   * again; a write that went to the former leader may have been queued there and saved, to be sent by
   * this one from the store, so it is not sent twice: it resolves `indeterminate` (`unreachable`), and
   * its outcome, if it was saved, comes as a restored write's (`onStrictOutcome`).
   */
  following(hub: string): void {
    if (hub === this.hub) return
    this.hub = hub
    for (const [call, pending] of this.calls) {
      if (pending.sentTo !== null && pending.what.op === 'submit') {
        this.calls.delete(call)
        const requested = pending.what.write.concern
        pending.resolve({ status: 'indeterminate', reason: 'unreachable', reached: null, token: null, position: null, requested } as never)
      } else this.dispatch(call, pending)
    }
    for (const [watch, { collection, id }] of this.watches) this.send({ t: 'strict-watch', tab: this.tab, watch, collection, id })
  }

  stateChanged(state: HubStrictState | null): void {
    if (state === null) return
    this.state = state
    for (const write of state.pending) this.highestWriteId = Math.max(this.highestWriteId, write.writeId)
  }

  receive(message: StrictHubMessage): void {
    if (this.closedWith !== null) return
    if (message.t === 'strict-outcome') {
      const outcome = reviveOutcome(message.outcome)
      // The leader's queue as last reported may still list the write: a listener that reads `pending()`
      // must not see it there any more (the leader's next report comes after this).
      const settled = outcome.write.writeId
      this.highestWriteId = Math.max(this.highestWriteId, settled)
      this.state = { token: this.state.token, pending: this.state.pending.filter((write) => write.writeId !== settled) }
      this.allOutcomes.emit(outcome)
      this.outcomesByCollection.emit(outcome.write.collection, outcome)
      return
    }
    if (message.to !== this.tab || message.hub !== this.hub) return
    if (message.t === 'strict-reply') {
      const pending = this.calls.get(message.call)
      if (pending === undefined) return
      this.calls.delete(message.call)
      if (message.error !== undefined) pending.reject(revive(message.error, pending.what.op === 'submit' ? pending.what.write.op : undefined))
      else pending.resolve(message.value as never)
      return
    }
    const watch = this.watches.get(message.watch)
    if (watch === undefined) return
    if (message.change !== undefined) watch.listener(message.change)
    else if (message.error !== undefined) {
      this.watches.delete(message.watch)
      const error = revive(message.error) as StrictReadFailed
      if (watch.onError !== undefined) watch.onError(error)
      else reportListenerError(error)
    }
  }

  close(error: Error): void {
    if (this.closedWith !== null) return
    this.closedWith = error
    for (const pending of this.calls.values()) pending.reject(error)
    this.calls.clear()
    this.watches.clear()
    this.allOutcomes.clear()
    this.outcomesByCollection.clear()
  }

  private call<T>(what: StrictCall): Promise<T> {
    if (this.closedWith !== null) return handled(Promise.reject(this.closedWith))
    const call = ++this.ids
    const promise = new Promise<T>((resolve, reject) => {
      this.calls.set(call, { what, resolve: resolve as (value: never) => void, reject, sentTo: null })
    })
    this.dispatch(call, this.calls.get(call) as PendingCall)
    return handled(promise)
  }

  private dispatch(call: number, pending: PendingCall): void {
    if (this.hub === null) return
    pending.sentTo = this.hub
    this.send({ t: 'strict-call', tab: this.tab, call, what: pending.what })
  }
}

/** The leader's side: runs other tabs' strict calls and subscriptions on its client's strict ops. */
export class HubStrict {
  /** Per tab, its subscriptions here: watch → unsubscribe. */
  private readonly watches = new Map<string, Map<number, () => void>>()
  private stopOutcomes: (() => void) | null = null

  constructor(
    private readonly hub: string,
    private readonly ops: StrictOps | null,
    private readonly broadcast: (message: StrictHubMessage) => void,
  ) {}

  /**
   * Passes every strict outcome on from now. Not at once in a leader tab: a restored write's outcome
   * goes to the first listener, which must be its app's.
   */
  passOutcomes(): void {
    if (this.ops === null || this.stopOutcomes !== null) return
    this.stopOutcomes = this.ops.onOutcome(null, (outcome) =>
      this.broadcast({ t: 'strict-outcome', hub: this.hub, outcome: { ...outcome, error: outcome.error === null ? null : plainError(outcome.error) } }),
    )
  }

  state(token: string | null): HubStrictState | null {
    return this.ops === null ? null : { token, pending: this.ops.pending() }
  }

  receive(message: StrictFollowerMessage): void {
    switch (message.t) {
      case 'strict-call':
        this.passOutcomes()
        void this.run(message.what).then(
          (value) => this.broadcast({ t: 'strict-reply', hub: this.hub, to: message.tab, call: message.call, value }),
          (error: unknown) => this.broadcast({ t: 'strict-reply', hub: this.hub, to: message.tab, call: message.call, error: plainError(error) }),
        )
        return
      case 'strict-watch': {
        if (this.ops === null) return
        let byWatch = this.watches.get(message.tab)
        if (byWatch === undefined) {
          byWatch = new Map()
          this.watches.set(message.tab, byWatch)
        }
        const to = message.tab
        const watch = message.watch
        byWatch.get(watch)?.()
        byWatch.set(
          watch,
          this.ops.subscribe(message.collection, message.id, (change) => this.broadcast({ t: 'strict-event', hub: this.hub, to, watch, change }), {
            onError: (error) => this.broadcast({ t: 'strict-event', hub: this.hub, to, watch, error: plainError(error) }),
          }),
        )
        return
      }
      case 'strict-unwatch': {
        const byWatch = this.watches.get(message.tab)
        byWatch?.get(message.watch)?.()
        byWatch?.delete(message.watch)
        return
      }
      default:
        return
    }
  }

  /** The tab closed: its subscriptions end. */
  forget(tab: string): void {
    for (const unsubscribe of this.watches.get(tab)?.values() ?? []) unsubscribe()
    this.watches.delete(tab)
  }

  close(): void {
    this.stopOutcomes?.()
    for (const tab of [...this.watches.keys()]) this.forget(tab)
  }

  private async run(what: StrictCall): Promise<unknown> {
    if (this.ops === null) throw new TypeError('Meridian tabs: the leader tab has no strict module (createClient({ use: [strictSupport] }))')
    return what.op === 'submit' ? await this.ops.submit(what.collection, what.write) : await this.ops.read(what.request)
  }
}

function reviveOutcome(outcome: PlainOutcome): StrictWriteOutcome {
  if (outcome.status === 'rejected' && outcome.error !== null) {
    return { write: outcome.write, status: 'rejected', result: null, error: revive(outcome.error, outcome.write.op) as StrictWriteRejected }
  }
  return { ...outcome, error: null } as StrictWriteOutcome
}

function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined)
  return promise
}

import { encodeMessage } from '../core/codec/codec.js'
import { MessageType, type Message } from '../core/codec/messages.js'
import type { StrictReadReply, StrictReadRequest, StrictWriteReply, StrictWriteRequest } from '../core/strict/requests.js'
import { comparePositions, formatPosition, parsePosition } from '../core/strict/positions.js'
import type { LogPosition, WriteConcern, WriteOp } from '../core/strict/types.js'
import { writeOpValueProblem } from '../core/strict/op-values.js'
import type { Timers } from './connection.js'
import { ClientClosedError, StrictReadFailed, StrictWriteRejected } from './errors.js'
import { KeyedListeners, Listeners, reportListenerError } from './listeners.js'
import type { ClientStore, StoredStrictWrite } from './store.js'

/**
 * The outcome of a strict write that was not rejected (a rejection rejects the promise with
 * `StrictWriteRejected`).
 *
 * - `acknowledged`: the primary logged the write at `token` and the requested write concern was met
 *   (`level` is what was reached; `local` with `degraded: true` when a `one` write fell back to
 *   semi-sync's timeout path).
 * - `indeterminate` [ST3]: the write may or may not survive. `reason`: `timeout` (the concern was not
 *   met in time, or no answer came within the write's timeout, resends included), `stepped-down` (the
 *   primary lost its role), `unreachable` (the write was sent but no connection came back to resend it
 *   before its timeout, or it was sent by an earlier session of the client, or the server lost its
 *   primary after forwarding it). `token` is the entry the write was logged at when known; a read
 *   `after` it tells whether it survived.
 */
export type StrictWriteResult =
  | {
      readonly status: 'acknowledged'
      /** `epoch:lsn` of the write's log entry: pass it as a read's `after` to read your write. */
      readonly token: string
      readonly position: LogPosition
      readonly requested: WriteConcern
      readonly level: WriteConcern
      readonly degraded: boolean
      /**
       * true when the write was resent (after a dropped connection) and the cluster had already
       * logged it: `token` is that first entry, nothing was written twice. Absent otherwise.
       */
      readonly duplicate?: boolean
    }
  | {
      readonly status: 'indeterminate'
      readonly reason: 'timeout' | 'stepped-down' | 'unreachable'
      /** The highest level the write was known to have reached, if any. */
      readonly reached: WriteConcern | null
      readonly token: string | null
      readonly position: LogPosition | null
      readonly requested: WriteConcern
    }

/** A strict write waiting in this client: queued (never sent) or sent and awaiting its answer. */
export interface StrictPendingWrite {
  /** This client's number for the write: increasing in the order writes were made, kept across restarts. */
  readonly writeId: number
  /** The collection whose method made the write (a batch may touch others). */
  readonly collection: string
  readonly op: WriteOp
  readonly concern: WriteConcern
  readonly timeoutMs: number | null
  /** Names the write to the cluster, which applies it at most once however often it is sent. */
  readonly requestKey: string | null
  /**
   * `queued`: not sent yet (or waiting to be resent after a dropped connection), will be sent (again
   * after a restart, with a persistent store, if it never left). `sent`: on the wire; sent again only
   * with its request key, after a reconnect, within its timeout.
   */
  readonly state: 'queued' | 'sent'
  /** Wall-clock ms when the write was made. */
  readonly queuedAtMs: number
  /** Made by an earlier session of this client and restored from the store: no promise waits for it. */
  readonly restored: boolean
}

/** What `onOutcome` listeners receive once per write: its result, or the rejection. */
export type StrictWriteOutcome =
  | { readonly write: StrictPendingWrite; readonly status: 'acknowledged' | 'indeterminate'; readonly result: StrictWriteResult; readonly error: null }
  | { readonly write: StrictPendingWrite; readonly status: 'rejected'; readonly result: null; readonly error: StrictWriteRejected }

/** A successful read's answer, as the server sent it. */
export type StrictReadAnswer = Extract<StrictReadReply, { status: 'ok' }>

/** How the strict channel reaches the region it is connected to. */
export interface StrictTransport {
  /**
   * Sends on the current session. False when there is none (nothing left the client). Throws when the
   * message cannot be encoded.
   */
  send(message: Message): boolean
}

export interface StrictChannelOptions {
  readonly transport: StrictTransport
  readonly store: ClientStore
  readonly timers: Timers
  readonly now: () => number
  /** Writes sent and not yet answered, at most. Default 1: one at a time, in order. */
  readonly maxInFlight?: number | undefined
  /**
   * Request keys are this, `:` and the write's `writeId`. The client passes its `clientId` and a
   * random part drawn per client instance: `writeId` restarts at 1 once the store holds no strict
   * write, and a key the cluster still remembers must never name a new write.
   */
  readonly requestKeyPrefix: string
  /** Called after a write joined or left the queue (made, restored, or settled): `size` changed. */
  readonly onQueueChange?: () => void
}

/** Default of `ClientOptions.strictMaxInFlight`. */
export const DEFAULT_STRICT_MAX_IN_FLIGHT = 1
/**
 * A sent request whose answer has not come after its own timeout (or this, when it has none: the
 * server answers at its configured timeout, well before) plus `STRICT_ANSWER_GRACE_MS` is given up.
 */
export const STRICT_DEFAULT_ANSWER_WAIT_MS = 30_000
/** Time allowed beyond a request's `timeoutMs` for the answer to come back through a forwarding region. */
export const STRICT_ANSWER_GRACE_MS = 2_000

type Settlement = { readonly result: StrictWriteResult } | { readonly error: StrictWriteRejected }

interface Entry {
  readonly writeId: number
  readonly collection: string
  readonly request: StrictWriteRequest
  readonly queuedAtMs: number
  readonly restored: boolean
  /** `marking`: waiting for the store to record "sent" before the frame may leave. */
  state: 'queued' | 'marking' | 'sent'
  /** While `marking`: the store holds it as sent; it leaves once every write ahead of it has. */
  marked: boolean
  /** The store holds a record of this write (so it must hear of every change to it). */
  persisted: boolean
  /** Bumped whenever a send attempt is abandoned, so a late store callback knows it is stale. */
  attempt: number
  /** It has been on the wire: the store record stays "sent" even while it waits to be resent. */
  left: boolean
  requestId: number
  session: number
  timer: unknown
  readonly resolve: ((result: StrictWriteResult) => void) | null
  readonly reject: ((error: Error) => void) | null
}

interface PendingRead {
  readonly session: number
  readonly timer: unknown
  readonly resolve: (answer: StrictReadAnswer) => void
  readonly reject: (error: Error) => void
}

/**
 * Strict requests of one client (docs/design.md §4): the ordered write queue shared by every strict
 * collection, reads, and the session's highest position for monotonic reads [RD2].
 *
 * Writes go out in `writeId` order, at most `maxInFlight` unanswered at a time. A write is sent only
 * on a session (handshake accepted); until then it waits, in the store too when the store keeps
 * strict writes. Every write carries a request key (`requestKeyPrefix:writeId`), and the cluster
 * applies a key at most once: a sent write whose session ends before its answer is resent with the
 * same key by the next session, until its timeout (then `indeterminate`: `unreachable` when it was
 * waiting for a connection, `timeout` when on the wire); the answer is the first entry's outcome
 * (`duplicate: true` when the first send had been logged). Before a queued write that the store holds
 * goes out, the store records it as sent (and the frame waits for that); a restart does not resend
 * such a write (the key may be older than the cluster remembers): it is `indeterminate`, `unreachable`.
 */
export class StrictChannel {
  private readonly options: StrictChannelOptions
  private readonly maxInFlight: number
  /** Unsettled writes, in writeId order. */
  private readonly entries: Entry[] = []
  private readonly writesByRequest = new Map<number, Entry>()
  private readonly reads = new Map<number, PendingRead>()
  private readonly allOutcomes = new Listeners<[StrictWriteOutcome]>()
  private readonly outcomesByCollection = new KeyedListeners<string, [StrictWriteOutcome]>()
  /** Outcomes of restored writes that no listener could take yet; handed to the first that can. */
  private undelivered: StrictWriteOutcome[] = []
  private nextWriteId = 1
  private nextRequestId = 1
  private inFlight = 0
  private session = 0
  private connected = false
  private closedWith: Error | null = null
  private seen: LogPosition | null = null

  constructor(options: StrictChannelOptions) {
    this.options = options
    this.maxInFlight = options.maxInFlight ?? DEFAULT_STRICT_MAX_IN_FLIGHT
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new Error('Meridian client: strictMaxInFlight must be an integer >= 1')
    }
    this.restore()
  }

  /** The highest log position this session has seen committed (write acks, read answers), or null. */
  get position(): LogPosition | null {
    return this.seen
  }

  get isConnected(): boolean {
    return this.connected
  }

  /**
   * Queues a write (sending it at once when a session is up and nothing is ahead of it). It gets a
   * request key, so that a resend after a dropped connection is applied at most once.
   */
  submit(collection: string, write: Omit<StrictWriteRequest, 'requestKey'>): Promise<StrictWriteResult> {
    if (this.closedWith) return handled(Promise.reject(this.closedWith))
    // The server refuses these the same way (INVALID_VALUE); refusing here keeps them out of the
    // queue and the store, so an offline write is never one that can only fail later.
    const invalidValue = writeOpValueProblem(write.op)
    if (invalidValue !== null) return handled(Promise.reject(new StrictWriteRejected(invalidValue, write.op)))
    const writeId = this.nextWriteId
    const request: StrictWriteRequest = { ...write, requestKey: `${this.options.requestKeyPrefix}:${writeId}` }
    checkEncodable(request)
    this.nextWriteId += 1
    let resolve!: (result: StrictWriteResult) => void
    let reject!: (error: Error) => void
    const promise = handled(
      new Promise<StrictWriteResult>((res, rej) => {
        resolve = res
        reject = rej
      }),
    )
    const entry: Entry = {
      writeId,
      collection,
      request,
      queuedAtMs: this.options.now(),
      restored: false,
      state: 'queued',
      marked: false,
      persisted: false,
      attempt: 0,
      left: false,
      requestId: 0,
      session: 0,
      timer: null,
      resolve,
      reject,
    }
    this.entries.push(entry)
    this.drain()
    // Not sent at once: it must survive a restart until it is.
    if (entry.state === 'queued') this.save(entry, false)
    this.options.onQueueChange?.()
    return promise
  }

  /** Sends a read now; rejects at once with `UNAVAILABLE` when there is no session. */
  read(request: StrictReadRequest): Promise<StrictReadAnswer> {
    if (this.closedWith) return handled(Promise.reject(this.closedWith))
    if (!this.connected) {
      return handled(Promise.reject(new StrictReadFailed('UNAVAILABLE', 'the client is not connected to a region; reads are not queued')))
    }
    const after = maxPosition(this.seen, request.after)
    const full: StrictReadRequest = { ...request, after }
    const requestId = this.nextRequestId++
    let sent: boolean
    try {
      sent = this.options.transport.send({ type: MessageType.StrictRead, requestId, request: full })
    } catch (error) {
      return handled(Promise.reject(new StrictReadFailed('INVALID_REQUEST', `the read could not be encoded: ${describeError(error)}`)))
    }
    if (!sent) return handled(Promise.reject(new StrictReadFailed('UNAVAILABLE', 'the connection to the region closed; reads are not queued')))
    return handled(
      new Promise<StrictReadAnswer>((resolve, reject) => {
        const waitMs = (request.timeoutMs ?? STRICT_DEFAULT_ANSWER_WAIT_MS) + STRICT_ANSWER_GRACE_MS
        const timer = this.options.timers.setTimeout(() => {
          if (this.reads.delete(requestId)) {
            reject(new StrictReadFailed('UNAVAILABLE', `no answer from the region within ${waitMs} ms`))
          }
        }, waitMs)
        this.reads.set(requestId, { session: this.session, timer, resolve, reject })
      }),
    )
  }

  /**
   * A request id for another kind of strict request of this client (subscriptions): one sequence, so
   * a `StrictReadResult` names exactly one request.
   */
  allocateRequestId(): number {
    return this.nextRequestId++
  }

  /** A committed position the client saw elsewhere (a subscription's change): later reads start there [RD2]. */
  observe(position: LogPosition): void {
    if (!this.closedWith) this.advance(position)
  }

  /** Queued and in-flight writes: strict writes not answered yet. */
  get size(): number {
    return this.entries.length
  }

  /** Queued and in-flight writes, oldest first; only those made through `collection` when given. */
  pending(collection?: string): StrictPendingWrite[] {
    const out: StrictPendingWrite[] = []
    for (const entry of this.entries) if (collection === undefined || entry.collection === collection) out.push(describe(entry))
    return out
  }

  /**
   * Called once with the outcome of every write (of `collection` when given, else of all). Outcomes
   * of restored writes that came before any listener could take them are delivered to the first
   * listener that can, in a microtask after it registers.
   */
  onOutcome(collection: string | null, listener: (outcome: StrictWriteOutcome) => void): () => void {
    const remove = collection === null ? this.allOutcomes.add(listener) : this.outcomesByCollection.add(collection, listener)
    let active = true
    const mine = this.undelivered.filter((outcome) => collection === null || outcome.write.collection === collection)
    if (mine.length > 0) {
      this.undelivered = this.undelivered.filter((outcome) => !mine.includes(outcome))
      queueMicrotask(() => {
        for (const outcome of mine) {
          if (!active) {
            this.undelivered.push(outcome)
            continue
          }
          try {
            listener(outcome)
          } catch (error) {
            reportListenerError(error)
          }
        }
      })
    }
    return () => {
      active = false
      remove()
    }
  }

  /** The handshake of a new session was accepted: queued writes may go. */
  sessionStarted(): void {
    if (this.closedWith) return
    this.session += 1
    this.connected = true
    this.drain()
  }

  /**
   * The session ended: unanswered writes with a request key go back to the queue, to be resent with
   * the same key by the next session (the cluster applies them at most once and answers with the
   * first entry's outcome), until their timeout; those without one are indeterminate. Unanswered
   * reads fail.
   */
  sessionEnded(): void {
    if (!this.connected) return
    this.connected = false
    if (this.closedWith) return
    const session = this.session
    for (const entry of [...this.entries]) {
      if (entry.state === 'marking') this.unmark(entry)
      else if (entry.state === 'sent' && entry.session === session) {
        if (entry.request.requestKey !== null) this.requeue(entry)
        else this.settle(entry, { result: indeterminate(entry.request.concern, 'unreachable') })
      }
    }
    for (const [requestId, read] of [...this.reads]) {
      if (read.session !== session) continue
      this.reads.delete(requestId)
      this.options.timers.clearTimeout(read.timer)
      read.reject(new StrictReadFailed('UNAVAILABLE', 'the connection to the region closed before the answer; the read can be retried'))
    }
  }

  /** A frame of the current session; returns false when it is not a strict answer. */
  receive(message: Message): boolean {
    if (message.type === MessageType.StrictWriteResult) {
      const entry = this.writesByRequest.get(message.requestId)
      if (entry && entry.state === 'sent' && entry.session === this.session) this.settle(entry, settlementOf(entry, message.reply))
      return true
    }
    if (message.type === MessageType.StrictReadResult) {
      const read = this.reads.get(message.requestId)
      if (!read || read.session !== this.session) return true
      this.reads.delete(message.requestId)
      this.options.timers.clearTimeout(read.timer)
      const reply = message.reply
      if (reply.status === 'ok') {
        this.advance({ epoch: reply.appliedEpoch, lsn: reply.appliedLsn })
        read.resolve(reply)
      } else {
        read.reject(new StrictReadFailed(reply.error.code, reply.error.message))
      }
      return true
    }
    return false
  }

  /**
   * Rejects every pending promise with `error`. The store keeps its records: queued writes are sent
   * by the next client on the same store, and sent ones are reported there as `unreachable`.
   */
  close(error: Error = new ClientClosedError()): void {
    if (this.closedWith) return
    this.closedWith = error
    this.connected = false
    for (const entry of this.entries.splice(0)) {
      this.options.timers.clearTimeout(entry.timer)
      entry.attempt += 1
      entry.reject?.(error)
    }
    this.writesByRequest.clear()
    for (const read of this.reads.values()) {
      this.options.timers.clearTimeout(read.timer)
      read.reject(error)
    }
    this.reads.clear()
    this.allOutcomes.clear()
    this.outcomesByCollection.clear()
    this.undelivered = []
  }

  /**
   * Numbers the next write at least `writeId`: a tab that takes over from another numbers its writes
   * after those its app has seen (docs/client.md, "Tabs"), so that an app never sees one number twice.
   */
  numberWritesFrom(writeId: number): void {
    if (Number.isSafeInteger(writeId) && writeId > this.nextWriteId) this.nextWriteId = writeId
  }

  // ---------------------------------------------------------------------------------- internals

  /** Takes over what an earlier session left in the store. */
  private restore(): void {
    const load = this.options.store.loadStrictWrites
    if (!load) return
    const records = [...load.call(this.options.store)].sort((a, b) => a.writeId - b.writeId)
    for (const record of records) {
      this.nextWriteId = Math.max(this.nextWriteId, record.writeId + 1)
      const entry: Entry = {
        writeId: record.writeId,
        collection: record.collection,
        // Records kept by a client before request keys existed have none.
        request: { ...record.request, requestKey: record.request.requestKey ?? null },
        queuedAtMs: record.queuedAtMs,
        restored: true,
        state: 'queued',
        marked: false,
        persisted: true,
        attempt: 0,
        left: record.sent,
        requestId: 0,
        session: 0,
        timer: null,
        resolve: null,
        reject: null,
      }
      this.entries.push(entry)
      if (record.sent) {
        // It may have reached a primary before the earlier session ended. Not resent, even with a key:
        // it may be older than the cluster remembers keys, and its caller is gone.
        entry.state = 'sent'
        this.inFlight += 1
        this.settle(entry, { result: indeterminate(record.request.concern, 'unreachable') })
      }
    }
  }

  /** Starts sending queued writes in order while the window allows. */
  private drain(): void {
    while (this.connected && !this.closedWith && this.inFlight < this.maxInFlight) {
      const entry = this.entries.find((e) => e.state === 'queued')
      if (!entry) return
      this.startSending(entry)
    }
  }

  private startSending(entry: Entry): void {
    entry.state = 'marking'
    entry.marked = false
    this.inFlight += 1
    const attempt = entry.attempt
    const mustWait = entry.persisted
    let marked: void | Promise<void>
    try {
      marked = this.save(entry, true)
    } catch (error) {
      this.settle(entry, { error: storeFailure(error) })
      return
    }
    if (marked && mustWait) {
      // The store holds this write as unsent: the frame waits until it holds it as sent, or a
      // crash in between would make the next session send it a second time.
      marked.then(
        () => {
          if (entry.attempt !== attempt || entry.state !== 'marking') return
          entry.marked = true
          this.transmitMarked()
        },
        (error: unknown) => {
          if (entry.attempt === attempt && entry.state === 'marking') this.settle(entry, { error: storeFailure(error) })
        },
      )
      return
    }
    marked?.catch(reportListenerError)
    entry.marked = true
    this.transmitMarked()
  }

  /** Sends the marked writes in order, up to the first whose store record is not durable yet. */
  private transmitMarked(): void {
    for (let i = 0; i < this.entries.length; ) {
      const entry = this.entries[i] as Entry
      if (entry.state === 'queued') return
      if (entry.state === 'marking') {
        if (!entry.marked) return
        this.transmit(entry)
        // A failed send ends the session (and settles or requeues what follows): start over later.
        if (!this.connected) return
      }
      // transmit may settle (and remove) the entry.
      if (this.entries[i] === entry) i += 1
    }
  }

  private transmit(entry: Entry): void {
    if (!this.connected || this.closedWith) {
      this.unmark(entry)
      return
    }
    const requestId = this.nextRequestId++
    let sent: boolean
    try {
      sent = this.options.transport.send({ type: MessageType.StrictWrite, requestId, request: entry.request })
    } catch (error) {
      this.settle(entry, { error: new StrictWriteRejected({ code: 'INVALID_OP', message: `the write could not be encoded: ${describeError(error)}` }, entry.request.op) })
      return
    }
    if (!sent) {
      // The socket is no longer open: the session is over even if its close event is still to come.
      // This write goes back to the queue for the next session; those sent on this one are unreachable.
      this.sessionEnded()
      return
    }
    entry.state = 'sent'
    entry.left = true
    entry.requestId = requestId
    entry.session = this.session
    this.writesByRequest.set(requestId, entry)
    // One deadline from the first send: resends after a reconnect do not extend it.
    if (entry.timer !== null) return
    const waitMs = (entry.request.timeoutMs ?? STRICT_DEFAULT_ANSWER_WAIT_MS) + STRICT_ANSWER_GRACE_MS
    entry.timer = this.options.timers.setTimeout(() => {
      // Still unsettled: on the wire (timeout), or waiting for a connection to resend it on (unreachable).
      if (this.entries.includes(entry)) {
        this.settle(entry, { result: indeterminate(entry.request.concern, entry.state === 'sent' ? 'timeout' : 'unreachable') })
      }
    }, waitMs)
  }

  /** A sent write whose session ended before its answer: back to the queue, in its place, to be resent. */
  private requeue(entry: Entry): void {
    entry.attempt += 1
    entry.state = 'queued'
    entry.marked = false
    this.inFlight -= 1
    this.writesByRequest.delete(entry.requestId)
    entry.requestId = 0
  }

  /** A send attempt that never put the frame on the wire: back to the queue, in its place. */
  private unmark(entry: Entry): void {
    if (entry.state !== 'marking') return
    entry.attempt += 1
    entry.state = 'queued'
    entry.marked = false
    this.inFlight -= 1
    // A write that already left stays "sent" in the store: a restart must not treat it as never sent.
    if (entry.persisted && !entry.left) this.save(entry, false)
  }

  private settle(entry: Entry, settlement: Settlement): void {
    const index = this.entries.indexOf(entry)
    if (index < 0) return
    this.entries.splice(index, 1)
    if (entry.state !== 'queued') this.inFlight -= 1
    const write = describe(entry)
    entry.attempt += 1
    this.options.timers.clearTimeout(entry.timer)
    entry.timer = null
    if (entry.requestId !== 0) this.writesByRequest.delete(entry.requestId)
    if (entry.persisted) this.forget(entry)
    let outcome: StrictWriteOutcome
    if ('result' in settlement) {
      const result = settlement.result
      if (result.status === 'acknowledged' && (result.level === 'majority' || result.level === 'all')) this.advance(result.position)
      entry.resolve?.(result)
      outcome = { write, status: result.status, result, error: null }
    } else {
      entry.reject?.(settlement.error)
      outcome = { write, status: 'rejected', result: null, error: settlement.error }
    }
    this.emit(outcome)
    this.drain()
    this.options.onQueueChange?.()
  }

  private emit(outcome: StrictWriteOutcome): void {
    const collection = outcome.write.collection
    if (outcome.write.restored && this.allOutcomes.size === 0 && !this.outcomesByCollection.has(collection)) {
      this.undelivered.push(outcome)
      return
    }
    this.allOutcomes.emit(outcome)
    this.outcomesByCollection.emit(collection, outcome)
  }

  /** Committed positions only: a session must not wait on an entry that may yet be rolled back. */
  private advance(position: LogPosition): void {
    if (position.lsn > 0) this.seen = maxPosition(this.seen, position)
  }

  /** Records the write in the store (when it keeps strict writes); returns the store's promise. */
  private save(entry: Entry, sent: boolean): void | Promise<void> {
    const store = this.options.store
    if (!store.saveStrictWrite) return
    const record: StoredStrictWrite = {
      writeId: entry.writeId,
      collection: entry.collection,
      request: entry.request,
      queuedAtMs: entry.queuedAtMs,
      sent,
    }
    entry.persisted = true
    if (sent) return store.saveStrictWrite(record)
    try {
      const saved = store.saveStrictWrite(record)
      saved?.catch(reportListenerError)
    } catch (error) {
      reportListenerError(error)
    }
  }

  private forget(entry: Entry): void {
    const store = this.options.store
    if (!store.deleteStrictWrite) return
    try {
      const deleted = store.deleteStrictWrite(entry.writeId)
      deleted?.catch(reportListenerError)
    } catch (error) {
      reportListenerError(error)
    }
  }
}

/** `epoch:lsn`, the form tokens take in results and in a read's `after`. */
export const formatStrictToken = formatPosition

/** Parses an `epoch:lsn` token; throws a TypeError for anything else. */
export function parseStrictToken(token: string): LogPosition {
  const position = parsePosition(token)
  if (position === null) throw new TypeError(`Meridian client: ${JSON.stringify(token)} is not a strict token (epoch:lsn)`)
  return position
}

/** Orders positions by lsn, then epoch. */
export const compareStrictPositions = comparePositions

function maxPosition(a: LogPosition | null, b: LogPosition | null): LogPosition | null {
  if (a === null) return b
  if (b === null) return a
  return compareStrictPositions(a, b) >= 0 ? a : b
}

function describe(entry: Entry): StrictPendingWrite {
  return {
    writeId: entry.writeId,
    collection: entry.collection,
    op: entry.request.op,
    concern: entry.request.concern,
    timeoutMs: entry.request.timeoutMs,
    requestKey: entry.request.requestKey,
    state: entry.state === 'queued' ? 'queued' : 'sent',
    queuedAtMs: entry.queuedAtMs,
    restored: entry.restored,
  }
}

function indeterminate(requested: WriteConcern, reason: 'timeout' | 'unreachable'): StrictWriteResult {
  return { status: 'indeterminate', reason, reached: null, token: null, position: null, requested }
}

function settlementOf(entry: Entry, reply: StrictWriteReply): Settlement {
  switch (reply.status) {
    case 'acknowledged':
      return {
        result: {
          status: 'acknowledged',
          token: formatStrictToken(reply.token),
          position: reply.token,
          requested: reply.requested,
          level: reply.level,
          degraded: reply.degraded,
          ...(reply.duplicate === true ? { duplicate: true } : {}),
        },
      }
    case 'indeterminate':
      return {
        result: {
          status: 'indeterminate',
          reason: reply.reason,
          reached: reply.reached,
          token: reply.token === null ? null : formatStrictToken(reply.token),
          position: reply.token,
          requested: reply.requested,
        },
      }
    case 'rejected':
      return { error: new StrictWriteRejected(reply.error, entry.request.op) }
  }
}

function storeFailure(error: unknown): StrictWriteRejected {
  const rejection = new StrictWriteRejected({
    code: 'UNAVAILABLE',
    message: `the client store could not record the write as sent (${describeError(error)}); it was not sent`,
  })
  ;(rejection as { cause?: unknown }).cause = error
  return rejection
}

/** Programmer errors (a value the wire cannot carry) throw at the call, not later on the wire. */
function checkEncodable(request: StrictWriteRequest): void {
  try {
    encodeMessage({ type: MessageType.StrictWrite, requestId: 0, request })
  } catch (error) {
    throw new TypeError(`Meridian client: invalid strict write: ${describeError(error)}`)
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Marks a promise handled: one nobody awaits must not crash Node when the client closes. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined)
  return promise
}

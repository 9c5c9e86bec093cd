import { MessageType, type Message } from '../../core/codec/index.js'
import {
  StrictNode,
  formatPosition,
  type LogEntry,
  type LogPosition,
  type StrictMessage,
  type StrictReadReply,
  type StrictReadRequest,
  type StrictRole,
  type StrictWriteReply,
  type StrictWriteRequest,
  type WriteOutcome,
} from '../../core/strict/index.js'
import type { ServerConfig } from '../config.js'
import type { Logger } from '../logger.js'
import { AppliedDocuments, type DocumentsAppliedListener } from './applied-documents.js'
import { LagTracker } from './lag-tracker.js'
import { TimedWaiters } from './timed-waiters.js'
import { StrictRequests, type StrictRequestsHost } from './strict-requests.js'
import type { RollbackRecord, StrictStorage } from './strict-storage.js'

/** One thing worth telling an operator: role changes, rollbacks, semi-sync fallback, admin actions. */
export interface StrictEvent {
  readonly at: string
  readonly kind: 'role' | 'rollback' | 'degraded' | 'recovered' | 'admin' | 'storage'
  readonly message: string
}

export interface StrictHostOptions {
  readonly config: ServerConfig
  /** The strict log and state in the node's one storage engine. */
  readonly store: StrictStorage
  readonly logger: Logger
  /** Sends a frame to a cluster member; false when there is no link to it right now. */
  readonly send: (peer: string, message: Message) => boolean
  readonly isLinked: (peer: string) => boolean
  readonly random?: () => number
  /** Monotonic milliseconds (elections, heartbeats, lag); default `performance.now()`. */
  readonly now?: () => number
  /** Wall clock for event and rollback timestamps. */
  readonly wallClock?: () => Date
  /** Called for every event (metrics, logs). */
  readonly onEvent?: (event: StrictEvent) => void
  /** Called with each final write outcome on the primary, and its latency. */
  readonly onWriteOutcome?: (outcome: WriteOutcome, latencyMs: number) => void
}

const TICK_INTERVAL_MS = 10
const MAX_EVENTS = 50
/** How many applies pass between two looks at the retention bound. */
const COMPACTION_CHECK_EVERY = 1000

/**
 * The shell around one `StrictNode` (docs/design.md §4, docs/strict.md): it drives the node's clock; hands
 * its log, hard state, snapshots and rollbacks to the strict storage, which reports `markDurable` from
 * the node's commit loop and holds messages behind durability barriers; carries its messages over the
 * peer links; and serves writes and reads for clients, REST and other nodes (forwarding to the primary
 * through `StrictRequests`).
 */
export class StrictHost implements StrictRequestsHost {
  readonly node: StrictNode
  readonly requests: StrictRequests
  readonly lag = new LagTracker()
  private readonly appliedDocuments: AppliedDocuments
  /** The applied LSN listeners last heard of: a snapshot beyond it was installed, not taken. */
  private reportedLsn = 0
  private readonly options: StrictHostOptions
  private readonly now: () => number
  private readonly wallClock: () => Date
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private readonly outcomeWaiters = new Map<number, { resolve: (o: WriteOutcome) => void; startedMs: number; record: boolean }>()
  private barrierInFlight = false
  private barrierWaiters: ((token: LogPosition | null) => void)[] = []
  private readonly earlyOutcomes = new Map<number, WriteOutcome>()
  /** Keyed by the LSN each waits to see applied. */
  private readonly applyWaiters = new TimedWaiters<number>()
  private readonly roleWaiters = new TimedWaiters<null>()
  private readonly recentEvents: StrictEvent[] = []
  private appliesSinceCompactionCheck = 0
  private wasDegraded = false
  /** Counters for /status and metrics. */
  readonly counters = { rollbackEntries: 0, elections: 0 }
  private storageFailure: Error | null = null

  constructor(options: StrictHostOptions) {
    this.options = options
    this.now = options.now ?? (() => performance.now())
    this.wallClock = options.wallClock ?? (() => new Date())
    const { config, store } = options
    const strict = config.strict
    this.appliedDocuments = new AppliedDocuments((err) => options.logger.error('a strict change listener failed', err))
    this.node = new StrictNode({
      id: config.nodeId,
      members: config.members,
      random: options.random ?? Math.random,
      electionTimeoutMinMs: strict.electionTimeoutMinMs,
      electionTimeoutMaxMs: strict.electionTimeoutMaxMs,
      heartbeatIntervalMs: strict.heartbeatIntervalMs,
      semiSyncTimeoutMs: strict.semiSyncTimeoutMs,
      writeTimeoutMs: strict.writeTimeoutMs,
      requestKeyRetention: strict.requestKeyRetention,
      failover: { priorities: strict.priorities, noFailover: strict.noFailover, ...(strict.maxLagOnFailover === null ? {} : { maxLagOnFailover: strict.maxLagOnFailover }) },
      replicateFrom: strict.replicateFrom,
      ...(strict.cascadeFallbackMs === null ? {} : { cascadeFallbackMs: strict.cascadeFallbackMs }),
      valueLimits: config.values,
      // A quarter of a frame: one entry is at most maxDocumentBytes (config keeps that under a quarter).
      maxAppendBytes: Math.floor(config.maxFrameBytes / 4),
      send: (peer, message) => this.sendStrict(peer, message),
      // Hard state, snapshots and rollback candidates end in a durability barrier: the messages sent
      // after them leave only once they are on disk (StrictStorage, OrderedEffects).
      onHardState: (state) => store.saveHardState(state),
      onAppend: (entries) => this.lag.appended(entries, store.append(entries), this.now()),
      onTruncate: (fromLsn) => {
        store.truncateFrom(fromLsn)
        this.lag.truncated(fromLsn)
      },
      onRollbackCandidates: (candidates) => store.saveRollbackCandidates(candidates),
      onRollback: (entries) => this.recordRollback(entries),
      onSnapshot: (snapshot, prunedTo) => {
        store.saveSnapshot(snapshot, prunedTo)
        this.afterSnapshot(snapshot.lsn, snapshot.epoch)
      },
      onApply: (entry) => this.afterApply(entry),
      onWriteOutcome: (outcome) => this.deliverOutcome(outcome),
      onRoleChange: (role, epoch) => this.afterRoleChange(role, epoch),
      // [PF2]-style batching on the wire: writes arriving in one turn of the event loop share one
      // append message per replica.
      onAppendsPending: () => setImmediate(() => this.node.flushAppends()),
      restore: store.restored,
    })
    this.reportedLsn = this.node.applied
    // Group commit: the node's commit loop reports what its rounds made durable.
    store.onDurable = (lsn) => {
      if (!this.closed) this.node.markDurable(lsn)
    }
    store.onFailure = (err) => this.failStorage(err)
    this.requests = new StrictRequests({
      host: this,
      config,
      send: options.send,
      isLinked: options.isLinked,
      now: this.now,
      onInternalError: (what, err) => options.logger.error(`${what} failed unexpectedly`, err),
    })
  }

  get nodeId(): string {
    return this.options.config.nodeId
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Starts the clock: from now on the node heartbeats, stands for election and times writes out. */
  private sendFailures = 0

  start(): void {
    if (this.timer !== null || this.closed) return
    this.node.tick(this.now())
    // A cluster of one has nobody to wait for.
    if (this.options.config.members.length === 1) this.node.promote()
    this.timer = setInterval(() => this.tick(), TICK_INTERVAL_MS)
    this.timer.unref()
  }

  private tick(): void {
    if (this.closed || this.storageFailure !== null) return
    this.node.tick(this.now())
    const degraded = this.node.degraded
    if (degraded !== this.wasDegraded) {
      this.wasDegraded = degraded
      this.event(degraded ? 'degraded' : 'recovered', degraded
        ? 'semi-sync: no replica acknowledged within semiSyncTimeoutMs; `one` writes are acknowledged at `local` until a replica catches up'
        : 'semi-sync: a replica caught up; `one` writes wait for a replica again')
    }
  }

  /** Stops the clock, answers everything waiting, and makes the log durable. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.requests.close()
    this.applyWaiters.wake()
    this.roleWaiters.wake()
    for (const waiter of this.barrierWaiters.splice(0)) waiter(null)
    try {
      await this.options.store.close()
    } catch {
      // Reported through onFailure already.
    }
  }

  // ------------------------------------------------------------------------------ transport

  private sendStrict(peer: string, message: StrictMessage): void {
    // In the core's order, after the durability barriers before it (a vote after its hard state).
    this.options.store.send(() => {
      // A node whose storage failed is as good as crashed: it must not vote, replicate or heartbeat.
      if (this.closed || this.storageFailure !== null) return
      try {
        this.options.send(peer, { type: MessageType.Strict, message })
      } catch (err) {
        // Values are checked before they are logged, so this is a bug; it must cost one message, never
        // the process (the send runs inside the replication loop and the timers).
        this.sendFailures += 1
        this.options.logger.error(`strict: a ${message.type} message to ${peer} could not be sent`, err)
      }
    })
  }

  /** Strict messages that could not be encoded or sent (a bug if ever above 0; in /status). */
  get failedSends(): number {
    return this.sendFailures
  }

  /** A strict message from a peer. */
  receive(message: StrictMessage): void {
    if (this.closed) return
    this.node.receive(message)
  }

  // ------------------------------------------------------------------------------ durability

  /**
   * A failed fsync or hard-state write leaves the node's storage in an unknown state: it stops taking
   * part (no message leaves it, its clock stops), steps down, says so, and /readyz answers 503.
   * Restarting the process recovers from what the disk really holds.
   */
  private failStorage(err: Error): void {
    if (this.storageFailure !== null) return
    this.storageFailure = err
    this.options.logger.error('strict storage failed; this node stops taking part in strict replication until restarted', err)
    this.event('storage', `storage failed: ${err.message}`)
    // Not re-entrantly: this may run inside one of the node's own callbacks. Pending writes become
    // indeterminate; nothing is sent any more (sendStrict), so no vote or append leaves a node whose
    // disk may not hold what it promised.
    queueMicrotask(() => this.node.stepDown())
  }

  /** [ST5] The entries this node rolled back, oldest first, a page at a time (`GET /admin/rollbacks`). */
  rollbacks(from: number, limit: number): Promise<{ records: RollbackRecord[]; next: number | null }> {
    return this.options.store.readRollbacks(from, limit)
  }

  get storageFailed(): Error | null {
    return this.storageFailure
  }

  // ------------------------------------------------------------------------------ node callbacks

  private afterApply(entry: LogEntry): void {
    this.reportedLsn = entry.lsn
    this.appliedDocuments.entryApplied(entry, (collection, id) => this.node.document(collection, id))
    const applied = this.node.applied
    this.applyWaiters.wake((lsn) => lsn <= applied)
    this.appliesSinceCompactionCheck += 1
    if (this.appliesSinceCompactionCheck >= Math.min(COMPACTION_CHECK_EVERY, Math.ceil(this.options.config.strict.retainEntries / 2))) {
      this.appliesSinceCompactionCheck = 0
      // Defer: compaction snapshots the applied state, which is mid-update inside onApply.
      queueMicrotask(() => this.compactIfBeyondRetention())
    }
  }

  /**
   * Compaction snapshots the state listeners already heard of; an installed snapshot [ST6] jumps the
   * applied state over entries they never heard of, so they must read it again.
   */
  private afterSnapshot(lsn: number, epoch: number): void {
    if (lsn <= this.reportedLsn) return
    this.reportedLsn = lsn
    this.appliedDocuments.stateReplaced({ epoch, lsn })
  }

  /** [ST6] Keeps at most about 2 × retainEntries of log; a replica further behind gets the snapshot. */
  private compactIfBeyondRetention(): void {
    const retain = this.options.config.strict.retainEntries
    const status = this.node.status()
    if (status.appliedLsn - status.prunedLsn > 2 * retain) this.node.compact(status.appliedLsn - retain)
  }

  private afterRoleChange(role: StrictRole, epoch: number): void {
    if (role === 'primary') this.counters.elections += 1
    const verb = role === 'primary' ? 'became primary' : role === 'candidate' ? 'stands for election' : 'follows'
    if (role !== 'candidate') this.event('role', `${this.nodeId} ${verb} in epoch ${epoch}`)
    this.roleWaiters.wake()
  }

  private deliverOutcome(outcome: WriteOutcome): void {
    const waiter = this.outcomeWaiters.get(outcome.writeId)
    if (waiter === undefined) {
      this.earlyOutcomes.set(outcome.writeId, outcome)
      return
    }
    this.outcomeWaiters.delete(outcome.writeId)
    if (waiter.record) this.options.onWriteOutcome?.(outcome, this.now() - waiter.startedMs)
    waiter.resolve(outcome)
  }

  private recordRollback(entries: readonly LogEntry[]): void {
    const list = entries.map(formatPosition).join(', ')
    this.options.store.recordRollback(entries, this.wallClock()).then(
      (file) => {
        // Counted once on disk, so whoever sees the count can read the file.
        this.counters.rollbackEntries += entries.length
        this.event('rollback', `rolled back ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} never acknowledged by a majority (${list}); recorded in ${file}`)
      },
      (err: unknown) => this.options.logger.error(`could not write the rollback file for ${list}`, err),
    )
  }

  private event(kind: StrictEvent['kind'], message: string): void {
    const event: StrictEvent = { at: this.wallClock().toISOString(), kind, message }
    this.recentEvents.push(event)
    if (this.recentEvents.length > MAX_EVENTS) this.recentEvents.shift()
    const log = kind === 'rollback' || kind === 'degraded' || kind === 'storage' ? this.options.logger.warn : this.options.logger.info
    log.call(this.options.logger, `strict: ${message}`)
    this.options.onEvent?.(event)
  }

  events(): readonly StrictEvent[] {
    return this.recentEvents
  }

  // ------------------------------------------------------------------------------ local writes and reads

  /**
   * Submits a write on this node, which must believe it is the primary. Resolves with the final
   * reply; a rejection (NOT_PRIMARY included) means nothing was written.
   */
  async writeHere(request: StrictWriteRequest, timeoutMs: number): Promise<StrictWriteReply> {
    if (this.storageFailure !== null) return { status: 'rejected', error: { code: 'UNAVAILABLE', message: 'this node’s storage failed; it no longer accepts strict writes' } }
    const startedMs = this.now()
    const submission = this.node.write(request.op, { concern: request.concern, timeoutMs: Math.max(1, timeoutMs), requestKey: request.requestKey })
    if (submission.status === 'rejected') return { status: 'rejected', error: submission.error }
    const outcome = await this.awaitOutcome(submission.writeId, startedMs, true)
    if (outcome.status === 'acknowledged') {
      const reply = { status: 'acknowledged', token: outcome.token, requested: outcome.requested, level: outcome.level, degraded: outcome.degraded } as const
      // Only a resend says so: a first write's reply keeps its shape.
      return submission.duplicate === true ? { ...reply, duplicate: true } : reply
    }
    return { status: 'indeterminate', token: outcome.token, requested: outcome.requested, reason: outcome.reason, reached: outcome.reached }
  }

  private awaitOutcome(writeId: number, startedMs: number, record: boolean): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve) => {
      const early = this.earlyOutcomes.get(writeId)
      if (early !== undefined) {
        this.earlyOutcomes.delete(writeId)
        if (record) this.options.onWriteOutcome?.(early, this.now() - startedMs)
        resolve(early)
        return
      }
      this.outcomeWaiters.set(writeId, { resolve, startedMs, record })
    })
  }

  /**
   * Resolves with the token of a read barrier committed after this call (null when this node could
   * not commit one: not the primary, cut off, timed out). Reads arriving while a barrier is in
   * flight wait for the next one, which they share: a barrier submitted before a read began would not
   * prove anything about it.
   */
  awaitBarrier(timeoutMs: number): Promise<LogPosition | null> {
    return new Promise((resolve) => {
      this.barrierWaiters.push(resolve)
      this.pumpBarrier(timeoutMs)
    })
  }

  private pumpBarrier(timeoutMs: number): void {
    if (this.barrierInFlight || this.barrierWaiters.length === 0) return
    const waiters = this.barrierWaiters
    this.barrierWaiters = []
    const submission = this.storageFailure === null ? this.node.barrier({ timeoutMs: Math.max(1, timeoutMs) }) : null
    if (submission === null || submission.status === 'rejected') {
      for (const waiter of waiters) waiter(null)
      return
    }
    this.barrierInFlight = true
    void this.awaitOutcome(submission.writeId, this.now(), false).then((outcome) => {
      this.barrierInFlight = false
      const token = outcome.status === 'acknowledged' ? outcome.token : null
      for (const waiter of waiters) waiter(token)
      this.pumpBarrier(timeoutMs)
    })
  }

  /** Resolves once `lsn` is applied here, or after `timeoutMs` (the caller reads again to see which). */
  waitForApplied(lsn: number, timeoutMs: number): Promise<void> {
    if (this.node.applied >= lsn || this.closed) return Promise.resolve()
    return this.applyWaiters.wait(lsn, timeoutMs)
  }

  /** Resolves at the next role change anywhere in view (or after `timeoutMs`). */
  waitForRoleChange(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.resolve()
    return this.roleWaiters.wait(null, timeoutMs)
  }

  /**
   * Calls `listener` with the documents each applied entry touched, on this node, in LSN order (and
   * after a snapshot install replaced the state). Returns the unsubscribe function. Listeners run
   * inside the apply loop: they must be quick and must not call back into the node's writes.
   */
  onDocumentsApplied(listener: DocumentsAppliedListener): () => void {
    return this.appliedDocuments.add(listener)
  }

  /** The position of this node's applied state: what a document read now is "as of". */
  get appliedPosition(): LogPosition {
    const lsn = this.node.applied
    return { epoch: this.node.epochAt(lsn) ?? 0, lsn }
  }

  /** Serves a read from this node's applied state (see StrictRequests for preferences). */
  readHere(request: StrictReadRequest): ReturnType<StrictNode['read']> {
    return this.node.read(request.collection, request.id, request.after === null ? {} : { after: request.after })
  }

  // ------------------------------------------------------------------------------ entry points

  /** A write from a client or REST on this node: forwarded to the primary when this is not it. */
  write(request: StrictWriteRequest): Promise<StrictWriteReply> {
    return this.requests.write(request)
  }

  read(request: StrictReadRequest): Promise<StrictReadReply> {
    return this.requests.read(request)
  }

  /** A peer went away: requests forwarded to it will not be answered. */
  peerDown(peer: string): void {
    this.requests.peerDown(peer)
  }

  // ------------------------------------------------------------------------------ operator [FO2]

  /** Stands for election now; the vote rule still decides [FO1]. `stood` is false on a noFailover node [FO3]. */
  promote(actor: string): { role: StrictRole; epoch: number; stood: boolean } {
    this.event('admin', `operator (${actor}) asked ${this.nodeId} to stand for election`)
    this.node.tick(this.now())
    const stood = this.node.promote()
    return { role: this.node.currentRole, epoch: this.node.currentEpoch, stood }
  }

  /** [FO3] Starts a switchover to `target` (see `StrictNode.switchover`). */
  switchover(actor: string, target: string, timeoutMs: number): ReturnType<StrictNode['switchover']> {
    this.node.tick(this.now())
    const started = this.node.switchover(target, timeoutMs)
    if (started === 'started') this.event('admin', `operator (${actor}) asked ${this.nodeId} to hand the primary role to ${target}; writes pause until it has`)
    return started
  }

  /** Steps down and hands over to the most caught-up replica; false when this node is not the primary. */
  stepDown(actor: string): boolean {
    const done = this.node.stepDown()
    if (done) this.event('admin', `operator (${actor}) asked ${this.nodeId} to step down`)
    return done
  }
}

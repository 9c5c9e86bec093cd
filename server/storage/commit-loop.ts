import { performance } from 'node:perf_hooks'
import type { StorageAdapter } from '../../core/storage/index.js'

/**
 * One user of the node's commit loop: the crdt change queue and the strict log both are
 * (docs/design.md §6, "One storage engine").
 */
export interface CommitParticipant {
  /**
   * Called at the start of each round, before its flush. Issues the participant's pending storage
   * calls (passing each promise to `track`, so that a failed call fails the round) and returns what to
   * report once the flush has made them durable, or null when it has nothing waiting.
   */
  prepare(track: (call: Promise<unknown>) => void): (() => void) | null
}

export interface CommitLoopOptions {
  readonly storage: StorageAdapter
  /** Called after each round's flush with its duration, for metrics. */
  readonly onSync?: (info: { flushMs: number }) => void
}

/**
 * Group commit [PF2] for every mode on a node: one loop calls the adapter's `flush()` one round at a
 * time, and every participant with something pending shares that round, so a strict write and the
 * crdt changes queued beside it cost one fsync. Work arriving while a round runs goes into the next
 * round at once; an idle loop waits at most the delay its caller asked for (0: until the current
 * task's synchronous work is done). Durability is reported only after the flush that covers it resolved.
 *
 * @example
 * ```ts
 * const loop = new CommitLoop({ storage })
 * loop.join({ prepare: (track) => { track(storage.append('crdt', queued.splice(0))); return () => ack() } })
 * loop.request(2)
 * ```
 */
export class CommitLoop {
  private readonly participants: CommitParticipant[] = []
  private readonly failureListeners: ((err: unknown) => void)[] = []
  private readonly idleWaiters: (() => void)[] = []
  private wanted = false
  private running = false
  /** The scheduled round: a timer for a delay, a microtask for none. */
  private timer: { cancel(): void } | null = null
  private dueAt = Infinity
  private failure: unknown = null

  constructor(private readonly options: CommitLoopOptions) {}

  join(participant: CommitParticipant): void {
    this.participants.push(participant)
  }

  /** Called once, with the error, when storage fails; the loop stops for good. */
  onFailure(listener: (err: unknown) => void): void {
    this.failureListeners.push(listener)
  }

  /** The storage error that stopped the loop, or null. */
  get failed(): unknown {
    return this.failure
  }

  /** Some participant has work: run a round within `delayMs` (sooner if another caller asks). */
  request(delayMs = 0): void {
    if (this.failure !== null) return
    this.wanted = true
    if (this.running) return
    const due = performance.now() + delayMs
    if (this.timer !== null) {
      if (due >= this.dueAt) return
      this.timer.cancel()
    }
    this.dueAt = due
    const start = (): void => {
      this.timer = null
      this.dueAt = Infinity
      void this.run()
    }
    // No delay: the round starts once the current task's synchronous work is done (a microtask), so
    // everything that task queued shares it. setTimeout(…, 0) would wait at least 1 ms, and even
    // setImmediate costs ~0.2 ms of commit latency on a busy loop (it runs after the poll phase's
    // other sockets). Work arriving while the round runs waits for the next one (group commit).
    if (delayMs <= 0) {
      let cancelled = false
      queueMicrotask(() => {
        if (!cancelled) start()
      })
      this.timer = {
        cancel: () => {
          cancelled = true
        },
      }
    } else {
      const timeout = setTimeout(start, delayMs)
      this.timer = { cancel: () => clearTimeout(timeout) }
    }
  }

  /** Resolves once no round runs or waits to run (used at shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.timer === null) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private async run(): Promise<void> {
    this.running = true
    try {
      while (this.wanted && this.failure === null) {
        this.wanted = false
        const calls: Promise<unknown>[] = []
        const track = (call: Promise<unknown>): void => {
          calls.push(call)
        }
        const reports: (() => void)[] = []
        for (const participant of this.participants) {
          const report = participant.prepare(track)
          if (report !== null) reports.push(report)
        }
        if (reports.length === 0 && calls.length === 0) continue
        await Promise.all(calls)
        const started = performance.now()
        await this.options.storage.flush()
        this.options.onSync?.({ flushMs: performance.now() - started })
        for (const report of reports) report()
      }
    } catch (err) {
      this.failure = err ?? new Error('storage failed')
      for (const listener of this.failureListeners) listener(this.failure)
    } finally {
      this.running = false
      // A request during the last round's reports (or after a failure) left no timer behind.
      if (this.wanted && this.failure === null) this.request(0)
      else for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
  }
}

/**
 * Group commit for the strict WAL [PF2]: every `flush()` called while no sync round runs joins the
 * round that starts on the next microtask, so callers of one turn of the event loop share one round;
 * a `flush()` called while a round runs waits for the next round, which starts as soon as the running
 * one ends and serves every flush queued meanwhile. A round captures what it covers when it starts
 * (`begin`), so a flush never resolves before a sync that began after its call has completed.
 *
 * The truncation rule: each flush remembers the store's truncation generation when it was called and
 * resolves null when a truncation happened since (the LSNs it would report may name other entries by
 * now). The first failure is permanent: that round's flushes, every queued one and every later one
 * reject with it (after a failed fsync the page cache can no longer be trusted to reach the disk).
 *
 * Not specific to files: the memory store runs the same rounds with nothing to sync.
 */

/** One sync round, as captured when it starts. */
export interface SyncRound {
  /** The highest LSN the round makes durable (the log's last LSN when it started). */
  readonly lsn: number
  /** Performs the syncs; the round's flushes resolve after it. */
  run(): Promise<void>
}

interface Waiter {
  readonly generation: number
  readonly resolve: (lsn: number | null) => void
  readonly reject: (err: unknown) => void
}

export class GroupSync {
  private waiting: Waiter[] = []
  private running: Promise<void> | null = null
  private scheduled = false
  private failure: { readonly error: unknown } | null = null
  private readonly idleWaiters: (() => void)[] = []
  /** Rounds started so far. */
  rounds = 0

  /**
   * @param begin captures a round (throwing fails it like an I/O error)
   * @param generation the store's truncation generation, bumped by every truncation
   */
  constructor(
    private readonly begin: () => SyncRound,
    private readonly generation: () => number,
  ) {}

  /** The error that stopped the store, or null. */
  get failed(): unknown {
    return this.failure === null ? null : this.failure.error
  }

  flush(): Promise<number | null> {
    if (this.failure !== null) return Promise.reject(this.failure.error)
    return new Promise<number | null>((resolve, reject) => {
      this.waiting.push({ generation: this.generation(), resolve, reject })
      if (this.running === null && !this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => {
          this.scheduled = false
          this.startRound()
        })
      }
    })
  }

  /** Stops the committer: every waiting and later flush rejects with `error` (the first one wins). */
  fail(error: unknown): void {
    if (this.failure !== null) return
    this.failure = { error: error ?? new Error('strict store failed') }
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure.error)
    if (this.running === null) this.wakeIdle()
  }

  /** Resolves once no round runs and no flush waits (close, crash simulation). */
  idle(): Promise<void> {
    if (this.running === null && (this.waiting.length === 0 || this.failure !== null)) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private startRound(): void {
    if (this.running !== null) return
    if (this.failure !== null || this.waiting.length === 0) {
      this.wakeIdle()
      return
    }
    const waiters = this.waiting
    this.waiting = []
    this.rounds += 1
    this.running = this.runRound(waiters).finally(() => {
      this.running = null
      this.startRound()
    })
  }

  private async runRound(waiters: readonly Waiter[]): Promise<void> {
    try {
      const round = this.begin()
      await round.run()
      if (this.failure !== null) throw this.failure.error
      const generation = this.generation()
      for (const waiter of waiters) waiter.resolve(waiter.generation === generation ? round.lsn : null)
    } catch (err) {
      this.fail(err)
      for (const waiter of waiters) waiter.reject(this.failure?.error ?? err)
    }
  }

  private wakeIdle(): void {
    for (const wake of this.idleWaiters.splice(0)) wake()
  }
}

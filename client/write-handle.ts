import { ClientClosedError } from './errors.js'

/**
 * What a write returns: its identity and three promises that resolve as it reaches each level of
 * durability. None of them ever rejects unhandled: when the client closes first, the pending ones
 * reject with `ClientClosedError`; when a region refuses the write, with `WriteRejectedError`; and a
 * handle nobody awaits is harmless.
 *
 * @example
 * ```ts
 * const w = todos.put('t1', { title: 'milk' })
 * await w.local        // applied here (already true when put returns)
 * await w.durable      // persisted by the first region that received it
 * await w.replicated   // persisted in every region
 * ```
 */
export interface WriteHandle {
  /** The writer: this client's id. */
  readonly origin: string
  /** The change's number in this client's log; `(origin, seq)` identifies it everywhere. */
  readonly seq: number
  /** Applied to the local replica; resolves at once. */
  readonly local: Promise<void>
  /** Durable at (at least) one region: some region's durable vector covers `seq`. */
  readonly durable: Promise<void>
  /** Durable in every region: a `Replicated` vector from a region covers `seq`. */
  readonly replicated: Promise<void>
}

export interface Deferred {
  readonly promise: Promise<void>
  resolve(): void
  reject(error: Error): void
}

export function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // Marks the promise handled: a caller that never looks at it must not crash Node with an
  // unhandled rejection when the client closes. Callers that await it still see the rejection.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

interface Pending {
  readonly seq: number
  readonly durable: Deferred
  readonly replicated: Deferred
}

const RESOLVED: Promise<void> = Promise.resolve()

/**
 * Tracks the handles of this client's own writes and resolves them as acknowledgements arrive.
 * Own seqs are dense and increasing, so pending handles form a queue ordered by seq, and each
 * acknowledgement settles a prefix of it: cost proportional to what it settles.
 */
export class WriteHandleTracker {
  private readonly pending: Pending[] = []
  /** Pending handles whose `durable` is settled; they still wait for `replicated`. */
  private durableSettled = 0
  private durableSeq = 0
  private replicatedSeq = 0
  private closedWith: Error | null = null

  constructor(readonly origin: string) {}

  /** Highest own seq durable at some region (a region that holds it in every region counts too). */
  get durableThrough(): number {
    return Math.max(this.durableSeq, this.replicatedSeq)
  }

  get replicatedThrough(): number {
    return this.replicatedSeq
  }

  /** A handle for own change `seq`, which was just applied locally. */
  track(seq: number): WriteHandle {
    if (this.closedWith) throw this.closedWith
    const local = RESOLVED
    if (seq <= this.replicatedSeq) return { origin: this.origin, seq, local, durable: RESOLVED, replicated: RESOLVED }
    const entry: Pending = { seq, durable: deferred(), replicated: deferred() }
    this.pending.push(entry)
    this.settleDurable()
    return { origin: this.origin, seq, local, durable: entry.durable.promise, replicated: entry.replicated.promise }
  }

  /** Some region reports own changes up to `seq` durable. */
  durableAt(seq: number): void {
    if (seq <= this.durableSeq) return
    this.durableSeq = seq
    this.settleDurable()
  }

  /** A region reports own changes up to `seq` durable in every region. */
  replicatedAt(seq: number): void {
    if (seq <= this.replicatedSeq) return
    this.replicatedSeq = seq
    this.settleDurable()
    let settled = 0
    while (settled < this.pending.length && (this.pending[settled]?.seq ?? Infinity) <= seq) {
      this.pending[settled]?.replicated.resolve()
      settled += 1
    }
    this.pending.splice(0, settled)
    this.durableSettled = Math.max(0, this.durableSettled - settled)
  }

  /**
   * A region refused own change `seq`: its handle rejects with `error`, and later acknowledgements,
   * which cover the void entry logged in its place, no longer resolve it.
   */
  rejectAt(seq: number, error: Error): void {
    const entry = this.pending.find((pending) => pending.seq === seq)
    if (entry === undefined) return
    entry.durable.reject(error)
    entry.replicated.reject(error)
  }

  /** Rejects everything still pending; later `track` calls throw `error`. */
  close(error: Error = new ClientClosedError()): void {
    if (this.closedWith) return
    this.closedWith = error
    for (const [i, entry] of this.pending.entries()) {
      if (i >= this.durableSettled) entry.durable.reject(error)
      entry.replicated.reject(error)
    }
    this.pending.length = 0
    this.durableSettled = 0
  }

  private settleDurable(): void {
    const through = this.durableThrough
    while (this.durableSettled < this.pending.length) {
      const entry = this.pending[this.durableSettled]
      if (!entry || entry.seq > through) break
      entry.durable.resolve()
      this.durableSettled += 1
    }
  }
}

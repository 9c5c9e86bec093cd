import { performance } from 'node:perf_hooks'
import type { StorageAdapter } from '../core/storage/index.js'
import type { VersionVector } from '../core/types.js'

export interface GroupCommitOptions {
  readonly storage: StorageAdapter
  /** The storage log the records go to. */
  readonly log: string
  /**
   * How long an idle committer waits for more records before it syncs; 0 = the next turn of the event
   * loop. Records arriving while a sync runs always go into the next sync, without waiting.
   */
  readonly maxDelayMs: number
  /** What the records queued so far cover; read at the moment a batch is cut, so it matches it exactly. */
  readonly cut: () => VersionVector
  /** A batch is durable: everything in `covered` survives a crash from now on. */
  readonly onDurable: (covered: VersionVector) => void
  /** Called after each sync with its duration and size, for metrics. */
  readonly onSync?: (info: { flushMs: number; records: number; lastIndex: number }) => void
  /** Storage failed; the committer stops (nothing queued later becomes durable). */
  readonly onError: (err: unknown) => void
}

/**
 * Group commit [PF2]: records queued while a sync runs share the next one, so N concurrent writes cost
 * far fewer than N fsyncs; a lone write waits for at most one sync (plus `maxDelayMs`). Acks are given
 * only through `onDurable`, after the flush that covers them resolved.
 *
 * @example
 * ```ts
 * const commit = new GroupCommit({ storage, log: 'crdt', maxDelayMs: 2, cut: () => new Map(mesh.vector),
 *   onDurable: (v) => mesh.markDurable(v), onError: console.error })
 * commit.enqueue(encodeChange(change))
 * ```
 */
export class GroupCommit {
  private pending: Uint8Array[] = []
  private running = false
  private failure: unknown = null
  private readonly idleWaiters: (() => void)[] = []

  constructor(private readonly options: GroupCommitOptions) {}

  /** The storage error that stopped the committer, or null. */
  get failed(): unknown {
    return this.failure
  }

  get queued(): number {
    return this.pending.length
  }

  enqueue(record: Uint8Array): void {
    if (this.failure !== null) return
    this.pending.push(record)
    if (this.running) return
    this.running = true
    if (this.options.maxDelayMs > 0) setTimeout(() => void this.run(), this.options.maxDelayMs)
    else setImmediate(() => void this.run())
  }

  /** Resolves once nothing is queued and no sync runs (used at shutdown). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private async run(): Promise<void> {
    const { storage, log } = this.options
    try {
      while (this.pending.length > 0) {
        const records = this.pending
        this.pending = []
        const covered = this.options.cut()
        const lastIndex = await storage.append(log, records)
        const started = performance.now()
        await storage.flush()
        this.options.onSync?.({ flushMs: performance.now() - started, records: records.length, lastIndex })
        this.options.onDurable(covered)
      }
    } catch (err) {
      this.failure = err ?? new Error('storage failed')
      this.pending = []
      this.options.onError(err)
    } finally {
      this.running = false
      for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
  }
}

import type { StorageAdapter } from '../../core/storage/index.js'
import type { VersionVector } from '../../core/types.js'
import type { CommitLoop, CommitParticipant } from '../storage/commit-loop.js'

export interface ChangeCommitQueueOptions {
  readonly storage: StorageAdapter
  /** The node's commit loop, shared with the strict log. */
  readonly loop: CommitLoop
  /** The storage log the records go to. */
  readonly log: string
  /**
   * How long an idle loop waits for more changes before it syncs; 0 = once the current task's
   * synchronous work is done. Changes arriving while a sync runs always go into the next sync, without waiting.
   */
  readonly maxDelayMs: number
  /** What the records queued so far cover; read at the moment a batch is cut, so it matches it exactly. */
  readonly cut: () => VersionVector
  /** A batch is durable: everything in `covered` survives a crash from now on. */
  readonly onDurable: (covered: VersionVector) => void
  /** Called with each batch's size as it is cut, for metrics. */
  readonly onBatch?: (records: number) => void
}

/**
 * The crdt side of group commit [PF2]: changes queued while a sync runs share the next round of the
 * node's commit loop, so N concurrent writes cost far fewer than N fsyncs; a lone write waits for at
 * most one sync (plus `maxDelayMs`). Acks are given only through `onDurable`, after the flush that
 * covers them resolved.
 *
 * @example
 * ```ts
 * const queue = new ChangeCommitQueue({ storage, loop, log: 'crdt', maxDelayMs: 2,
 *   cut: () => new Map(mesh.vector), onDurable: (v) => mesh.markDurable(v) })
 * queue.enqueue(encodeChange(change))
 * ```
 */
export class ChangeCommitQueue implements CommitParticipant {
  private pending: Uint8Array[] = []

  constructor(private readonly options: ChangeCommitQueueOptions) {
    options.loop.join(this)
  }

  get queued(): number {
    return this.pending.length
  }

  enqueue(record: Uint8Array): void {
    if (this.options.loop.failed !== null) return
    this.pending.push(record)
    this.options.loop.request(this.options.maxDelayMs)
  }

  prepare(track: (call: Promise<unknown>) => void): (() => void) | null {
    if (this.pending.length === 0) return null
    const records = this.pending
    this.pending = []
    const covered = this.options.cut()
    track(this.options.storage.append(this.options.log, records))
    this.options.onBatch?.(records.length)
    return () => this.options.onDurable(covered)
  }
}

import type { LogPosition, WriteConcern, WriteOutcome } from './types.js'

/** What the primary knows about durability in its current epoch. */
export interface DurabilityProgress {
  /** The primary's own durable LSN. */
  readonly ownDurableLsn: number
  /** Each replica's durable LSN acknowledged in this epoch (matching the primary's log). */
  readonly replicaDurableLsns: readonly number[]
  /** Highest LSN committed by the primary's rule (majority, current-epoch entry). */
  readonly commitLsn: number
}

interface PendingWrite {
  readonly writeId: number
  readonly token: LogPosition
  readonly requested: WriteConcern
  readonly startedMs: number
  readonly timeoutMs: number
}

export interface StrictAckTrackerOptions {
  readonly semiSyncTimeoutMs: number
  readonly onOutcome: (outcome: WriteOutcome) => void
}

/**
 * Tracks the primary's in-flight writes against durability progress and reports each one's outcome
 * once: acknowledged when its concern is met, `indeterminate` on timeout or step-down [ST3]. Also
 * runs semi-sync's fallback: a `one` write that no replica acknowledged within `semiSyncTimeoutMs`
 * is acknowledged at `local` and the tracker turns `degraded` until a replica catches up.
 */
export class StrictAckTracker {
  /**
   * Pending writes per requested concern, each in LSN order (insertion order). For one concern the
   * acknowledged writes are always a prefix: commit and every durable offset only ever cover a
   * prefix of the log. So progress settles each concern's queue from the front and stops at the
   * first write still waiting: O(writes settled), not O(writes pending), per event [PF3].
   */
  private readonly pending = new Map<WriteConcern, Map<number, PendingWrite>>(WRITE_CONCERN_ORDER.map((c) => [c, new Map()]))
  private count = 0
  /** Highest token LSN added per concern (an upper bound of the queue's last; only ever grows). */
  private readonly tailLsn = new Map<WriteConcern, number>()
  private degradedUpToLsn = 0
  degraded = false

  constructor(private readonly options: StrictAckTrackerOptions) {}

  get size(): number {
    return this.count
  }

  add(writeId: number, token: LogPosition, requested: WriteConcern, nowMs: number, timeoutMs: number): void {
    const write: PendingWrite = { writeId, token, requested, startedMs: nowMs, timeoutMs }
    const queue = this.queue(requested)
    const tail = this.tailLsn.get(requested) ?? 0
    if (token.lsn >= tail) {
      queue.set(writeId, write)
      this.tailLsn.set(requested, token.lsn)
    } else {
      // A duplicate of a keyed write names an earlier entry: keep the queue in LSN order (see
      // `pending`) by rebuilding it. Rare (resends only), so O(pending) here is fine.
      const rest = [...queue.values()]
      queue.clear()
      let placed = false
      for (const other of rest) {
        if (!placed && other.token.lsn > token.lsn) {
          queue.set(writeId, write)
          placed = true
        }
        queue.set(other.writeId, other)
      }
      if (!placed) queue.set(writeId, write)
    }
    this.count += 1
  }

  /**
   * Acknowledges what durability or commit progress now covers. With `timeouts` (on the clock's
   * tick), also applies time: semi-sync fallback after `semiSyncTimeoutMs`, and `indeterminate` after
   * each write's timeout — a full pass over the pending writes.
   */
  evaluate(progress: DurabilityProgress, nowMs: number, timeouts = true): void {
    const bestReplica = Math.max(0, ...progress.replicaDurableLsns)
    if (this.degraded && bestReplica >= this.degradedUpToLsn) this.degraded = false
    for (const queue of this.pending.values()) {
      // Deleting the entry being visited is safe for a Map iterator; no copy, so settling is O(settled).
      for (const write of queue.values()) {
        const reached = reachedLevel(write.token.lsn, progress)
        if (reached !== null && rank(reached) >= rank(write.requested)) {
          this.finish({ status: 'acknowledged', writeId: write.writeId, token: write.token, requested: write.requested, level: write.requested, degraded: false })
          continue
        }
        if (write.requested === 'one' && reached === 'local' && (this.degraded || (timeouts && nowMs - write.startedMs >= this.options.semiSyncTimeoutMs))) {
          this.degraded = true
          this.degradedUpToLsn = Math.max(this.degradedUpToLsn, write.token.lsn)
          this.finish({ status: 'acknowledged', writeId: write.writeId, token: write.token, requested: 'one', level: 'local', degraded: true })
          continue
        }
        if (!timeouts) break
        if (nowMs - write.startedMs >= write.timeoutMs) {
          this.finish({ status: 'indeterminate', writeId: write.writeId, token: write.token, requested: write.requested, reason: 'timeout', reached })
        }
      }
    }
  }

  /** Every pending write becomes `indeterminate` (the primary stepped down) [ST3]. */
  abandonAll(progress: DurabilityProgress): void {
    for (const queue of this.pending.values()) {
      for (const write of [...queue.values()]) {
        const reached = reachedLevel(write.token.lsn, progress)
        this.finish({ status: 'indeterminate', writeId: write.writeId, token: write.token, requested: write.requested, reason: 'stepped-down', reached })
      }
    }
    this.degraded = false
    this.degradedUpToLsn = 0
    // The queues are empty; a later life as primary may start at lower LSNs (its log was cut).
    this.tailLsn.clear()
  }

  private queue(concern: WriteConcern): Map<number, PendingWrite> {
    return this.pending.get(concern) as Map<number, PendingWrite>
  }

  private finish(outcome: WriteOutcome): void {
    if (this.queue(outcome.requested).delete(outcome.writeId)) this.count -= 1
    this.options.onOutcome(outcome)
  }
}

const WRITE_CONCERN_ORDER: readonly WriteConcern[] = ['local', 'one', 'majority', 'all']

const ORDER: readonly WriteConcern[] = ['local', 'one', 'majority', 'all']
const rank = (level: WriteConcern): number => ORDER.indexOf(level)

/**
 * The highest write concern an entry at `lsn` meets: `majority` once committed (a majority holds it
 * durably), `all` when moreover every member does; otherwise `one` / `local` from the primary's own
 * durability. null when not even the primary has it durably.
 */
export function reachedLevel(lsn: number, progress: DurabilityProgress): WriteConcern | null {
  const replicas = progress.replicaDurableLsns.filter((d) => d >= lsn).length
  const own = progress.ownDurableLsn >= lsn
  if (progress.commitLsn >= lsn) return own && replicas === progress.replicaDurableLsns.length ? 'all' : 'majority'
  if (!own) return null
  return replicas >= 1 ? 'one' : 'local'
}

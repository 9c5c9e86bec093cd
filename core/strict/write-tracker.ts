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

export interface WriteTrackerOptions {
  readonly semiSyncTimeoutMs: number
  readonly onOutcome: (outcome: WriteOutcome) => void
}

/**
 * Tracks the primary's in-flight writes against durability progress and reports each one's outcome
 * once: acknowledged when its concern is met, `indeterminate` on timeout or step-down [ST3]. Also
 * runs semi-sync's fallback: a `one` write that no replica acknowledged within `semiSyncTimeoutMs`
 * is acknowledged at `local` and the tracker turns `degraded` until a replica catches up.
 */
export class WriteTracker {
  private readonly pending = new Map<number, PendingWrite>()
  private degradedUpToLsn = 0
  degraded = false

  constructor(private readonly options: WriteTrackerOptions) {}

  get size(): number {
    return this.pending.size
  }

  add(writeId: number, token: LogPosition, requested: WriteConcern, nowMs: number, timeoutMs: number): void {
    this.pending.set(writeId, { writeId, token, requested, startedMs: nowMs, timeoutMs })
  }

  /** Re-checks every pending write; call after any durability progress and on every tick. */
  evaluate(progress: DurabilityProgress, nowMs: number): void {
    const bestReplica = Math.max(0, ...progress.replicaDurableLsns)
    if (this.degraded && bestReplica >= this.degradedUpToLsn) this.degraded = false
    for (const write of [...this.pending.values()]) {
      const reached = reachedLevel(write.token.lsn, progress)
      if (reached !== null && rank(reached) >= rank(write.requested)) {
        this.finish({ status: 'acknowledged', writeId: write.writeId, token: write.token, requested: write.requested, level: write.requested, degraded: false })
        continue
      }
      if (write.requested === 'one' && reached === 'local' && (this.degraded || nowMs - write.startedMs >= this.options.semiSyncTimeoutMs)) {
        this.degraded = true
        this.degradedUpToLsn = Math.max(this.degradedUpToLsn, write.token.lsn)
        this.finish({ status: 'acknowledged', writeId: write.writeId, token: write.token, requested: 'one', level: 'local', degraded: true })
        continue
      }
      if (nowMs - write.startedMs >= write.timeoutMs) {
        this.finish({ status: 'indeterminate', writeId: write.writeId, token: write.token, requested: write.requested, reason: 'timeout', reached })
      }
    }
  }

  /** The primary stepped down: nobody can tell any more whether these writes will survive [ST3]. */
  abandonAll(progress: DurabilityProgress): void {
    for (const write of [...this.pending.values()]) {
      const reached = reachedLevel(write.token.lsn, progress)
      this.finish({ status: 'indeterminate', writeId: write.writeId, token: write.token, requested: write.requested, reason: 'stepped-down', reached })
    }
    this.degraded = false
    this.degradedUpToLsn = 0
  }

  private finish(outcome: WriteOutcome): void {
    this.pending.delete(outcome.writeId)
    this.options.onOutcome(outcome)
  }
}

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

import type { LogEntry } from '../../core/strict/index.js'

/**
 * Remembers, for the recent part of the log, how many bytes precede each LSN and when the entry was
 * appended here, so a replica's lag can be told in bytes and milliseconds as well as in entries
 * (the core only knows LSNs). Like PostgreSQL's `replay_lag`, the time lag is null when the replica
 * holds everything: an idle log has no lag to measure.
 */
export class LagTracker {
  /** Parallel arrays over LSNs `firstLsn ..`: bytes of the log up to and including it, append time. */
  private firstLsn = 1
  /** The cumulative byte count just before `firstLsn`. */
  private baseBytes = 0
  private readonly cumulativeBytes: number[] = []
  private readonly appendedAt: number[] = []
  private readonly capacity: number

  constructor(capacity = 100_000) {
    this.capacity = capacity
  }

  /** New entries at the end of this node's log (in LSN order), with their sizes on the log in bytes. */
  appended(entries: readonly LogEntry[], sizes: readonly number[], nowMs: number): void {
    for (const [i, entry] of entries.entries()) {
      const index = entry.lsn - this.firstLsn
      if (index < 0 || index > this.cumulativeBytes.length) this.reset(entry.lsn)
      const at = entry.lsn - this.firstLsn
      this.cumulativeBytes.length = at
      this.appendedAt.length = at
      const before = at === 0 ? this.baseBytes : (this.cumulativeBytes[at - 1] ?? this.baseBytes)
      this.cumulativeBytes.push(before + (sizes[i] ?? 0))
      this.appendedAt.push(nowMs)
    }
    const excess = this.cumulativeBytes.length - this.capacity
    if (excess > 0) {
      this.baseBytes = this.cumulativeBytes[excess - 1] ?? this.baseBytes
      this.cumulativeBytes.splice(0, excess)
      this.appendedAt.splice(0, excess)
      this.firstLsn += excess
    }
  }

  /** The log was cut at `fromLsn`. */
  truncated(fromLsn: number): void {
    const keep = Math.max(0, fromLsn - this.firstLsn)
    this.cumulativeBytes.length = Math.min(this.cumulativeBytes.length, keep)
    this.appendedAt.length = Math.min(this.appendedAt.length, keep)
  }

  /** Lag of a replica that holds up to `replicaLsn` behind this node's `lastLsn`. */
  lag(replicaLsn: number, lastLsn: number, nowMs: number): { entries: number; bytes: number | null; ms: number | null } {
    const entries = Math.max(0, lastLsn - replicaLsn)
    if (entries === 0) return { entries, bytes: 0, ms: null }
    const bytes = this.bytesBetween(replicaLsn, lastLsn)
    const oldestMissing = this.appendedAt[replicaLsn + 1 - this.firstLsn]
    return { entries, bytes, ms: oldestMissing === undefined ? null : Math.max(0, nowMs - oldestMissing) }
  }

  private bytesBetween(fromLsn: number, toLsn: number): number | null {
    const to = this.cumulativeBytes[toLsn - this.firstLsn]
    if (to === undefined) return null
    if (fromLsn < this.firstLsn - 1) return null
    const from = fromLsn < this.firstLsn ? this.baseBytes : (this.cumulativeBytes[fromLsn - this.firstLsn] ?? null)
    return from === null ? null : to - from
  }

  private reset(firstLsn: number): void {
    this.firstLsn = firstLsn
    this.baseBytes = 0
    this.cumulativeBytes.length = 0
    this.appendedAt.length = 0
  }
}

import type { EpochStart, LogEntry, LogPosition } from './types.js'

/**
 * One node's strict log: entries `base+1 … last` in memory, plus the epoch history of every entry
 * ever held (one `EpochStart` per epoch), so `epochAt` still answers below a pruned prefix and log
 * matching works across snapshots [ST6].
 */
export class StrictLog {
  private entries: LogEntry[] = []
  /** Entries at or below `baseLsn` were pruned (covered by a snapshot). */
  private baseLsn = 0
  private history: EpochStart[] = []

  get firstLsn(): number {
    return this.baseLsn + 1
  }

  get prunedLsn(): number {
    return this.baseLsn
  }

  get lastLsn(): number {
    return this.baseLsn + this.entries.length
  }

  get lastEpoch(): number {
    return this.history.at(-1)?.epoch ?? 0
  }

  get last(): LogPosition {
    return { epoch: this.lastEpoch, lsn: this.lastLsn }
  }

  /** The epoch of the entry at `lsn` (held or pruned); 0 for lsn 0; undefined beyond the end. */
  epochAt(lsn: number): number | undefined {
    if (lsn === 0) return 0
    if (lsn < 0 || lsn > this.lastLsn) return undefined
    for (let i = this.history.length - 1; i >= 0; i--) {
      const start = this.history[i] as EpochStart
      if (start.lsn <= lsn) return start.epoch
    }
    return undefined
  }

  /** The first LSN of the epoch the entry at `lsn` belongs to (a replica's hint on conflict). */
  epochStartOf(lsn: number): number {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const start = this.history[i] as EpochStart
      if (start.lsn <= lsn) return start.lsn
    }
    return 1
  }

  /** The held entry at `lsn`, or undefined when pruned or beyond the end. */
  entry(lsn: number): LogEntry | undefined {
    return lsn > this.baseLsn ? this.entries[lsn - this.baseLsn - 1] : undefined
  }

  /** Held entries `from … to` (inclusive), clipped to what is held. */
  slice(from: number, to: number): LogEntry[] {
    const start = Math.max(from, this.firstLsn) - this.baseLsn - 1
    const end = Math.min(to, this.lastLsn) - this.baseLsn
    return start < end ? this.entries.slice(start, end) : []
  }

  /** The epoch history up to `lsn` inclusive (for a snapshot taken at `lsn`). */
  historyUpTo(lsn: number): EpochStart[] {
    return this.history.filter((start) => start.lsn <= lsn)
  }

  append(entry: LogEntry): void {
    if (entry.lsn !== this.lastLsn + 1) throw new Error(`StrictLog: append at ${entry.lsn} but last is ${this.lastLsn}`)
    if (entry.epoch < this.lastEpoch) throw new Error(`StrictLog: epoch ${entry.epoch} after ${this.lastEpoch}`)
    if (entry.epoch !== this.lastEpoch) this.history.push({ epoch: entry.epoch, lsn: entry.lsn })
    this.entries.push(entry)
  }

  /** Removes `from … last` and returns what was removed (a divergent suffix [ST5]). */
  truncateFrom(from: number): LogEntry[] {
    if (from <= this.baseLsn) throw new Error(`StrictLog: cannot truncate at ${from}, pruned up to ${this.baseLsn}`)
    const removed = this.entries.splice(from - this.baseLsn - 1)
    this.history = this.history.filter((start) => start.lsn < from)
    return removed
  }

  /** Drops held entries up to `lsn` (inclusive); their epochs stay in the history. */
  pruneTo(lsn: number): void {
    if (lsn <= this.baseLsn) return
    const upTo = Math.min(lsn, this.lastLsn)
    this.entries.splice(0, upTo - this.baseLsn)
    this.baseLsn = upTo
  }

  /** Replaces everything by an empty log that starts after `lsn` with the given history. */
  resetTo(lsn: number, history: readonly EpochStart[]): void {
    this.entries = []
    this.baseLsn = lsn
    this.history = history.filter((start) => start.lsn <= lsn)
  }
}

/** [FO1] Raft's "at least as up to date": later last epoch wins, then the longer log. */
export function isAtLeastAsUpToDate(candidate: LogPosition, own: LogPosition): boolean {
  return candidate.epoch !== own.epoch ? candidate.epoch > own.epoch : candidate.lsn >= own.lsn
}

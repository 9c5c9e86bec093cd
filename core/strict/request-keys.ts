import type { LogEntry, LogPosition } from './types.js'

/** How many request keys the applied state remembers by default (oldest forgotten first). */
export const DEFAULT_REQUEST_KEY_RETENTION = 100_000

/**
 * The replicated dedup table of at-most-once writes: request key → position of the entry that
 * carried it, for applied entries only. It is part of the applied state, filled by applying entries
 * in LSN order, so every replica (and so every future primary) holds the same table at the same LSN,
 * and snapshots carry it.
 *
 * Bounded FIFO: beyond `retention` keys the oldest is forgotten, so a resend that arrives after
 * `retention` later keyed writes is written anew. A `Map` keeps insertion order, so eviction is
 * O(1) per write.
 */
export class RequestKeyTable {
  private readonly positions = new Map<string, LogPosition>()

  constructor(readonly retention: number = DEFAULT_REQUEST_KEY_RETENTION) {
    if (!Number.isSafeInteger(retention) || retention < 0) throw new Error('requestKeyRetention must be a whole number >= 0')
  }

  get size(): number {
    return this.positions.size
  }

  get(key: string): LogPosition | undefined {
    return this.positions.get(key)
  }

  /** Oldest first: the order a snapshot keeps, so a restored table forgets in the same order. */
  entries(): IterableIterator<[string, LogPosition]> {
    return this.positions.entries()
  }

  /** Remembers the key of an applied entry (no-op for an entry without one). */
  apply(entry: LogEntry): void {
    if (entry.requestKey === undefined) return
    this.remember(entry.requestKey, { epoch: entry.epoch, lsn: entry.lsn })
  }

  /** Replaces the table (snapshot install or restore), keeping the newest `retention` keys. */
  reset(keys: Iterable<readonly [string, LogPosition]>): void {
    this.positions.clear()
    for (const [key, position] of keys) this.remember(key, { epoch: position.epoch, lsn: position.lsn })
  }

  private remember(key: string, position: LogPosition): void {
    // A key applied again (only after it was forgotten, or by a node that ignores keys) moves to the
    // newest position, so the table always names the latest entry that carried it.
    this.positions.delete(key)
    this.positions.set(key, position)
    while (this.positions.size > this.retention) {
      const oldest = this.positions.keys().next()
      if (oldest.done) break
      this.positions.delete(oldest.value)
    }
  }
}

/**
 * The primary's index of the request keys in its own log above the applied LSN (appended, not yet
 * applied), so a resend of a write still in flight is found in O(1) rather than by scanning the
 * pending entries. Built when the node becomes primary and fed by its appends; a primary's log only
 * grows while it is primary, and `find` checks the entry still carries the key, so a stale item
 * can never name a wrong entry.
 */
export class PendingRequestKeys {
  private readonly lsns = new Map<string, number>()

  /** Indexes an entry of the primary's log (no-op for an entry without a key). */
  add(entry: LogEntry): void {
    if (entry.requestKey !== undefined) this.lsns.set(entry.requestKey, entry.lsn)
  }

  /** Drops the key of an entry now applied: from here on the applied state's table answers for it. */
  applied(entry: LogEntry): void {
    if (entry.requestKey !== undefined && this.lsns.get(entry.requestKey) === entry.lsn) this.lsns.delete(entry.requestKey)
  }

  /** The pending entry (above `appliedLsn`) that carries `key`, looked up in the log by `entryAt`. */
  find(key: string, appliedLsn: number, entryAt: (lsn: number) => LogEntry | undefined): LogPosition | undefined {
    const lsn = this.lsns.get(key)
    if (lsn === undefined || lsn <= appliedLsn) return undefined
    const entry = entryAt(lsn)
    return entry?.requestKey === key ? { epoch: entry.epoch, lsn: entry.lsn } : undefined
  }

  clear(): void {
    this.lsns.clear()
  }
}

import {
  conflictIdentity,
  decodeStoredConflict,
  encodeStoredConflict,
  type ConflictRecord,
  type ConflictResolution,
  type StoredConflict,
} from '../core/crdt/index.js'
import { documentKey } from '../core/mesh/index.js'
import type { StorageAdapter } from '../core/storage/index.js'

/** Stored conflict records: `['crdt', 'conflicts', <cursor, 16 digits>]`, so that key order is cursor order. */
export const CONFLICT_PREFIX = ['crdt', 'conflicts'] as const

/** A cursor as a storage key component: zero-padded, so that `loadRange` returns records oldest first. */
export function conflictKey(cursor: number): string[] {
  return [...CONFLICT_PREFIX, String(cursor).padStart(16, '0')]
}

export interface ConflictStoreOptions {
  /** Records kept per document (its oldest dropped first). */
  readonly perDocument: number
  /** Records kept in all (the document whose last conflict is oldest loses its oldest record). */
  readonly total: number
  /** Where records persist; none keeps them in memory only (unit tests). */
  readonly storage?: StorageAdapter
  /** Wall clock for `observedAtMs`; `Date.now` by default. */
  readonly wallClock?: () => number
  /** A storage call failed (the node then stops persisting anything, like a failed group commit). */
  readonly onError?: (err: unknown) => void
  /** New records were saved: ask the node's commit loop for a round (which calls `prepare`). */
  readonly requestCommit?: () => void
  /** Records added with `notify` became durable (with storage) or were added (without), in cursor order. */
  readonly onDurable?: (records: readonly StoredConflict[]) => void
}

export interface ConflictPage {
  readonly conflicts: StoredConflict[]
  /** The cursor to pass as `after` for the next page: the last record's, or `after` when there was none. */
  readonly next: number
}

/**
 * The conflict records this node observed [PF4], persisted (docs/crdt.md, "Conflict records"): at most
 * `perDocument` per document and `total` overall, each under a cursor that only grows. A record is saved
 * when it is observed, during the application of the change that lost (or won), so the group commit that
 * makes that change durable makes the record durable too; an evicted record is removed from storage.
 * The log's replay after a crash observes again what it had observed: a record with the same identity
 * (`conflictIdentity`) is kept once.
 */
export class ConflictStore {
  /** Map order = least recently added to first, so global eviction is O(1). */
  private readonly byDocument = new Map<string, StoredConflict[]>()
  /** Per collection, in cursor order: what listing pages through. */
  private readonly byCollection = new Map<string, Map<number, StoredConflict>>()
  private readonly byCursor = new Map<number, StoredConflict>()
  private readonly identities = new Map<string, number>()
  private count = 0
  private nextCursor = 1
  /**
   * Records up to this cursor are durable: only they are listed, so that a cursor a reader saw is never
   * given again to another record after a crash (a record's save joins the group commit of its change).
   */
  private durableThrough = 0
  /** Added since the last `prepare`, with whether `onDurable` wants them. */
  private pending: { record: StoredConflict; notify: boolean }[] = []
  private readonly wallClock: () => number

  constructor(private readonly options: ConflictStoreOptions) {
    if (!Number.isSafeInteger(options.perDocument) || options.perDocument < 1) throw new RangeError('ConflictStore: perDocument must be an integer >= 1')
    if (!Number.isSafeInteger(options.total) || options.total < 1) throw new RangeError('ConflictStore: total must be an integer >= 1')
    this.wallClock = options.wallClock ?? Date.now
  }

  get size(): number {
    return this.count
  }

  /** The cursor the next record will get. */
  get nextCursorValue(): number {
    return this.nextCursor
  }

  /**
   * Loads the stored records (before the log's replay). Records beyond today's bounds (a config that
   * shrank) are evicted as if added in cursor order. A record that does not decode is skipped and
   * counted: a conflict record is an observation, and losing one must not keep the node down.
   */
  async load(): Promise<{ records: number; skipped: number }> {
    const storage = this.options.storage
    if (storage === undefined) return { records: 0, skipped: 0 }
    let skipped = 0
    for (const { key, data } of await storage.loadRange([...CONFLICT_PREFIX])) {
      // The key names the cursor too, even of a record that no longer decodes: never reused.
      const fromKey = Number(key[key.length - 1])
      if (Number.isSafeInteger(fromKey) && fromKey >= this.nextCursor) this.nextCursor = fromKey + 1
      let record: StoredConflict
      try {
        record = decodeStoredConflict(data)
      } catch {
        skipped += 1
        continue
      }
      this.insert(record, false)
    }
    this.durableThrough = this.nextCursor - 1
    return { records: this.count, skipped }
  }

  /**
   * Keeps a record observed now and returns it with its cursor, or null when the same conflict is
   * already kept (a replayed or re-delivered change observed it again).
   */
  add(record: ConflictRecord, notify = true): StoredConflict | null {
    if (this.identities.has(conflictIdentity(record))) return null
    const stored: StoredConflict = {
      collection: record.collection,
      docId: record.docId,
      field: record.field,
      winner: record.winner,
      loser: record.loser,
      cursor: this.nextCursor,
      observedAtMs: this.wallClock(),
      resolved: false,
    }
    this.insert(stored, true)
    if (this.options.storage === undefined) {
      this.durableThrough = stored.cursor
      if (notify) this.options.onDurable?.([stored])
    } else {
      this.pending.push({ record: stored, notify })
      this.options.requestCommit?.()
    }
    return stored
  }

  /**
   * A commit round starts (server/storage/commit-loop.ts): every record saved so far is durable once its
   * flush resolves; the returned report makes them listed and tells `onDurable`.
   */
  prepare(): (() => void) | null {
    if (this.pending.length === 0) return null
    const taken = this.pending
    this.pending = []
    const through = (taken[taken.length - 1] as { record: StoredConflict }).record.cursor
    return () => {
      if (through > this.durableThrough) this.durableThrough = through
      const notify = taken.filter((entry) => entry.notify).map((entry) => this.get(entry.record.cursor)).filter((record) => record !== undefined)
      if (notify.length > 0) this.options.onDurable?.(notify)
    }
  }

  /** A document's records, oldest first (a copy). */
  of(collection: string, docId: string): StoredConflict[] {
    return (this.byDocument.get(documentKey(collection, docId)) ?? []).filter((record) => record.cursor <= this.durableThrough)
  }

  /** The record with this cursor, if still kept. */
  get(cursor: number): StoredConflict | undefined {
    return cursor > this.durableThrough ? undefined : this.byCursor.get(cursor)
  }

  /** A collection's records with a cursor above `after`, oldest first, at most `limit`. */
  list(collection: string, after: number, limit: number, unresolvedOnly = false): ConflictPage {
    const conflicts: StoredConflict[] = []
    let next = after
    for (const [cursor, record] of this.byCollection.get(collection) ?? []) {
      if (conflicts.length >= limit || cursor > this.durableThrough) break
      if (cursor <= after) continue
      // A skipped resolved record still moves the cursor on: the next page starts after it.
      next = cursor
      if (unresolvedOnly && record.resolved) continue
      conflicts.push(record)
    }
    return { conflicts, next }
  }

  /** Marks a record resolved (persisted); returns the updated record, or undefined when it is no longer kept. */
  resolve(cursor: number, resolution: ConflictResolution): StoredConflict | undefined {
    const current = this.get(cursor)
    if (current === undefined) return undefined
    if (current.resolved) return current
    const updated: StoredConflict = { ...current, resolved: true, resolution }
    this.replace(current, updated)
    this.persist(updated)
    return updated
  }

  private insert(record: StoredConflict, save: boolean): void {
    const key = documentKey(record.collection, record.docId)
    const records = this.byDocument.get(key) ?? []
    this.byDocument.delete(key)
    this.byDocument.set(key, records)
    records.push(record)
    let collection = this.byCollection.get(record.collection)
    if (collection === undefined) {
      collection = new Map()
      this.byCollection.set(record.collection, collection)
    }
    collection.set(record.cursor, record)
    this.byCursor.set(record.cursor, record)
    this.identities.set(conflictIdentity(record), record.cursor)
    this.count += 1
    if (record.cursor >= this.nextCursor) this.nextCursor = record.cursor + 1
    // Saved before any eviction is removed: storage applies calls in order, so a crash can never leave
    // the older records gone and the newer one missing (the cursor would be reused).
    if (save) this.persist(record)
    if (records.length > this.options.perDocument) this.evict(key, records)
    while (this.count > this.options.total) {
      const oldest = this.byDocument.entries().next()
      if (oldest.done) break
      const [oldestKey, oldestRecords] = oldest.value
      this.evict(oldestKey, oldestRecords)
    }
  }

  /** Drops the oldest record of one document, here and in storage. */
  private evict(key: string, records: StoredConflict[]): void {
    const dropped = records.shift()
    if (records.length === 0) this.byDocument.delete(key)
    if (dropped === undefined) return
    this.count -= 1
    const collection = this.byCollection.get(dropped.collection)
    collection?.delete(dropped.cursor)
    this.byCursor.delete(dropped.cursor)
    if (collection?.size === 0) this.byCollection.delete(dropped.collection)
    this.identities.delete(conflictIdentity(dropped))
    this.options.storage?.remove(conflictKey(dropped.cursor)).catch((err: unknown) => this.options.onError?.(err))
  }

  private replace(current: StoredConflict, updated: StoredConflict): void {
    const records = this.byDocument.get(documentKey(current.collection, current.docId))
    const at = records?.indexOf(current) ?? -1
    if (records !== undefined && at >= 0) records[at] = updated
    this.byCollection.get(current.collection)?.set(current.cursor, updated)
    this.byCursor.set(current.cursor, updated)
  }

  private persist(record: StoredConflict): void {
    this.options.storage?.save(conflictKey(record.cursor), encodeStoredConflict(record)).catch((err: unknown) => this.options.onError?.(err))
  }
}

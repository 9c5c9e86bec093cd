/**
 * The one storage interface every Meridian store implements (docs/design.md §6): memory (tests, simulation),
 * file (Node server) and IndexedDB (browser client). Modelled on automerge-repo's
 * `StorageAdapterInterface` — keyed blobs addressed by string arrays, with prefix range reads — plus
 * what replication needs on top: append-only logs with dense indices, prefix pruning for retention
 * [SG2], suffix truncation for rollback [ST5], and an fsync-level durability promise [SG1].
 *
 * Every implementation runs the shared suite in `core/storage/contract.ts`.
 */

/**
 * A blob's address: one or more path components, e.g. `['snapshot', 'notes', '42']`.
 * Components are arbitrary strings (any characters, case-sensitive, possibly empty); adapters
 * that map keys onto file names must escape them so that distinct keys never collide.
 */
export type StorageKey = readonly string[]

/** One entry of a range read. */
export interface StorageChunk {
  readonly key: StorageKey
  readonly data: Uint8Array
}

/**
 * Which indices a log currently retains: `firstIndex..lastIndex`, inclusive and without holes.
 * An empty log has `lastIndex === firstIndex - 1`; the next append gets `lastIndex + 1`.
 * A log that was never written reports `{ firstIndex: 1, lastIndex: 0 }`.
 */
export interface LogBounds {
  readonly firstIndex: number
  readonly lastIndex: number
}

/** Stable codes of {@link StorageError}. */
export type StorageErrorCode =
  /** The adapter was closed (or, in tests, crashed); nothing more can be done with this instance. */
  | 'closed'
  /** A key, log name or index argument is malformed (a programmer error). */
  | 'invalid-argument'
  /** `readLog` asked for records below `firstIndex`: they were pruned, bootstrap from a snapshot [ST6]. */
  | 'pruned'
  /** The underlying medium failed; durability of unflushed writes is unknown. */
  | 'io'

/** The typed error every adapter rejects with; `code` is stable, `message` is for humans. */
export class StorageError extends Error {
  override readonly name = 'StorageError'
  readonly code: StorageErrorCode

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * Durable storage for one node or client.
 *
 * **Ordering.** Operations on one adapter take effect in the order they were *called*, whether or
 * not the caller awaited the earlier ones; reads observe every write called before them, durable or
 * not. Returned promises resolve once the operation is visible, not once it is durable.
 *
 * **Durability.** Nothing is promised to survive a crash until a later {@link flush} resolves.
 * After a crash and reopen:
 * - everything written before a `flush()` call whose promise resolved is present [SG1];
 * - each log holds the state it had at some moment between that flush and the crash: its retained
 *   records are contiguous (no holes) and each equals what was appended at that index — a torn or
 *   partly written tail is dropped, never surfaced;
 * - each blob holds one of the values it had between that flush and the crash (never a torn mix);
 * - the recovered state is itself durable: a second crash before any further write loses nothing.
 *
 * **Errors.** Methods reject with {@link StorageError}. Bad arguments (`code: 'invalid-argument'`)
 * are programmer errors. After an `'io'` failure of `flush` the adapter must be treated as crashed.
 *
 * Blobs and logs are separate namespaces: log `'x'` and key `['x']` are unrelated.
 *
 * @example
 * ```ts
 * const storage: StorageAdapter = new MemoryStorageAdapter()
 * await storage.save(['meta', 'epoch'], Uint8Array.of(3))
 * const lsn = await storage.append('strict', [entryBytes])
 * await storage.flush()               // now [SG1] holds for both: acknowledge the write
 * const tail = await storage.readLog('strict', lsn)
 * ```
 */
export interface StorageAdapter {
  /**
   * The blob stored under exactly `key`, or `undefined` when there is none. The returned buffer is
   * the caller's own copy.
   *
   * @example
   * ```ts
   * const bytes = await storage.load(['meta', 'epoch'])   // Uint8Array | undefined
   * ```
   */
  load(key: StorageKey): Promise<Uint8Array | undefined>

  /**
   * Stores `data` under `key`, replacing any previous value. The adapter copies `data`; mutating it
   * afterwards does not change what is stored. `key` must have at least one component.
   *
   * @example
   * ```ts
   * await storage.save(['snapshot', 'notes'], snapshotBytes)
   * ```
   */
  save(key: StorageKey, data: Uint8Array): Promise<void>

  /**
   * Deletes the blob under exactly `key` (not keys that merely start with it). Removing a missing
   * key is a no-op.
   *
   * @example
   * ```ts
   * await storage.remove(['snapshot', 'notes'])
   * ```
   */
  remove(key: StorageKey): Promise<void>

  /**
   * Every blob whose key starts with the components of `prefix` (component-wise: `['a', 'b']`
   * matches `['a', 'b']` and `['a', 'b', 'c']`, never `['a', 'bc']`). The empty prefix matches
   * everything. Results are in ascending key order: component by component, comparing strings by
   * UTF-16 code units, a key before its extensions (IndexedDB's array-key order).
   *
   * @example
   * ```ts
   * for (const { key, data } of await storage.loadRange(['snapshot'])) restore(key[1], data)
   * ```
   */
  loadRange(prefix: StorageKey): Promise<StorageChunk[]>

  /**
   * Deletes every blob {@link loadRange} would return for `prefix`.
   *
   * @example
   * ```ts
   * await storage.removeRange(['collection', 'notes'])
   * ```
   */
  removeRange(prefix: StorageKey): Promise<void>

  /**
   * Appends `records` to `log` (created on first use) and resolves with the index of the last one;
   * they get consecutive indices starting at the log's `lastIndex + 1` (1 for a new log), so a
   * strict-mode log can use LSN = index. Appending nothing resolves with the current `lastIndex`.
   * Empty records are allowed and read back as empty. The adapter copies the records.
   *
   * @example
   * ```ts
   * const last = await storage.append('strict', [e1, e2])   // e.g. 41, 42 -> resolves 42
   * await storage.flush()                                   // only now may 41 and 42 be acknowledged
   * ```
   */
  append(log: string, records: readonly Uint8Array[]): Promise<number>

  /**
   * Records `fromIndex..toIndex` (inclusive; `toIndex` defaults to the end and is clipped to
   * `lastIndex`); element `k` of the result is the record at `fromIndex + k`. Returns `[]` when
   * `fromIndex > lastIndex`. Rejects with code `'pruned'` when `fromIndex < firstIndex`, so a gap is
   * never silently skipped [ST6].
   *
   * An array rather than an async iterable: the caller bounds memory by choosing the range (catch-up
   * reads in pages [PF4]), the result is a consistent cut even if the log is truncated right after,
   * and IndexedDB transactions cannot stay open across a consumer's unrelated awaits.
   *
   * @example
   * ```ts
   * const page = await storage.readLog('strict', replicaLsn + 1, replicaLsn + 256)
   * ```
   */
  readLog(log: string, fromIndex: number, toIndex?: number): Promise<Uint8Array[]>

  /**
   * The log's retained range; `{ firstIndex: 1, lastIndex: 0 }` for a log never written. Lets
   * recovery find where to resume without reading the log [PF3].
   *
   * @example
   * ```ts
   * const { lastIndex } = await storage.logBounds('strict')   // last durable LSN after restart
   * ```
   */
  logBounds(log: string): Promise<LogBounds>

  /**
   * Retention [SG2]: drops every record below `beforeIndex`; afterwards `firstIndex` is
   * `max(firstIndex, beforeIndex)`. Indices of later records do not change. Pruning past the end
   * empties the log and moves its append point: the next append gets `beforeIndex` (a replica that
   * bootstrapped from a snapshot at LSN `s` calls `truncateLog(log, s + 1)` [ST6]). Never un-prunes.
   *
   * @example
   * ```ts
   * await storage.truncateLog('strict', minDurableLsnOfAllReplicas + 1)
   * ```
   */
  truncateLog(log: string, beforeIndex: number): Promise<void>

  /**
   * Rollback [ST5]: drops every record above `index`, so the next append gets `index + 1`.
   * A no-op when `index >= lastIndex`. If `index < firstIndex - 1` the log becomes empty with
   * `firstIndex = index + 1`.
   *
   * @example
   * ```ts
   * const divergent = await storage.readLog('strict', commonLsn + 1)   // keep for the rollback file
   * await storage.truncateLogAfter('strict', commonLsn)
   * ```
   */
  truncateLogAfter(log: string, index: number): Promise<void>

  /**
   * Resolves once every operation called before `flush()` is durable (fsync-level), so that it
   * survives a crash [SG1]. Concurrent flushes may share one sync (group commit [PF2]). Rejects with
   * code `'io'` if that cannot be guaranteed; the adapter is then unusable.
   *
   * @example
   * ```ts
   * await Promise.all(batch.map(e => storage.append('strict', [e])))
   * await storage.flush()
   * for (const w of batch) w.ack('local')
   * ```
   */
  flush(): Promise<void>

  /**
   * Flushes, then releases resources. Idempotent; every other method rejects with code `'closed'`
   * afterwards.
   *
   * @example
   * ```ts
   * await storage.close()
   * ```
   */
  close(): Promise<void>
}

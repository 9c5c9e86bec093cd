/**
 * The file storage adapter: the Node server's default storage, embedded, nothing to install
 * (docs/design.md §6). It implements the shared {@link StorageAdapter} contract on plain files,
 * composing parts that each have their own file:
 * - log-segments.ts: a log's directory of segment files, their handles and meta.json [SG2];
 *   log-writer.ts appends to it (coalesced writes), log-reader.ts reads ranges [PF3], and
 *   log-truncate.ts does retention and rollback, durably;
 * - blob-store.ts: the single append-only blob file and its in-memory key map, compacted by
 *   blob-compaction.ts;
 * - sync-rounds.ts: `flush()` and the sync rounds it waits for [PF2];
 * - storage-recovery.ts, log-recovery.ts, recovery-cut.ts: scanning and repair on open [SG1];
 * - file-storage-types.ts and file-context.ts: the types and the state those parts share.
 *
 * **Ordering.** Each log, and the blob namespace, has its own FIFO queue of operations, so
 * operations take effect in call order per log / for blobs, which is all a caller can observe
 * (reads see prior writes of the same queue; after a crash every key and log is judged on its own).
 * Consecutive appends to the same log that wait in its queue are written with one `writev`.
 *
 * One process at a time: nothing stops two processes from opening the same directory.
 */
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import {
  StorageError,
  type LogBounds,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey,
} from '../../core/storage/adapter.js'
import {
  assertBytes,
  assertIndex,
  assertLogName,
  assertStorageKey,
  assertStoragePrefix,
  compareStorageKeys,
  hasKeyPrefix,
} from '../../core/storage/keys.js'
import { compactBlobs, compactionDue } from './blob-compaction.js'
import {
  appendBlobRecord,
  BLOB_PREFIX_BYTES,
  encodeBlobRecord,
  OP_PUT,
  OP_REMOVE,
  OP_REMOVE_PREFIX,
  readBlob,
  readBlobs,
} from './blob-store.js'
import { asStorageError, message, noop, type FileStorageContext } from './file-context.js'
import {
  DEFAULT_BLOB_COMPACTION_MIN_BYTES,
  DEFAULT_SEGMENT_BYTES,
  validateOptions,
  type BlobEntry,
  type BlobFile,
  type FileDurability,
  type FileStorageOptions,
  type LogState,
  type Queue,
  type RecoveryStats,
  type SyncStats,
} from './file-storage-types.js'
import { SyncRounds } from './sync-rounds.js'
import { BLOB_FILE, LOGS_DIR } from './layout.js'
import { readRange } from './log-reader.js'
import { lastIndexOf, newLogState } from './log-segments.js'
import { truncateAfter, truncateBefore } from './log-truncate.js'
import { enqueueAppend, frameAppend } from './log-writer.js'
import { MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES } from './record-format.js'
import { recoverStorage } from './storage-recovery.js'

export type {
  FileDurability,
  FileStorageOptions,
  RecoveryStats,
  RecoveryTruncation,
  SyncStats,
} from './file-storage-types.js'

/**
 * A {@link StorageAdapter} on files in one directory: segmented, checksummed logs with group commit,
 * and an append-only blob file with compaction. Create it with {@link openFileStorage}.
 *
 * @example
 * ```ts
 * const storage = await openFileStorage('.meridian/eu-1')
 * console.log(storage.recoveryStats)              // what recovery found and repaired
 * const lsn = await storage.append('strict', [entryBytes])
 * await storage.flush()                           // group commit: now acknowledge
 * await storage.close()
 * ```
 */
export class FileStorageAdapter implements StorageAdapter {
  /** The storage directory. */
  readonly dir: string
  private readonly ctx: FileStorageContext
  private readonly logs = new Map<string, LogState>()
  private readonly commit: SyncRounds
  private lifecycle: 'open' | 'closing' | 'closed' = 'open'
  private closing: Promise<void> | null = null
  private recovery: RecoveryStats | null = null

  private constructor(dir: string, options: FileStorageOptions) {
    this.dir = dir
    this.ctx = {
      dir,
      logsDir: join(dir, LOGS_DIR),
      segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      compactionMinBytes: options.blobCompactionMinBytes ?? DEFAULT_BLOB_COMPACTION_MIN_BYTES,
      stats: { flushCalls: 0, syncRounds: 0, fileSyncs: 0, durableWrites: 0, dirSyncs: 0, blobCompactions: 0 },
      dirtySegments: new Set(),
      dirtyDirs: new Set(),
      writeEpoch: 0,
      failure: null,
      blob: null,
    }
    this.commit = new SyncRounds(this.ctx, () => this.settledTails(), options.duringSync)
  }

  /** @internal use {@link openFileStorage} */
  static async open(dir: string, options: FileStorageOptions = {}): Promise<FileStorageAdapter> {
    validateOptions(options)
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new StorageError('invalid-argument', 'dir must be a non-empty path')
    }
    const adapter = new FileStorageAdapter(dir, options)
    try {
      adapter.recovery = await recoverStorage(adapter.ctx, (name) => adapter.logState(name))
      // Garbage left by the previous run is compacted in the background, once the store is open.
      if (adapter.ctx.blob) adapter.maybeCompact(adapter.ctx.blob)
    } catch (err) {
      await adapter.releaseHandles()
      adapter.lifecycle = 'closed'
      if (err instanceof StorageError) throw err
      throw new StorageError('io', `cannot open file storage at ${dir}: ${message(err)}`, { cause: err })
    }
    return adapter
  }

  /** What recovery found and repaired when this adapter was opened. */
  get recoveryStats(): RecoveryStats {
    return this.recovery as RecoveryStats
  }

  /** Group-commit counters since open [PF2]. */
  get syncStats(): SyncStats {
    return { ...this.ctx.stats }
  }

  /**
   * For every data file (blob file, log segments): bytes handed to the OS and bytes known durable.
   * Diagnostics; tests use it to simulate a machine crash by cutting each file back to a length in
   * between.
   */
  fileDurability(): FileDurability[] {
    const out: FileDurability[] = []
    const blob = this.ctx.blob
    if (blob) out.push({ path: join(this.dir, BLOB_FILE), writtenBytes: blob.writtenSize, syncedBytes: blob.syncedSize })
    for (const state of this.logs.values()) {
      for (const seg of state.segments) {
        out.push({ path: seg.path, writtenBytes: seg.writtenSize, syncedBytes: seg.syncedSize })
      }
    }
    return out
  }

  // -------------------------------------------------------------------------------------------
  // blobs

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const blob = this.usableBlob()
    assertStorageKey(key)
    const id = JSON.stringify(key)
    return this.run(blob, 'load', async () => {
      const entry = blob.index.get(id)
      return entry === undefined ? undefined : readBlob(this.ctx, blob, entry, id)
    })
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    const blob = this.usableBlob()
    assertStorageKey(key)
    assertBytes(data, 'data')
    const keyCopy = [...key]
    const id = JSON.stringify(keyCopy)
    const keyJson = Buffer.from(id, 'utf8')
    if (data.length > MAX_RECORD_PAYLOAD_BYTES - BLOB_PREFIX_BYTES - keyJson.length) {
      throw new StorageError('invalid-argument', `blob of ${data.length} bytes is too large`)
    }
    const record = encodeBlobRecord(OP_PUT, keyJson, data)
    return this.run(blob, 'save', async () => {
      const recordOffset = await appendBlobRecord(this.ctx, blob, record)
      const previous = blob.index.get(id)
      if (previous) blob.liveBytes -= previous.recordBytes
      blob.index.set(id, {
        key: keyCopy,
        recordOffset,
        recordBytes: record.length,
        dataStart: RECORD_HEADER_BYTES + BLOB_PREFIX_BYTES + keyJson.length,
      })
      blob.liveBytes += record.length
      this.maybeCompact(blob)
    })
  }

  async remove(key: StorageKey): Promise<void> {
    const blob = this.usableBlob()
    assertStorageKey(key)
    const id = JSON.stringify(key)
    return this.run(blob, 'remove', async () => {
      const entry = blob.index.get(id)
      if (entry === undefined) return
      await appendBlobRecord(this.ctx, blob, encodeBlobRecord(OP_REMOVE, Buffer.from(id, 'utf8')))
      blob.index.delete(id)
      blob.liveBytes -= entry.recordBytes
      this.maybeCompact(blob)
    })
  }

  async loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    const blob = this.usableBlob()
    assertStoragePrefix(prefix)
    const prefixCopy = [...prefix]
    return this.run(blob, 'loadRange', async () => {
      const matches: [string, BlobEntry][] = []
      for (const item of blob.index) if (hasKeyPrefix(item[1].key, prefixCopy)) matches.push(item)
      matches.sort((a, b) => compareStorageKeys(a[1].key, b[1].key))
      const data = await readBlobs(this.ctx, blob, matches)
      return matches.map(([, entry], i) => ({ key: [...entry.key], data: data[i] as Uint8Array }))
    })
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    const blob = this.usableBlob()
    assertStoragePrefix(prefix)
    const prefixCopy = [...prefix]
    return this.run(blob, 'removeRange', async () => {
      const matches: [string, BlobEntry][] = []
      for (const item of blob.index) if (hasKeyPrefix(item[1].key, prefixCopy)) matches.push(item)
      if (matches.length === 0) return
      // One record for the whole range: replaying it against the index as it was reproduces exactly this removal.
      await appendBlobRecord(this.ctx, blob, encodeBlobRecord(OP_REMOVE_PREFIX, Buffer.from(JSON.stringify(prefixCopy), 'utf8')))
      for (const [id, entry] of matches) {
        blob.index.delete(id)
        blob.liveBytes -= entry.recordBytes
      }
      this.maybeCompact(blob)
    })
  }

  private maybeCompact(blob: BlobFile): void {
    if (!compactionDue(this.ctx, blob)) return
    blob.compactionQueued = true
    // Queued behind the operation that triggered it, so that operation resolves without waiting for it.
    this.run(blob, 'compact blob file', () => compactBlobs(this.ctx, blob)).catch(noop)
  }

  // -------------------------------------------------------------------------------------------
  // logs

  async append(log: string, records: readonly Uint8Array[]): Promise<number> {
    this.assertOpen()
    assertLogName(log)
    const { buf, sizes } = frameAppend(records)
    return enqueueAppend(this.ctx, this.logState(log), buf, sizes)
  }

  async readLog(log: string, fromIndex: number, toIndex?: number): Promise<Uint8Array[]> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(fromIndex, 'fromIndex', 1)
    if (toIndex !== undefined) assertIndex(toIndex, 'toIndex', 0)
    const state = this.logState(log)
    return this.runLog(state, 'readLog', () => readRange(state, fromIndex, toIndex))
  }

  async logBounds(log: string): Promise<LogBounds> {
    this.assertOpen()
    assertLogName(log)
    const state = this.logState(log)
    return this.runLog(state, 'logBounds', async () => ({ firstIndex: state.first, lastIndex: lastIndexOf(state) }))
  }

  async truncateLog(log: string, beforeIndex: number): Promise<void> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(beforeIndex, 'beforeIndex', 1)
    const state = this.logState(log)
    return this.runLog(state, 'truncateLog', () => truncateBefore(this.ctx, state, beforeIndex))
  }

  async truncateLogAfter(log: string, index: number): Promise<void> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(index, 'index', 0)
    const state = this.logState(log)
    return this.runLog(state, 'truncateLogAfter', () => truncateAfter(this.ctx, state, index))
  }

  private logState(name: string): LogState {
    let state = this.logs.get(name)
    if (state === undefined) {
      state = newLogState(this.ctx, name)
      this.logs.set(name, state)
    }
    return state
  }

  // -------------------------------------------------------------------------------------------
  // queues, failure

  private runLog<T>(state: LogState, what: string, task: () => Promise<T>): Promise<T> {
    // Appends called after this operation must not join a batch queued before it.
    state.batch = null
    return this.run(state, `${what} on log '${state.name}'`, task)
  }

  private run<T>(queue: Queue, what: string, task: () => Promise<T>): Promise<T> {
    const result = queue.tail.then(async () => {
      if (this.ctx.failure) throw this.ctx.failure
      try {
        return await task()
      } catch (err) {
        throw asStorageError(this.ctx, err, what)
      }
    })
    queue.tail = result.then(noop, noop)
    return result
  }

  private assertOpen(): void {
    if (this.lifecycle !== 'open') throw new StorageError('closed', `file storage at ${this.dir} is closed`)
    if (this.ctx.failure) throw this.ctx.failure
  }

  private usableBlob(): BlobFile {
    this.assertOpen()
    return this.ctx.blob as BlobFile
  }

  private tails(): Promise<void>[] {
    const tails: Promise<void>[] = []
    if (this.ctx.blob) tails.push(this.ctx.blob.tail)
    for (const state of this.logs.values()) tails.push(state.tail)
    return tails
  }

  /** Settles once every operation called so far has finished. */
  private settledTails(): Promise<unknown> {
    return Promise.all(this.tails())
  }

  /** Settles once no operation is queued, including work queued by queued work (blob compaction). */
  private async drainQueues(): Promise<void> {
    for (;;) {
      const before = this.tails()
      await Promise.all(before)
      const after = this.tails()
      if (after.length === before.length && after.every((tail, i) => tail === before[i])) return
    }
  }

  // -------------------------------------------------------------------------------------------
  // group commit, lifecycle

  async flush(): Promise<void> {
    this.assertOpen()
    return this.commit.flushNow()
  }

  /**
   * Flushes, then releases every file handle. Idempotent; every other method rejects with code
   * `'closed'` from the moment it is called. Rejects with the `'io'` error if the final flush could
   * not be guaranteed (the handles are released all the same).
   */
  close(): Promise<void> {
    if (this.closing) return this.closing
    if (this.lifecycle === 'closed') return Promise.resolve()
    this.lifecycle = 'closing'
    this.closing = (async () => {
      let error: unknown = null
      try {
        await this.drainQueues()
        if (this.ctx.failure) throw this.ctx.failure
        await this.commit.flushNow()
      } catch (err) {
        error = err
      }
      await this.releaseHandles()
      this.lifecycle = 'closed'
      if (error !== null) throw error
    })()
    return this.closing
  }

  /**
   * Releases the file handles **without** flushing, once operations already called have finished.
   * For tests that simulate a crash by reopening a copy of the directory. Not a crash: what was
   * handed to the OS is still in its page cache and will most likely reach the disk.
   */
  abandon(): Promise<void> {
    if (this.closing) return this.closing
    if (this.lifecycle === 'closed') return Promise.resolve()
    this.lifecycle = 'closing'
    this.closing = (async () => {
      await this.drainQueues()
      await this.commit.idle
      await this.releaseHandles()
      this.lifecycle = 'closed'
    })()
    return this.closing
  }

  private async releaseHandles(): Promise<void> {
    const handles: FileHandle[] = []
    if (this.ctx.blob) handles.push(this.ctx.blob.handle)
    for (const state of this.logs.values()) {
      state.openOld = []
      for (const seg of state.segments) {
        if (seg.handle) handles.push(seg.handle)
        seg.handle = null
      }
    }
    await Promise.allSettled(handles.map((h) => h.close()))
  }
}

/**
 * Opens (creating if needed) the file storage in `dir` and recovers it: torn or corrupt log tails
 * are cut off, and what was found is reported in {@link FileStorageAdapter.recoveryStats}.
 * Bad options throw at once with code `'invalid-argument'`; I/O failures reject with code `'io'`.
 *
 * @example
 * ```ts
 * const storage = await openFileStorage(join(config.dataDir, 'storage'), { segmentBytes: 16 << 20 })
 * const { lastIndex } = await storage.logBounds('strict')
 * ```
 */
export function openFileStorage(dir: string, options: FileStorageOptions = {}): Promise<FileStorageAdapter> {
  validateOptions(options)
  return FileStorageAdapter.open(dir, options)
}

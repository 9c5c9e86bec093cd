/**
 * The file storage adapter: the Node server's default storage, embedded, nothing to install
 * (docs/design.md §6). It implements the shared {@link StorageAdapter} contract on plain files.
 *
 * **Logs.** Each named log is a directory of append-only segment files, `<base>.seg`, where `<base>`
 * is the index of the segment's first record; a segment is rolled once it reaches `segmentBytes`.
 * Records are framed and checksummed as described in `record-format.ts`. An in-memory index (the
 * file offset of every record, rebuilt on recovery) makes `readLog` of a range one positional read
 * of exactly that range [PF3]. `meta.json` (replaced atomically) keeps the log's real name and its
 * first retained index, so retention in the middle of a segment and an empty log's append point
 * survive a restart [SG2].
 *
 * **Blobs.** Every `save`/`remove`/`removeRange` is one record appended to a single `blobs.log`; an
 * in-memory map from key to record offset serves reads, and the file is compacted (live records
 * copied to a new file, fsynced, renamed over the old one) once its garbage outgrows both its live
 * bytes and `blobCompactionMinBytes`. Chosen over one file per blob (temp file, fsync, rename, fsync
 * dir) because it is both simpler and cheaper here:
 * - atomicity comes from the record checksum, the same mechanism as the logs (a torn save is a torn
 *   tail record and is dropped, leaving the previous value), with no separate rename protocol;
 * - it needs no fsync per save: blobs join the same group commit as the logs (one fdatasync of one
 *   file per flush), where file-per-blob needs a file fsync before each rename plus directory fsyncs;
 * - keys need no file-name encoding (arbitrary strings, case, length, lone surrogates are a
 *   non-issue: the key is stored as JSON inside the record), and `loadRange` is a scan of the
 *   in-memory key map rather than a directory walk;
 * - compaction costs O(live bytes) only after at least as many garbage bytes were written, so it is
 *   amortised O(1) per byte saved, and it runs on the blob queue, never blocking log appends.
 * Blobs are expected to be few and moderately sized (metadata, snapshots for compaction); the whole
 * blob file is read once on open.
 *
 * **Ordering.** Each log, and the blob namespace, has its own FIFO queue of operations, so
 * operations take effect in call order per log / for blobs, which is all a caller can observe
 * (reads see prior writes of the same queue; after a crash every key and log is judged on its own).
 * Consecutive appends to the same log that wait in its queue are written with one `writev`.
 *
 * **Group commit [PF2].** `append` and `save` only hand bytes to the OS (one `write`, no sync).
 * `flush()` waits until the operations called before it have been written, then for a sync round
 * that covers them. A round clears the dirty flags, then fdatasyncs every file written since the
 * previous round and fsyncs every directory whose entries changed, all in parallel; a write epoch
 * counter tells which writes a round covers. So a flush needs no round if the last completed one
 * already covered its writes; joins the round in flight if that round cleared the flags after its
 * writes; otherwise waits for the next round, which starts at once if none is in flight (a lone
 * flush waits for exactly one sync) or as soon as the one in flight ends, and serves every flush
 * that queued meanwhile with one fdatasync per file. No flush resolves before the round that
 * covers its writes has completed.
 *
 * **Durability of the rare operations.** `truncateLogAfter` (rollback) and `truncateLog` (retention)
 * are made durable before they resolve: a rollback cut is ftruncated and fdatasynced before any later
 * append can overwrite the same offsets (so stale bytes never follow the end of a log), and a new
 * retention point is only written once the records it keeps are durable (so a crash cannot leave a
 * first index above records that were lost).
 *
 * **Recovery [SG1].** On open every segment is scanned; the first record whose length runs past the
 * end of its file or whose checksum does not match ends the log: the file is truncated there and
 * later segments are deleted (reported in {@link FileStorageAdapter.recoveryStats}). The recovered
 * files are fdatasynced, so the recovered state is itself durable.
 *
 * One process at a time: nothing stops two processes from opening the same directory.
 */
import { constants } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
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
import { fsyncDir, isNotFound, OPEN_RW_CREATE, OPEN_RW_TRUNCATE, readFully, writeAll, writeFileAtomic } from './fs-util.js'
import { claimFormat } from './format-file.js'
import {
  BLOB_COMPACT_FILE,
  BLOB_FILE,
  FORMAT_CONTENT,
  FORMAT_FILE,
  LOGS_DIR,
  META_FILE,
  logDirName,
  parseSegmentFileName,
  segmentFileName,
} from './layout.js'
import {
  encodeRecords,
  MAX_RECORD_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  recordChecksumOk,
  scanRecords,
  sealRecord,
  type ScanResult,
  type ScanStopReason,
} from './record-format.js'

// ---------------------------------------------------------------------------------------------
// public types

/** Options of {@link openFileStorage}. */
export interface FileStorageOptions {
  /** A log's active segment is rolled once it holds this many bytes. Default 64 MiB. */
  readonly segmentBytes?: number
  /**
   * The blob file is compacted once its garbage (overwritten and removed values) exceeds both its
   * live bytes and this many bytes. Default 4 MiB.
   */
  readonly blobCompactionMinBytes?: number
  /**
   * Called in every group-commit round once its fdatasyncs are issued; the round (and every flush it
   * serves) completes only when they and the returned promise have. A seam for tests (hold a round
   * in flight to watch flushes queue behind it) and for metrics.
   */
  readonly duringSync?: (round: number) => void | Promise<void>
}

/** One place where recovery cut a file short. */
export interface RecoveryTruncation {
  /** The file, relative to the storage directory. */
  readonly file: string
  /** Where the file now ends: the end of its last good record. */
  readonly offset: number
  readonly droppedBytes: number
  /** `torn`: ends inside a record (the usual crash); `checksum` / `malformed`: a record did not check out. */
  readonly reason: ScanStopReason
}

/** What {@link openFileStorage} found and repaired. */
export interface RecoveryStats {
  /** Logs found. */
  readonly logs: number
  /** Log records retained (firstIndex..lastIndex, summed over logs). */
  readonly records: number
  /** Blobs found. */
  readonly blobs: number
  /** Bytes cut off torn or corrupt file tails (dropped later segments not included). */
  readonly bytesTruncated: number
  /** Whole segments deleted because an earlier segment of the same log ended early or did not follow on. */
  readonly segmentsDropped: number
  readonly truncations: readonly RecoveryTruncation[]
  /** Human-readable notes on anything beyond a routine torn tail. */
  readonly warnings: readonly string[]
  readonly durationMs: number
}

/** Group-commit counters since open [PF2]. */
export interface SyncStats {
  /** `flush()` calls (including the one inside `close()`). */
  readonly flushCalls: number
  /** Sync rounds run; every flush waits for one (or, arriving during a round, the next). */
  readonly syncRounds: number
  /** fdatasync calls on data files (rounds, rollback cuts, retention). */
  readonly fileSyncs: number
  /** fsync calls on directories made by sync rounds. */
  readonly dirSyncs: number
  /** Blob file compactions. */
  readonly blobCompactions: number
}

/** How much of one data file has been handed to the OS, and how much of that is known durable. */
export interface FileDurability {
  readonly path: string
  readonly writtenBytes: number
  readonly syncedBytes: number
}

// ---------------------------------------------------------------------------------------------
// internals

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
const DEFAULT_BLOB_COMPACTION_MIN_BYTES = 4 * 1024 * 1024
/** Bounds of one coalesced append write. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
const MAX_BATCH_PARTS = 1024
/** Open handles kept per log for segments other than the active one (catch-up reads). */
const OPEN_OLD_SEGMENTS = 4
const COMPACTION_WRITE_BYTES = 1024 * 1024

// Blob record payload: op:u8  keyJsonLength:u32le  keyJson:utf8  data
const OP_PUT = 1
const OP_REMOVE = 2
const OP_REMOVE_PREFIX = 3
const BLOB_PREFIX_BYTES = 5

const noop = (): void => {}

interface Queue {
  /** Settles (never rejects) when the last operation queued so far has finished. */
  tail: Promise<void>
}

interface Segment {
  readonly base: number
  readonly path: string
  /** File offset of each record; record `base + k` starts at `offsets[k]`. */
  readonly offsets: number[]
  /** Bytes assigned to records, including writes still in flight. */
  size: number
  /** Bytes whose write has completed. */
  writtenSize: number
  /** Bytes covered by a completed sync (diagnostics and crash simulation). */
  syncedSize: number
  handle: FileHandle | null
  /** Written since its last sync was issued. */
  dirty: boolean
  /** Bumped by every rollback cut, so a sync issued before the cut does not vouch for bytes after it. */
  cutGeneration: number
  deleted: boolean
}

interface AppendPart {
  readonly buf: Buffer
  readonly sizes: readonly number[]
  readonly resolve: (last: number) => void
  readonly reject: (err: unknown) => void
}

interface AppendBatch {
  readonly parts: AppendPart[]
  bytes: number
}

interface LogState extends Queue {
  readonly name: string
  readonly dir: string
  /** Its directory and meta.json exist on disk. */
  exists: boolean
  first: number
  segments: Segment[]
  /** The append batch still accepting parts: queued, not yet started. */
  batch: AppendBatch | null
  /** Non-active segments with an open handle, least recently used first. */
  openOld: Segment[]
}

interface BlobEntry {
  readonly key: readonly string[]
  readonly recordOffset: number
  readonly recordBytes: number
  /** Offset of the value inside the record. */
  readonly dataStart: number
}

interface BlobFile extends Queue {
  handle: FileHandle
  size: number
  writtenSize: number
  syncedSize: number
  dirty: boolean
  /** Bumped by every compaction (the file is then a new inode). */
  generation: number
  index: Map<string, BlobEntry>
  liveBytes: number
  compactionQueued: boolean
}

interface MutableRecoveryStats {
  logs: number
  records: number
  blobs: number
  bytesTruncated: number
  segmentsDropped: number
  truncations: RecoveryTruncation[]
  warnings: string[]
  durationMs: number
}

interface Waiter {
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

interface SyncRound {
  /** The write epoch it covers; null until it has cleared the dirty flags. */
  covers: number | null
  readonly waiters: Waiter[]
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function lastIndexOf(state: LogState): number {
  const seg = state.segments[state.segments.length - 1]
  if (seg === undefined) return state.first - 1
  return Math.max(state.first - 1, seg.base + seg.offsets.length - 1)
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((part) => typeof part === 'string')
}

function encodeBlobRecord(op: number, keyJson: Buffer, data?: Uint8Array): Buffer {
  const length = BLOB_PREFIX_BYTES + keyJson.length + (data?.length ?? 0)
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length)
  out[RECORD_HEADER_BYTES] = op
  out.writeUInt32LE(keyJson.length, RECORD_HEADER_BYTES + 1)
  out.set(keyJson, RECORD_HEADER_BYTES + BLOB_PREFIX_BYTES)
  if (data) out.set(data, RECORD_HEADER_BYTES + BLOB_PREFIX_BYTES + keyJson.length)
  sealRecord(out, 0, length)
  return out
}

function validateOptions(options: FileStorageOptions): void {
  const positive = (value: number | undefined, name: string, min: number): void => {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
      throw new StorageError('invalid-argument', `${name} must be an integer >= ${min}, got ${String(value)}`)
    }
  }
  if (typeof options !== 'object' || options === null) {
    throw new StorageError('invalid-argument', 'options must be an object')
  }
  positive(options.segmentBytes, 'segmentBytes', 1)
  positive(options.blobCompactionMinBytes, 'blobCompactionMinBytes', 0)
  if (options.duringSync !== undefined && typeof options.duringSync !== 'function') {
    throw new StorageError('invalid-argument', 'duringSync must be a function')
  }
}

// ---------------------------------------------------------------------------------------------
// the adapter

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
  private readonly logsDir: string
  private readonly segmentBytes: number
  private readonly compactionMinBytes: number
  private readonly duringSync: ((round: number) => void | Promise<void>) | undefined
  private readonly logs = new Map<string, LogState>()
  private blob: BlobFile | null = null
  private lifecycle: 'open' | 'closing' | 'closed' = 'open'
  private closing: Promise<void> | null = null
  /** Set by the first I/O failure; every later operation rejects with it. */
  private failure: StorageError | null = null
  private recovery: RecoveryStats | null = null
  private readonly stats = { flushCalls: 0, syncRounds: 0, fileSyncs: 0, dirSyncs: 0, blobCompactions: 0 }
  private readonly dirtySegments = new Set<Segment>()
  private readonly dirtyDirs = new Set<string>()
  /**
   * Bumped each time a write that a sync must cover completes (data handed to the OS, a directory
   * entry created or removed). A round covers the epoch at which it cleared the dirty flags.
   */
  private writeEpoch = 0
  /** Every write up to this epoch is durable: the cover of the last completed round. */
  private syncedEpoch = 0
  /** The round in flight, which flushes whose writes it covers may still join. */
  private currentRound: SyncRound | null = null
  /** Flushes waiting for the next round. */
  private syncWaiters: Waiter[] = []
  private syncing = false
  private syncIdle: Promise<void> = Promise.resolve()

  private constructor(dir: string, options: FileStorageOptions) {
    this.dir = dir
    this.logsDir = join(dir, LOGS_DIR)
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    this.compactionMinBytes = options.blobCompactionMinBytes ?? DEFAULT_BLOB_COMPACTION_MIN_BYTES
    this.duringSync = options.duringSync
  }

  /** @internal use {@link openFileStorage} */
  static async open(dir: string, options: FileStorageOptions = {}): Promise<FileStorageAdapter> {
    validateOptions(options)
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new StorageError('invalid-argument', 'dir must be a non-empty path')
    }
    const adapter = new FileStorageAdapter(dir, options)
    try {
      await adapter.recover()
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
    return { ...this.stats }
  }

  /**
   * For every data file (blob file, log segments): bytes handed to the OS and bytes known durable.
   * Diagnostics; tests use it to simulate a machine crash by cutting each file back to a length in
   * between.
   */
  fileDurability(): FileDurability[] {
    const out: FileDurability[] = []
    const blob = this.blob
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
      return entry === undefined ? undefined : this.readBlob(blob, entry, id)
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
      const recordOffset = await this.appendBlobRecord(blob, record)
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
      await this.appendBlobRecord(blob, encodeBlobRecord(OP_REMOVE, Buffer.from(id, 'utf8')))
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
      const out: StorageChunk[] = []
      for (const [id, entry] of matches) out.push({ key: [...entry.key], data: await this.readBlob(blob, entry, id) })
      return out
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
      await this.appendBlobRecord(blob, encodeBlobRecord(OP_REMOVE_PREFIX, Buffer.from(JSON.stringify(prefixCopy), 'utf8')))
      for (const [id, entry] of matches) {
        blob.index.delete(id)
        blob.liveBytes -= entry.recordBytes
      }
      this.maybeCompact(blob)
    })
  }

  private async appendBlobRecord(blob: BlobFile, record: Buffer): Promise<number> {
    const offset = blob.size
    blob.size += record.length
    await writeAll(blob.handle, [record], offset)
    blob.writtenSize = blob.size
    blob.dirty = true
    this.writeEpoch++
    return offset
  }

  private async readBlob(blob: BlobFile, entry: BlobEntry, id: string): Promise<Uint8Array> {
    const bytes = Buffer.allocUnsafeSlow(entry.recordBytes)
    await readFully(blob.handle, bytes, 0, entry.recordBytes, entry.recordOffset)
    if (!recordChecksumOk(bytes, 0, entry.recordBytes - RECORD_HEADER_BYTES)) {
      throw new StorageError('io', `blob ${id} fails its checksum (${join(this.dir, BLOB_FILE)} at ${entry.recordOffset})`)
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset + entry.dataStart, entry.recordBytes - entry.dataStart)
  }

  private maybeCompact(blob: BlobFile): void {
    const garbage = blob.size - blob.liveBytes
    if (blob.compactionQueued || garbage <= this.compactionMinBytes || garbage <= blob.liveBytes) return
    blob.compactionQueued = true
    // Queued behind the operation that triggered it, so that operation resolves without waiting for it.
    this.run(blob, 'compact blob file', () => this.compactBlobs(blob)).catch(noop)
  }

  /**
   * Copies the live records, unchanged, into a new file, makes it durable, then renames it over the
   * old one. A crash before the rename leaves the old file (the new one is deleted on open); after
   * it, the new one, which holds every live value. Makes pending blob writes durable early, which
   * the contract allows.
   */
  private async compactBlobs(blob: BlobFile): Promise<void> {
    blob.compactionQueued = false
    const tmpPath = join(this.dir, BLOB_COMPACT_FILE)
    const handle = await open(tmpPath, OPEN_RW_TRUNCATE)
    const index = new Map<string, BlobEntry>()
    let size = 0
    try {
      let pending: Buffer[] = []
      let pendingBytes = 0
      for (const [id, entry] of blob.index) {
        const record = Buffer.allocUnsafe(entry.recordBytes)
        await readFully(blob.handle, record, 0, entry.recordBytes, entry.recordOffset)
        if (!recordChecksumOk(record, 0, entry.recordBytes - RECORD_HEADER_BYTES)) {
          throw new Error(`blob ${id} fails its checksum at ${entry.recordOffset}`)
        }
        index.set(id, { ...entry, recordOffset: size + pendingBytes })
        pending.push(record)
        pendingBytes += record.length
        if (pendingBytes >= COMPACTION_WRITE_BYTES) {
          await writeAll(handle, pending, size)
          size += pendingBytes
          pending = []
          pendingBytes = 0
        }
      }
      await writeAll(handle, pending, size)
      size += pendingBytes
      this.stats.fileSyncs++
      await handle.datasync()
    } catch (err) {
      await handle.close().catch(noop)
      await unlink(tmpPath).catch(noop)
      throw err
    }
    await rename(tmpPath, join(this.dir, BLOB_FILE))
    await fsyncDir(this.dir)
    const old = blob.handle
    blob.handle = handle
    blob.index = index
    blob.size = blob.writtenSize = blob.syncedSize = blob.liveBytes = size
    blob.dirty = false
    blob.generation++
    this.stats.blobCompactions++
    // FileHandle.close waits for operations still running on it, e.g. a sync round's fdatasync.
    await old.close()
  }

  // -------------------------------------------------------------------------------------------
  // logs

  async append(log: string, records: readonly Uint8Array[]): Promise<number> {
    this.assertOpen()
    assertLogName(log)
    if (!Array.isArray(records)) throw new StorageError('invalid-argument', 'records must be an array')
    const sizes = new Array<number>(records.length)
    let total = 0
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Uint8Array
      assertBytes(record, 'record')
      if (record.length > MAX_RECORD_PAYLOAD_BYTES) {
        throw new StorageError('invalid-argument', `record of ${record.length} bytes is too large`)
      }
      const size = RECORD_HEADER_BYTES + record.length
      sizes[i] = size
      total += size
    }
    // Framing copies the records, so the caller may reuse its buffers as soon as append returns.
    const buf = encodeRecords(records, total)
    const state = this.logState(log)
    return new Promise<number>((resolve, reject) => {
      let batch = state.batch
      if (batch === null || batch.bytes >= MAX_BATCH_BYTES || batch.parts.length >= MAX_BATCH_PARTS) {
        const fresh: AppendBatch = { parts: [], bytes: 0 }
        // writeBatch settles every part itself and never rejects.
        state.tail = state.tail.then(() => this.writeBatch(state, fresh))
        state.batch = fresh
        batch = fresh
      }
      batch.parts.push({ buf, sizes, resolve, reject })
      batch.bytes += buf.length
    })
  }

  async readLog(log: string, fromIndex: number, toIndex?: number): Promise<Uint8Array[]> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(fromIndex, 'fromIndex', 1)
    if (toIndex !== undefined) assertIndex(toIndex, 'toIndex', 0)
    const state = this.logState(log)
    return this.runLog(state, 'readLog', () => this.readRange(state, fromIndex, toIndex))
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
    return this.runLog(state, 'truncateLog', async () => {
      if (beforeIndex <= state.first) return
      if (!state.exists) {
        state.first = beforeIndex
        await this.createLog(state)
        return
      }
      // The records the new first index keeps must be durable before it is, or a crash could leave
      // firstIndex above records that were lost: a hole.
      if (beforeIndex <= lastIndexOf(state)) await this.syncLogData(state)
      state.first = beforeIndex
      await this.writeMeta(state)
      let drop = 0
      for (const seg of state.segments) {
        if (seg.base + seg.offsets.length - 1 >= beforeIndex) break
        drop++
      }
      if (drop > 0) {
        // Not synced here: should the unlinks not reach the disk, recovery deletes segments wholly
        // below meta.json's firstIndex anyway. The next sync round makes them durable.
        await this.deleteSegments(state, 0, drop)
        this.dirtyDirs.add(state.dir)
        this.writeEpoch++
      }
    })
  }

  async truncateLogAfter(log: string, index: number): Promise<void> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(index, 'index', 0)
    const state = this.logState(log)
    return this.runLog(state, 'truncateLogAfter', async () => {
      if (index >= lastIndexOf(state)) return
      if (index < state.first - 1) {
        // Records go first, durably, then the first index moves down: a crash in between leaves an
        // empty log at the old first index, which the log passed through anyway.
        await this.deleteSegments(state, 0, state.segments.length)
        await fsyncDir(state.dir)
        state.first = index + 1
        await this.writeMeta(state)
        return
      }
      const at = this.findSegment(state, index + 1)
      const seg = state.segments[at] as Segment
      const cut = seg.offsets[index + 1 - seg.base] as number
      const dropFrom = cut > 0 ? at + 1 : at
      if (dropFrom < state.segments.length) await this.deleteSegments(state, dropFrom, state.segments.length)
      if (cut > 0) {
        // Durable before anything else is written at these offsets, so bytes of the dropped records
        // can never reappear after the new end of the log.
        const handle = await this.segmentHandle(state, seg)
        await handle.truncate(cut)
        seg.offsets.length = index + 1 - seg.base
        seg.size = seg.writtenSize = cut
        seg.cutGeneration++
        this.stats.fileSyncs++
        await handle.datasync()
        seg.dirty = false
        this.dirtySegments.delete(seg)
        seg.syncedSize = cut
      }
      await fsyncDir(state.dir)
    })
  }

  private logState(name: string): LogState {
    let state = this.logs.get(name)
    if (state === undefined) {
      state = {
        name,
        dir: join(this.logsDir, logDirName(name)),
        exists: false,
        first: 1,
        segments: [],
        batch: null,
        openOld: [],
        tail: Promise.resolve(),
      }
      this.logs.set(name, state)
    }
    return state
  }

  private async writeBatch(state: LogState, batch: AppendBatch): Promise<void> {
    if (state.batch === batch) state.batch = null
    try {
      if (this.failure) throw this.failure
      const lasts: number[] = []
      let run: { seg: Segment; position: number; buffers: Buffer[] } | null = null
      for (const part of batch.parts) {
        if (part.sizes.length > 0 && !state.exists) await this.createLog(state)
        // Records go one by one into the active segment, rolling it when the next record would
        // overflow it (a segment holds at least one record, however large); each stretch of the
        // part's buffer that lands in one segment is written as a subarray, without copying.
        let pieceStart = 0
        let pos = 0
        for (const size of part.sizes) {
          let seg = state.segments[state.segments.length - 1]
          if (seg === undefined || (seg.size > 0 && seg.size + size > this.segmentBytes)) {
            if (run) {
              if (pos > pieceStart) run.buffers.push(part.buf.subarray(pieceStart, pos))
              await this.writeRun(state, run)
            }
            run = null
            pieceStart = pos
            seg = await this.rollSegment(state)
          }
          if (run === null) run = { seg, position: seg.size, buffers: [] }
          seg.offsets.push(seg.size)
          seg.size += size
          pos += size
        }
        if (run && pos > pieceStart) run.buffers.push(part.buf.subarray(pieceStart, pos))
        lasts.push(lastIndexOf(state))
      }
      if (run) await this.writeRun(state, run)
      batch.parts.forEach((part, i) => part.resolve(lasts[i] as number))
    } catch (err) {
      const error = this.asStorageError(err, `append to log '${state.name}'`)
      for (const part of batch.parts) part.reject(error)
    }
  }

  private async writeRun(state: LogState, run: { seg: Segment; position: number; buffers: Buffer[] }): Promise<void> {
    const handle = await this.segmentHandle(state, run.seg)
    await writeAll(handle, run.buffers, run.position)
    run.seg.writtenSize = Math.max(run.seg.writtenSize, run.position + run.buffers.reduce((n, b) => n + b.length, 0))
    // Marked only once written: a round that starts before must not clear it and miss these bytes.
    run.seg.dirty = true
    this.dirtySegments.add(run.seg)
    this.writeEpoch++
  }

  private async rollSegment(state: LogState): Promise<Segment> {
    const previous = state.segments[state.segments.length - 1]
    const base = lastIndexOf(state) + 1
    const path = join(state.dir, segmentFileName(base))
    const handle = await open(path, OPEN_RW_TRUNCATE)
    const seg: Segment = {
      base,
      path,
      offsets: [],
      size: 0,
      writtenSize: 0,
      syncedSize: 0,
      handle,
      dirty: false,
      cutGeneration: 0,
      deleted: false,
    }
    state.segments.push(seg)
    this.dirtyDirs.add(state.dir)
    this.writeEpoch++
    if (previous?.handle && !state.openOld.includes(previous)) {
      state.openOld.push(previous)
      await this.evictOldHandles(state)
    }
    return seg
  }

  /** The segment's handle, opened on demand; at most OPEN_OLD_SEGMENTS besides the active one stay open. */
  private async segmentHandle(state: LogState, seg: Segment): Promise<FileHandle> {
    const active = seg === state.segments[state.segments.length - 1]
    if (seg.handle === null) {
      seg.handle = await open(seg.path, constants.O_RDWR)
      if (!active) state.openOld.push(seg)
    } else if (!active) {
      const at = state.openOld.indexOf(seg)
      if (at >= 0) state.openOld.splice(at, 1)
      state.openOld.push(seg)
    }
    const handle = seg.handle
    await this.evictOldHandles(state)
    return handle
  }

  private async evictOldHandles(state: LogState): Promise<void> {
    const active = state.segments[state.segments.length - 1]
    while (state.openOld.length > OPEN_OLD_SEGMENTS) {
      const victim = state.openOld.shift() as Segment
      if (victim === active || victim.handle === null) continue
      const handle = victim.handle
      // A sync round may have an fdatasync in flight on it: close waits for that. Later rounds
      // sync the file by path.
      victim.handle = null
      await handle.close()
    }
  }

  private async deleteSegments(state: LogState, from: number, to: number): Promise<void> {
    const doomed = state.segments.slice(from, to)
    state.segments.splice(from, to - from)
    for (const seg of doomed) {
      seg.deleted = true
      this.dirtySegments.delete(seg)
      const at = state.openOld.indexOf(seg)
      if (at >= 0) state.openOld.splice(at, 1)
      const handle = seg.handle
      seg.handle = null
      if (handle) await handle.close()
      await unlink(seg.path).catch((err: unknown) => {
        if (!isNotFound(err)) throw err
      })
    }
  }

  /**
   * Makes every record of the log written so far, and its directory entries, durable now. Leaves the
   * dirty flags alone: a flush racing with this must not find a segment clean while this sync of it
   * is still in flight, so the next round syncs it again (cheaply: nothing left to write back).
   */
  private async syncLogData(state: LogState): Promise<void> {
    const jobs: Promise<void>[] = []
    for (const seg of state.segments) {
      if (!seg.dirty && seg.writtenSize <= seg.syncedSize) continue
      jobs.push(this.syncSegment(seg).then((commit) => commit()))
    }
    jobs.push(fsyncDir(state.dir))
    await Promise.all(jobs)
  }

  private async createLog(state: LogState): Promise<void> {
    await mkdir(state.dir, { recursive: true })
    await this.writeMeta(state)
    await fsyncDir(this.logsDir)
    state.exists = true
  }

  private async writeMeta(state: LogState): Promise<void> {
    const meta = `${JSON.stringify({ name: state.name, firstIndex: state.first })}\n`
    await writeFileAtomic(join(state.dir, META_FILE), Buffer.from(meta, 'utf8'))
  }

  /** Index of the segment holding `index` (the last one whose base is <= index). */
  private findSegment(state: LogState, index: number): number {
    const segs = state.segments
    let lo = 0
    let hi = segs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((segs[mid] as Segment).base <= index) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  private async readRange(state: LogState, fromIndex: number, toIndex: number | undefined): Promise<Uint8Array[]> {
    if (fromIndex < state.first) {
      throw new StorageError('pruned', `log '${state.name}' starts at ${state.first}; ${fromIndex} was pruned`)
    }
    const last = lastIndexOf(state)
    const to = toIndex === undefined ? last : Math.min(toIndex, last)
    if (fromIndex > to) return []
    const out: Uint8Array[] = []
    let index = fromIndex
    let at = this.findSegment(state, index)
    while (index <= to) {
      const seg = state.segments[at++] as Segment
      const count = seg.offsets.length
      const a = index - seg.base
      const b = Math.min(to, seg.base + count - 1) - seg.base
      const start = seg.offsets[a] as number
      const end = b + 1 < count ? (seg.offsets[b + 1] as number) : seg.size
      // One positional read of exactly the range [PF3], into a buffer of its own (not Buffer's pool),
      // which the returned records are views of.
      const bytes = Buffer.allocUnsafeSlow(end - start)
      await readFully(await this.segmentHandle(state, seg), bytes, 0, bytes.length, start)
      let pos = 0
      for (let k = a; k <= b; k++) {
        const length = pos + RECORD_HEADER_BYTES <= bytes.length ? bytes.readUInt32LE(pos + 4) : -1
        if (length < 0 || pos + RECORD_HEADER_BYTES + length > bytes.length || !recordChecksumOk(bytes, pos, length)) {
          throw new StorageError('io', `log '${state.name}' record ${seg.base + k} fails its checksum (${seg.path})`)
        }
        out.push(new Uint8Array(bytes.buffer, bytes.byteOffset + pos + RECORD_HEADER_BYTES, length))
        pos += RECORD_HEADER_BYTES + length
      }
      index = seg.base + b + 1
    }
    return out
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
      if (this.failure) throw this.failure
      try {
        return await task()
      } catch (err) {
        throw this.asStorageError(err, what)
      }
    })
    queue.tail = result.then(noop, noop)
    return result
  }

  /** StorageErrors pass through; anything else is an I/O failure, which makes the adapter unusable. */
  private asStorageError(err: unknown, what: string): StorageError {
    if (err instanceof StorageError) return err
    const error = new StorageError('io', `${what} failed: ${message(err)}`, { cause: err })
    this.failure ??= error
    return error
  }

  private assertOpen(): void {
    if (this.lifecycle !== 'open') throw new StorageError('closed', `file storage at ${this.dir} is closed`)
    if (this.failure) throw this.failure
  }

  private usableBlob(): BlobFile {
    this.assertOpen()
    return this.blob as BlobFile
  }

  private tails(): Promise<void>[] {
    const tails: Promise<void>[] = []
    if (this.blob) tails.push(this.blob.tail)
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
  // group commit

  async flush(): Promise<void> {
    this.assertOpen()
    return this.flushNow()
  }

  /**
   * Waits until the operations called so far have been written, then for a sync round covering
   * them: none at all if the last completed round already did; the round in flight if it covers
   * them (it cleared the dirty flags after they were written); otherwise the next round, which
   * starts at once if none is in flight, or when the one in flight ends. Never resolves before the
   * round that covers its writes has completed.
   */
  private async flushNow(): Promise<void> {
    this.stats.flushCalls++
    await this.settledTails()
    if (this.failure) throw this.failure
    const needed = this.writeEpoch
    if (needed <= this.syncedEpoch) return
    await new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject }
      const current = this.currentRound
      if (current && (current.covers === null || current.covers >= needed)) {
        current.waiters.push(waiter)
        return
      }
      this.syncWaiters.push(waiter)
      if (!this.syncing) {
        this.syncing = true
        this.syncIdle = this.syncLoop()
      }
    })
  }

  /** Runs rounds, one at a time, while flushes wait for the next one. */
  private async syncLoop(): Promise<void> {
    try {
      while (this.syncWaiters.length > 0) {
        const round: SyncRound = { covers: null, waiters: this.syncWaiters }
        this.syncWaiters = []
        this.currentRound = round
        try {
          if (this.failure) throw this.failure
          await this.syncRound(round)
        } catch (err) {
          this.currentRound = null
          const error = this.asStorageError(err, 'sync')
          // fsync errors are not retried: after a failed fsync the page cache may have dropped the
          // data, so a later success would prove nothing. The adapter stays failed.
          this.failure ??= error
          for (const waiter of round.waiters) waiter.reject(error)
          continue
        }
        this.currentRound = null
        this.syncedEpoch = Math.max(this.syncedEpoch, round.covers ?? 0)
        for (const waiter of round.waiters) waiter.resolve()
      }
    } finally {
      this.syncing = false
    }
  }

  private async syncRound(round: SyncRound): Promise<void> {
    const number = ++this.stats.syncRounds
    // Everything below, up to the first await, runs synchronously: the cover is exact, and each
    // fdatasync is issued while its handle is certainly open (handles are detached before closing).
    round.covers = this.writeEpoch
    const jobs: Promise<() => void>[] = []
    const blob = this.blob
    if (blob && blob.dirty) {
      blob.dirty = false
      const size = blob.writtenSize
      const generation = blob.generation
      this.stats.fileSyncs++
      jobs.push(
        blob.handle.datasync().then(() => () => {
          if (blob.generation === generation) blob.syncedSize = Math.max(blob.syncedSize, size)
        }),
      )
    }
    for (const seg of this.dirtySegments) {
      if (!seg.dirty || seg.deleted) continue
      seg.dirty = false
      jobs.push(this.syncSegment(seg))
    }
    this.dirtySegments.clear()
    for (const dir of this.dirtyDirs) {
      this.stats.dirSyncs++
      jobs.push(fsyncDir(dir).then(() => noop))
    }
    this.dirtyDirs.clear()
    if (this.duringSync) jobs.push(Promise.resolve(this.duringSync(number)).then(() => noop))
    const results = await Promise.allSettled(jobs)
    for (const result of results) if (result.status === 'rejected') throw result.reason
    // Only now, with the directory entries durable too, do the files count as synced.
    for (const result of results) if (result.status === 'fulfilled') result.value()
  }

  /** Issues the fdatasync at once; resolves with a function that records what it covered. */
  private syncSegment(seg: Segment): Promise<() => void> {
    const size = seg.writtenSize
    const generation = seg.cutGeneration
    const commit = (): void => {
      if (seg.cutGeneration === generation) seg.syncedSize = Math.max(seg.syncedSize, size)
    }
    this.stats.fileSyncs++
    const handle = seg.handle
    if (handle) return handle.datasync().then(() => commit)
    // Its handle was evicted: fsync through a new descriptor syncs the same file (inode).
    return (async () => {
      try {
        const fresh = await open(seg.path, constants.O_RDONLY)
        try {
          await fresh.datasync()
        } finally {
          await fresh.close()
        }
      } catch (err) {
        if (seg.deleted && isNotFound(err)) return noop
        throw err
      }
      return commit
    })()
  }

  // -------------------------------------------------------------------------------------------
  // lifecycle

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
        if (this.failure) throw this.failure
        await this.flushNow()
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
      await this.syncIdle
      await this.releaseHandles()
      this.lifecycle = 'closed'
    })()
    return this.closing
  }

  private async releaseHandles(): Promise<void> {
    const handles: FileHandle[] = []
    if (this.blob) handles.push(this.blob.handle)
    for (const state of this.logs.values()) {
      state.openOld = []
      for (const seg of state.segments) {
        if (seg.handle) handles.push(seg.handle)
        seg.handle = null
      }
    }
    await Promise.allSettled(handles.map((h) => h.close()))
  }

  // -------------------------------------------------------------------------------------------
  // recovery

  private async recover(): Promise<void> {
    const started = performance.now()
    const stats: MutableRecoveryStats = {
      logs: 0,
      records: 0,
      blobs: 0,
      bytesTruncated: 0,
      segmentsDropped: 0,
      truncations: [],
      warnings: [],
      durationMs: 0,
    }
    const firstCreated = await mkdir(this.dir, { recursive: true })
    await this.checkFormat()
    if (firstCreated !== undefined) {
      // The directories just created must survive too: fsync each one's parent, up to the parent
      // of the first one created.
      const stop = dirname(resolve(firstCreated))
      for (let path = resolve(this.dir); ; ) {
        const parent = dirname(path)
        await fsyncDir(parent)
        if (parent === stop || parent === path) break
        path = parent
      }
    }
    await mkdir(this.logsDir, { recursive: true })
    await this.recoverBlobs(stats)
    // Makes the entries of logs/ and blobs.log (created above when new) and a removed
    // blobs.log.compact durable: a blob flushed later is only synced as a file, never its entry.
    await fsyncDir(this.dir)
    for (const entry of await readdir(this.logsDir, { withFileTypes: true })) {
      if (entry.isDirectory()) await this.recoverLog(entry.name, stats)
      else stats.warnings.push(`ignoring ${LOGS_DIR}/${entry.name}: not a log directory`)
    }
    await fsyncDir(this.logsDir)
    stats.durationMs = performance.now() - started
    this.recovery = stats
    // Garbage left by the previous run is compacted in the background, once the store is open.
    if (this.blob) this.maybeCompact(this.blob)
  }

  private checkFormat(): Promise<void> {
    const ours = new Set([`${FORMAT_FILE}.tmp`, BLOB_FILE, BLOB_COMPACT_FILE, LOGS_DIR])
    return claimFormat(this.dir, {
      content: FORMAT_CONTENT,
      isOurs: (name) => ours.has(name),
      kind: 'a Meridian file storage directory',
      error: (message) => new StorageError('io', message),
    })
  }

  private async cutFile(
    handle: FileHandle,
    file: string,
    fileBytes: number,
    result: ScanResult,
    stats: MutableRecoveryStats,
  ): Promise<void> {
    const reason = result.stop as ScanStopReason
    const droppedBytes = fileBytes - result.validBytes
    await handle.truncate(result.validBytes)
    stats.bytesTruncated += droppedBytes
    stats.truncations.push({ file, offset: result.validBytes, droppedBytes, reason })
    if (reason !== 'torn') {
      stats.warnings.push(
        `${file}: record at offset ${result.validBytes} fails its ${reason === 'checksum' ? 'checksum' : 'format check'}; ` +
          `dropped it and the ${droppedBytes} bytes from there on (expected after a crash mid-write, corruption otherwise)`,
      )
    }
  }

  private async recoverBlobs(stats: MutableRecoveryStats): Promise<void> {
    // A compaction that did not reach its rename: blobs.log is still the authoritative file.
    await unlink(join(this.dir, BLOB_COMPACT_FILE)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err
    })
    const handle = await open(join(this.dir, BLOB_FILE), OPEN_RW_CREATE)
    const blob: BlobFile = {
      handle,
      size: 0,
      writtenSize: 0,
      syncedSize: 0,
      dirty: false,
      generation: 0,
      index: new Map(),
      liveBytes: 0,
      compactionQueued: false,
      tail: Promise.resolve(),
    }
    this.blob = blob
    const fileBytes = (await handle.stat()).size
    const result = await scanRecords(handle, fileBytes, (offset, bytes, start, end) => {
      if (end - start < BLOB_PREFIX_BYTES) return false
      const op = bytes[start]
      const keyLength = bytes.readUInt32LE(start + 1)
      if (keyLength > end - start - BLOB_PREFIX_BYTES) return false
      let key: unknown
      try {
        key = JSON.parse(bytes.toString('utf8', start + BLOB_PREFIX_BYTES, start + BLOB_PREFIX_BYTES + keyLength))
      } catch {
        return false
      }
      if (!isStringArray(key)) return false
      const id = JSON.stringify(key)
      if (op === OP_PUT || op === OP_REMOVE) {
        if (key.length === 0) return false
        const previous = blob.index.get(id)
        if (previous) {
          blob.liveBytes -= previous.recordBytes
          blob.index.delete(id)
        }
        if (op === OP_PUT) {
          const recordBytes = RECORD_HEADER_BYTES + end - start
          blob.index.set(id, {
            key,
            recordOffset: offset,
            recordBytes,
            dataStart: RECORD_HEADER_BYTES + BLOB_PREFIX_BYTES + keyLength,
          })
          blob.liveBytes += recordBytes
        }
        return true
      }
      if (op === OP_REMOVE_PREFIX) {
        for (const [otherId, entry] of blob.index) {
          if (hasKeyPrefix(entry.key, key)) {
            blob.index.delete(otherId)
            blob.liveBytes -= entry.recordBytes
          }
        }
        return true
      }
      return false
    })
    if (result.stop) await this.cutFile(handle, BLOB_FILE, fileBytes, result, stats)
    // What was only in the page cache (the previous process died, the machine did not) becomes
    // durable now, so a second crash cannot take back what this recovery reports.
    await handle.datasync()
    blob.size = blob.writtenSize = blob.syncedSize = result.validBytes
    stats.blobs = blob.index.size
  }

  private async recoverLog(dirName: string, stats: MutableRecoveryStats): Promise<void> {
    const dirPath = join(this.logsDir, dirName)
    const rel = (file: string): string => `${LOGS_DIR}/${dirName}/${file}`
    let metaText: string
    try {
      metaText = await readFile(join(dirPath, META_FILE), 'utf8')
    } catch (err) {
      if (!isNotFound(err)) throw err
      // meta.json is durable before a log's first segment is created, so this directory holds no records.
      stats.warnings.push(`removed ${LOGS_DIR}/${dirName}: no ${META_FILE} (a log creation was interrupted)`)
      await rm(dirPath, { recursive: true, force: true })
      return
    }
    let meta: { name?: unknown; firstIndex?: unknown }
    try {
      meta = JSON.parse(metaText) as { name?: unknown; firstIndex?: unknown }
    } catch (err) {
      throw new StorageError('io', `${rel(META_FILE)} is not valid JSON: ${message(err)}`, { cause: err })
    }
    const name = meta.name
    const firstIndex = meta.firstIndex
    if (typeof name !== 'string' || name.length === 0 || typeof firstIndex !== 'number' || !Number.isSafeInteger(firstIndex) || firstIndex < 1) {
      throw new StorageError('io', `${rel(META_FILE)} is malformed: ${metaText.slice(0, 200)}`)
    }
    if (logDirName(name) !== dirName) {
      throw new StorageError('io', `${rel(META_FILE)} names log ${JSON.stringify(name)}, which belongs in ${logDirName(name)}`)
    }
    await unlink(join(dirPath, `${META_FILE}.tmp`)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err
    })

    const state = this.logState(name)
    state.exists = true
    state.first = firstIndex
    const files: { file: string; base: number }[] = []
    for (const file of await readdir(dirPath)) {
      const base = parseSegmentFileName(file)
      if (base !== undefined) files.push({ file, base })
    }
    files.sort((a, b) => a.base - b.base)

    let dirChanged = false
    let expectedBase: number | undefined
    let stopped: string | null = null
    const removeFile = async (file: string): Promise<void> => {
      await unlink(join(dirPath, file))
      dirChanged = true
    }
    for (let i = 0; i < files.length; i++) {
      const { file, base } = files[i] as { file: string; base: number }
      if (stopped !== null) {
        stats.segmentsDropped++
        stats.warnings.push(`${rel(file)}: dropped, it follows ${stopped}`)
        await removeFile(file)
        continue
      }
      const nextBase = files[i + 1]?.base
      if (state.segments.length === 0 && nextBase !== undefined && nextBase <= state.first) {
        // Wholly below the retention point: truncateLog's unlink had not reached the disk.
        await removeFile(file)
        continue
      }
      if (expectedBase !== undefined && base !== expectedBase) {
        stopped = `a gap (records ${expectedBase}.. missing)`
        stats.segmentsDropped++
        stats.warnings.push(`${rel(file)}: dropped, it starts at ${base} but the log ends at ${expectedBase - 1}`)
        await removeFile(file)
        continue
      }
      const path = join(dirPath, file)
      const handle = await open(path, constants.O_RDWR)
      let kept = false
      try {
        const fileBytes = (await handle.stat()).size
        const offsets: number[] = []
        const result = await scanRecords(handle, fileBytes, (offset) => {
          offsets.push(offset)
          return true
        })
        if (result.stop) {
          await this.cutFile(handle, rel(file), fileBytes, result, stats)
          stopped = `${rel(file)}, which ended early`
        }
        const count = offsets.length
        expectedBase = base + count
        if (count > 0 && base + count - 1 >= state.first) {
          if (state.segments.length === 0 && base > state.first) {
            stats.warnings.push(
              `log ${JSON.stringify(name)}: records ${state.first}..${base - 1} are missing; it now starts at ${base}`,
            )
            state.first = base
            await this.writeMeta(state)
          }
          await handle.datasync()
          state.segments.push({
            base,
            path,
            offsets,
            size: result.validBytes,
            writtenSize: result.validBytes,
            syncedSize: result.validBytes,
            handle,
            dirty: false,
            cutGeneration: 0,
            deleted: false,
          })
          kept = true
        }
      } finally {
        if (!kept) await handle.close()
      }
      if (!kept) await removeFile(file)
    }
    if (dirChanged) await fsyncDir(dirPath)
    // Keep only the active segment open; older ones are opened on demand by reads.
    for (const seg of state.segments.slice(0, -1)) {
      const handle = seg.handle
      seg.handle = null
      await handle?.close()
    }
    stats.logs++
    stats.records += lastIndexOf(state) - state.first + 1
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

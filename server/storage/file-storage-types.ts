/**
 * Types and constants shared by the parts of the file storage adapter (file-adapter.ts): its public
 * option and report types, and the in-memory state of logs, segments and the blob file.
 */
import type { FileHandle } from 'node:fs/promises'
import { StorageError } from '../../core/storage/adapter.js'
import type { ScanStopReason } from './record-format.js'

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
  /** Log writes durable by themselves (segments are open O_DSYNC): the fdatasyncs they spare. */
  readonly durableWrites: number
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

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
export const DEFAULT_BLOB_COMPACTION_MIN_BYTES = 4 * 1024 * 1024

export function validateOptions(options: FileStorageOptions): void {
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
// internal state

export interface Queue {
  /** Settles (never rejects) when the last operation queued so far has finished. */
  tail: Promise<void>
}

export interface Segment {
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

export interface AppendPart {
  readonly buf: Buffer
  readonly sizes: readonly number[]
  readonly resolve: (last: number) => void
  readonly reject: (err: unknown) => void
}

export interface AppendBatch {
  readonly parts: AppendPart[]
  bytes: number
}

export interface LogState extends Queue {
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

export interface BlobEntry {
  readonly key: readonly string[]
  readonly recordOffset: number
  readonly recordBytes: number
  /** Offset of the value inside the record. */
  readonly dataStart: number
}

export interface BlobFile extends Queue {
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

export interface MutableRecoveryStats {
  logs: number
  records: number
  blobs: number
  bytesTruncated: number
  segmentsDropped: number
  truncations: RecoveryTruncation[]
  warnings: string[]
  durationMs: number
}

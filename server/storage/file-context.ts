/**
 * The state the parts of the file storage adapter share: where it lives, what has been written since
 * the last sync round, the counters it reports, and the first I/O failure, after which it is unusable.
 */
import { StorageError } from '../../core/storage/adapter.js'
import type { BlobFile, Segment, SyncStats } from './file-storage-types.js'

export interface FileStorageContext {
  /** The storage directory. */
  readonly dir: string
  readonly logsDir: string
  readonly segmentBytes: number
  readonly compactionMinBytes: number
  /** Group-commit counters since open [PF2]. */
  readonly stats: { -readonly [K in keyof SyncStats]: SyncStats[K] }
  readonly dirtySegments: Set<Segment>
  readonly dirtyDirs: Set<string>
  /**
   * Bumped each time a write that a sync must cover completes (data handed to the OS, a directory
   * entry created or removed). A round covers the epoch at which it cleared the dirty flags.
   */
  writeEpoch: number
  /** Set by the first I/O failure; every later operation rejects with it. */
  failure: StorageError | null
  blob: BlobFile | null
}

export const noop = (): void => {}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** StorageErrors pass through; anything else is an I/O failure, which makes the adapter unusable. */
export function asStorageError(ctx: FileStorageContext, err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err
  const error = new StorageError('io', `${what} failed: ${message(err)}`, { cause: err })
  ctx.failure ??= error
  return error
}

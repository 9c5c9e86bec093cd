/**
 * Durable storage of one strict-mode node (docs/design.md §4, docs/server.md § Strict storage): what the pure
 * `StrictNode` hands out through `onHardState`, `onAppend`, `onTruncate`, `onRollbackCandidates`,
 * `onRollback` and `onSnapshot`, and gives back to the next life as `restore`.
 *
 * Directory layout (`<dir>` is the node's strict directory):
 *
 * ```
 * <dir>/FORMAT                        "meridian-strict-store 1": refuses to open anything else
 * <dir>/hard-state.rec                { epoch, votedFor }                   ┐ one CRC-framed record of
 * <dir>/snapshot.rec                  StrictSnapshot (absent: none yet)     │ JSON each, replaced
 * <dir>/rollback-candidates.rec       LogEntry[]: cut, fate not yet known   ┘ atomically (see below)
 * <dir>/wal/<20-digit first LSN>.log  WAL segments: one CRC-framed record per LogEntry, as JSON
 * <dir>/rollback/rollback.jsonl       [ST5] rolled-back entries, one JSON object per line:
 *                                     { at: ISO time, node, epoch, lsn, op }
 * <dir>/<name>.tmp                    transient, during an atomic replace; removed on open
 * ```
 *
 * Records are `crc32:u32le length:u32le payload` (`server/storage/record-format.ts`, the crdt file
 * storage's framing). The WAL stores each entry as JSON for simplicity and robustness; the wire codec
 * has a binary form of the same entry.
 *
 * Durability rules:
 * - `saveHardState`, `saveSnapshot`, `saveRollbackCandidates` are synchronous and durable on return:
 *   write `<name>.tmp`, fsync, rename over `<name>`, fsync `<dir>`. They throw on an I/O error (the
 *   caller must not let the message that depends on them leave) and the store fails.
 * - `append` only writes to the page cache; `flush` is group commit (one fdatasync per dirty segment,
 *   plus a directory fsync when segments were created or deleted, shared by every concurrent caller)
 *   and resolves with the highest LSN it made durable, or null when `truncateFrom` was called since
 *   that flush was called.
 * - `truncateFrom` is durable on return: later segments are deleted and the directory fsynced, then
 *   the segment holding the cut is ftruncated and fdatasynced.
 * - `saveSnapshot` writes the snapshot first, then deletes the WAL segments whose entries are all at or
 *   below `prunedToLsn` (lazily durable: restore skips entries the snapshot covers anyway) and makes
 *   the next append start a new segment.
 * - An I/O error of `append`, `truncateFrom` or a sync round fails the store for good: that flush and
 *   every later one reject with the error, later WAL writes are skipped (nothing can be reported
 *   durable any more; the caller treats the node as failed and restarts it from what the disk holds).
 *
 * Recovery (`openStrictStore`): the three record files are read (a record that does not check out
 * stops the open with `StrictStoreError`: an atomic replace never leaves one half-written, so that is
 * corruption). WAL segments are scanned in LSN order; a torn or corrupt record ends its segment (the
 * file is cut there and the cut fdatasynced), and a segment whose first LSN does not follow on from
 * the entries kept before it (or that ends up empty) is deleted. Entries at or below the snapshot are
 * skipped, so `restored.entries` is dense from `snapshot.lsn + 1` (or 1).
 */
import { randomUUID } from 'node:crypto'
import { readdirSync, unlinkSync } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { HardState, LogEntry, StrictOp, StrictRestore, StrictSnapshot } from '../../core/strict/index.js'
import { fsyncDir, isNotFound } from '../storage/fs-util.js'
import { claimFormat } from '../storage/format-file.js'
import { GroupSync } from './group-sync.js'
import {
  DEFAULT_SEGMENT_BYTES,
  StrictWal,
  isLogEntry,
  notifySync,
  walRecordBytes,
  type StrictSyncHook,
  type WalRecovery,
} from './strict-wal.js'
import {
  StrictStoreError,
  mkdirDurable,
  readJsonRecordFileSync,
  writeJsonRecordFileSync,
} from './sync-files.js'

export { StrictStoreError } from './sync-files.js'
export { DEFAULT_SEGMENT_BYTES, type StrictSyncEvent, type StrictSyncHook, type StrictSyncReason, type WalRecovery } from './strict-wal.js'

export const STRICT_FORMAT_CONTENT = 'meridian-strict-store 1\n'
export const HARD_STATE_FILE = 'hard-state.rec'
export const SNAPSHOT_FILE = 'snapshot.rec'
export const ROLLBACK_CANDIDATES_FILE = 'rollback-candidates.rec'
export const WAL_DIR = 'wal'
export const ROLLBACK_DIR = 'rollback'
export const ROLLBACK_FILE = 'rollback.jsonl'

/** What a previous life made durable; every field present (a `StrictRestore` for `new StrictNode`). */
export interface StrictRestored extends StrictRestore {
  readonly hardState: HardState
  readonly snapshot: StrictSnapshot | null
  /** Dense from `snapshot.lsn + 1` (or 1). */
  readonly entries: readonly LogEntry[]
  readonly rollbackCandidates: readonly LogEntry[]
}

/** One line of the rollback file [ST5]. */
export interface RollbackRecord {
  /** ISO 8601 time the rollback was decided. */
  readonly at: string
  /** The node that rolled the entry back. */
  readonly node: string
  readonly epoch: number
  readonly lsn: number
  readonly op: StrictOp
}

export interface StrictStoreStats {
  /** Bytes of WAL segments (0 for the memory store). */
  readonly walBytes: number
  /** Entries held in the WAL (including ones a snapshot covers whose segment was not deleted yet). */
  readonly entries: number
  /** Lowest LSN held in the WAL; 0 when it holds none. */
  readonly firstLsn: number
  /** The log's last LSN: the WAL's last entry, or the snapshot's LSN when that is higher; 0 when empty. */
  readonly lastLsn: number
  /** 0 without a snapshot. */
  readonly snapshotLsn: number
}

export interface StrictStore {
  /** What the previous life made durable, ready for `new StrictNode({ restore })`. */
  readonly restored: StrictRestored
  /**
   * Synchronous and durable on return (written before any message of the same call leaves). Rare:
   * elections. Throws on an I/O error (and the store fails).
   */
  saveHardState(state: HardState): void
  /**
   * Appends to the WAL (volatile until a flush). LSNs are dense and follow the last one (or the
   * snapshot); anything else throws a RangeError (a programmer error). An I/O error does not throw:
   * it fails the store and the next `flush()` rejects with it. Returns each entry's size on the log
   * in bytes (what replication lag in bytes counts).
   */
  append(entries: readonly LogEntry[]): readonly number[]
  /**
   * Group commit: one fdatasync for everything appended so far; concurrent callers share it. Resolves
   * with the highest LSN now durable, or null if a truncateFrom() happened after this flush was called
   * (the caller must not report it via markDurable). Rejects with the I/O error once the store failed.
   */
  flush(): Promise<number | null>
  /**
   * Cuts the WAL at fromLsn (entries >= fromLsn gone, also after a crash): durable on return
   * (ftruncate + fdatasync). An I/O error fails the store (reported by `flush`).
   */
  truncateFrom(fromLsn: number): void
  /**
   * Persists the snapshot atomically (synchronously; throws on an I/O error) and drops WAL entries <=
   * prunedToLsn (lazily: whole segments; restore skips entries <= snapshot.lsn).
   */
  saveSnapshot(snapshot: StrictSnapshot, prunedToLsn: number): void
  /** Replaces the persisted list of undecided cut entries, atomically (synchronously; throws on an I/O error). */
  saveRollbackCandidates(candidates: readonly LogEntry[]): void
  /**
   * [ST5] Appends rolled-back entries to `<dir>/rollback/rollback.jsonl` (one JSON object per entry:
   * { at, node, epoch, lsn, op }), fdatasynced. Returns the file path. Calls are written in call order.
   */
  recordRollback(entries: readonly LogEntry[], at: Date): Promise<string>
  /** Reads back the rollback file (for /status and tests); [] when none. A torn last line is skipped. */
  readRollbacks(): Promise<RollbackRecord[]>
  /** Bytes of WAL on disk and entry count (for status/metrics). */
  stats(): StrictStoreStats
  /** Waits for flushes already called, then closes the files. Does not sync anything else. */
  close(): Promise<void>
}

export interface StrictStoreOptions {
  /** This node's id, written into rollback records. */
  readonly nodeId: string
  /** A WAL segment is rolled once the next record would take it past this. Default 64 MiB. */
  readonly segmentBytes?: number
  /** Metrics and test seam: called for every sync round and every synchronous sync (see the type). */
  readonly onSync?: StrictSyncHook
}

/** The file store, with what recovery found and a crash simulation for tests. */
export interface FileStrictStore extends StrictStore {
  readonly dir: string
  readonly recovery: WalRecovery
  /**
   * Testing only: simulates a power loss once the flushes already called have completed. Each WAL
   * segment is cut back to what completed syncs cover, plus `keep(unsyncedBytes)` of the rest (default
   * none; a cut inside a record leaves a torn tail). The store is closed; reopen the directory.
   */
  simulateCrash(keep?: (unsyncedBytes: number) => number): Promise<void>
}

const DEFAULT_HARD_STATE: HardState = { epoch: 0, votedFor: null }

// ------------------------------------------------------------------------------------------------
// shared bookkeeping

/** LSN bookkeeping and group commit shared by the file and memory stores. */
abstract class BaseStrictStore {
  protected closed = false
  /** The log's last LSN as the node sees it (kept even once the store failed). */
  protected last: number
  protected snapshotLsn: number
  /** Bumped by every truncation; a flush called before the latest one resolves null. */
  protected generation = 0
  protected readonly commits: GroupSync

  constructor(
    protected readonly options: StrictStoreOptions,
    snapshotLsn: number,
    last: number,
  ) {
    this.snapshotLsn = snapshotLsn
    this.last = last
    this.commits = new GroupSync(
      () => this.beginRound(),
      () => this.generation,
    )
  }

  protected abstract beginRound(): { lsn: number; run(): Promise<void> }

  protected assertOpen(): void {
    if (this.closed) throw new Error('the strict store is closed')
  }

  /** Checks that `entries` are dense and follow the log. */
  protected checkAppend(entries: readonly LogEntry[]): void {
    let expected = this.last + 1
    for (const entry of entries) {
      if (entry.lsn !== expected) {
        throw new RangeError(`strict store: append of LSN ${entry.lsn} where ${expected} was expected (entries must be dense and follow the log)`)
      }
      expected += 1
    }
  }

  /** The log's last LSN after cutting at `fromLsn` (never below the snapshot). */
  protected lastAfterCut(fromLsn: number): number {
    if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new RangeError(`strict store: truncateFrom(${fromLsn}) needs an LSN >= 1`)
    return Math.max(this.snapshotLsn, Math.min(this.last, fromLsn - 1))
  }

  flush(): Promise<number | null> {
    if (this.closed) return Promise.reject(new Error('the strict store is closed'))
    return this.commits.flush()
  }
}

function rollbackRecords(nodeId: string, entries: readonly LogEntry[], at: Date): RollbackRecord[] {
  const iso = at.toISOString()
  return entries.map((e) => ({ at: iso, node: nodeId, epoch: e.epoch, lsn: e.lsn, op: e.op }))
}

// ------------------------------------------------------------------------------------------------
// file store

class FileStore extends BaseStrictStore implements FileStrictStore {
  readonly restored: StrictRestored
  readonly recovery: WalRecovery
  private readonly wal: StrictWal
  private rollbackTail: Promise<unknown> = Promise.resolve()

  constructor(
    readonly dir: string,
    options: StrictStoreOptions,
    wal: StrictWal,
    restored: StrictRestored,
    recovery: WalRecovery,
  ) {
    const snapshotLsn = restored.snapshot?.lsn ?? 0
    super(options, snapshotLsn, Math.max(snapshotLsn, restored.entries.at(-1)?.lsn ?? 0))
    this.wal = wal
    this.restored = restored
    this.recovery = recovery
  }

  protected beginRound(): { lsn: number; run(): Promise<void> } {
    return this.wal.beginSync(this.last)
  }

  private get failed(): boolean {
    return this.commits.failed !== null
  }

  /** Runs a synchronous save; an I/O error fails the store and is rethrown. */
  private saveSync(reason: 'hard-state' | 'snapshot' | 'rollback-candidates', file: string, value: unknown): void {
    try {
      notifySync(this.options.onSync, { reason, fileSyncs: 1, dirSyncs: 1 })
      writeJsonRecordFileSync(join(this.dir, file), value)
    } catch (err) {
      this.commits.fail(err)
      throw err
    }
  }

  saveHardState(state: HardState): void {
    this.assertOpen()
    this.saveSync('hard-state', HARD_STATE_FILE, { epoch: state.epoch, votedFor: state.votedFor })
  }

  append(entries: readonly LogEntry[]): readonly number[] {
    this.assertOpen()
    if (entries.length === 0) return []
    this.checkAppend(entries)
    this.last = (entries[entries.length - 1] as LogEntry).lsn
    if (!this.failed) {
      try {
        return this.wal.append(entries)
      } catch (err) {
        this.commits.fail(err)
      }
    }
    return entries.map(walRecordBytes)
  }

  truncateFrom(fromLsn: number): void {
    this.assertOpen()
    this.last = this.lastAfterCut(fromLsn)
    this.generation += 1
    if (this.failed) return
    try {
      this.wal.truncateFrom(fromLsn)
    } catch (err) {
      this.commits.fail(err)
    }
  }

  saveSnapshot(snapshot: StrictSnapshot, prunedToLsn: number): void {
    this.assertOpen()
    this.saveSync('snapshot', SNAPSHOT_FILE, snapshot)
    this.snapshotLsn = snapshot.lsn
    this.last = Math.max(this.last, snapshot.lsn)
    if (this.failed) return
    try {
      this.wal.rollNext()
      this.wal.pruneTo(Math.min(prunedToLsn, snapshot.lsn))
    } catch (err) {
      this.commits.fail(err)
    }
  }

  saveRollbackCandidates(candidates: readonly LogEntry[]): void {
    this.assertOpen()
    this.saveSync('rollback-candidates', ROLLBACK_CANDIDATES_FILE, candidates)
  }

  private get rollbackPath(): string {
    return join(this.dir, ROLLBACK_DIR, ROLLBACK_FILE)
  }

  recordRollback(entries: readonly LogEntry[], at: Date): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the strict store is closed'))
    const lines = rollbackRecords(this.options.nodeId, entries, at)
      .map((r) => `${JSON.stringify(r)}\n`)
      .join('')
    const write = async (): Promise<string> => {
      const path = this.rollbackPath
      if (lines.length === 0) return path
      const rollbackDir = join(this.dir, ROLLBACK_DIR)
      await mkdirDurable(rollbackDir)
      const handle = await open(path, 'a+')
      let fresh = false
      try {
        const { size } = await handle.stat()
        fresh = size === 0
        let prefix = ''
        if (size > 0) {
          // A torn last line (a crash mid-append) must not swallow the first record written now.
          const last = Buffer.alloc(1)
          await handle.read(last, 0, 1, size - 1)
          if (last[0] !== 0x0a) prefix = '\n'
        }
        notifySync(this.options.onSync, { reason: 'rollback', fileSyncs: 1, dirSyncs: fresh ? 1 : 0 })
        await handle.write(prefix + lines)
        await handle.datasync()
      } finally {
        await handle.close()
      }
      if (fresh) await fsyncDir(rollbackDir)
      return path
    }
    const result = this.rollbackTail.then(write, write)
    this.rollbackTail = result.catch(() => {})
    return result
  }

  async readRollbacks(): Promise<RollbackRecord[]> {
    let text: string
    try {
      text = await readFile(this.rollbackPath, 'utf8')
    } catch (err) {
      if (isNotFound(err)) return []
      throw err
    }
    return parseRollbackLines(text)
  }

  stats(): StrictStoreStats {
    return {
      walBytes: this.wal.bytes,
      entries: this.wal.entryCount,
      firstLsn: this.wal.firstLsn,
      lastLsn: this.last,
      snapshotLsn: this.snapshotLsn,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.commits.idle()
    await this.rollbackTail
    this.wal.close()
  }

  async simulateCrash(keep?: (unsyncedBytes: number) => number): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.commits.idle()
    await this.rollbackTail
    this.wal.crash(keep)
  }
}

function parseRollbackLines(text: string): RollbackRecord[] {
  const records: RollbackRecord[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      const value = JSON.parse(line) as unknown
      if (typeof value === 'object' && value !== null && typeof (value as { at?: unknown }).at === 'string') {
        records.push(value as RollbackRecord)
      }
    } catch {
      // A torn line from a crash mid-append.
    }
  }
  return records
}

function checkHardState(value: unknown, path: string): HardState {
  if (value === undefined) return DEFAULT_HARD_STATE
  const { epoch, votedFor } = (value ?? {}) as { epoch?: unknown; votedFor?: unknown }
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0 || !(votedFor === null || typeof votedFor === 'string')) {
    throw new StrictStoreError(`${path}: not a hard state`)
  }
  return { epoch, votedFor }
}

function checkSnapshot(value: unknown, path: string): StrictSnapshot | null {
  if (value === undefined) return null
  const s = (value ?? {}) as Partial<Record<keyof StrictSnapshot, unknown>>
  const ok =
    typeof s.lsn === 'number' && Number.isSafeInteger(s.lsn) && s.lsn >= 0 &&
    typeof s.epoch === 'number' && Number.isSafeInteger(s.epoch) &&
    Array.isArray(s.history) && Array.isArray(s.documents)
  if (!ok) throw new StrictStoreError(`${path}: not a snapshot`)
  return value as StrictSnapshot
}

function checkEntries(value: unknown, path: string): LogEntry[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every(isLogEntry)) throw new StrictStoreError(`${path}: not a list of log entries`)
  return value
}

/** Creates the FORMAT file in a new directory, or checks it; refuses a directory holding anything else. */
function checkFormat(dir: string): Promise<void> {
  const ours = new Set([HARD_STATE_FILE, SNAPSHOT_FILE, ROLLBACK_CANDIDATES_FILE, WAL_DIR, ROLLBACK_DIR])
  return claimFormat(dir, {
    content: STRICT_FORMAT_CONTENT,
    isOurs: (name) => ours.has(name) || name.endsWith('.tmp'),
    kind: 'a Meridian strict store',
    error: (message) => new StrictStoreError(message),
  })
}

/**
 * Opens (creating if needed) the strict store in `dir` and recovers it (see the file comment);
 * `restored` holds what the previous life made durable.
 */
export async function openStrictStore(dir: string, options: StrictStoreOptions): Promise<FileStrictStore> {
  await mkdirDurable(dir)
  await checkFormat(dir)
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tmp')) unlinkSync(join(dir, name))
  }
  const hardState = checkHardState(readJsonRecordFileSync(join(dir, HARD_STATE_FILE)), HARD_STATE_FILE)
  const snapshot = checkSnapshot(readJsonRecordFileSync(join(dir, SNAPSHOT_FILE)), SNAPSHOT_FILE)
  const rollbackCandidates = checkEntries(readJsonRecordFileSync(join(dir, ROLLBACK_CANDIDATES_FILE)), ROLLBACK_CANDIDATES_FILE)
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
  if (!(segmentBytes > 0)) throw new RangeError(`segmentBytes must be positive, got ${segmentBytes}`)
  const { wal, entries, recovery } = await StrictWal.open(join(dir, WAL_DIR), {
    snapshotLsn: snapshot?.lsn ?? 0,
    segmentBytes,
    onSync: options.onSync,
  })
  return new FileStore(dir, options, wal, { hardState, snapshot, entries, rollbackCandidates }, recovery)
}

// ------------------------------------------------------------------------------------------------
// memory store

class MemoryStore extends BaseStrictStore implements StrictStore {
  readonly restored: StrictRestored = { hardState: DEFAULT_HARD_STATE, snapshot: null, entries: [], rollbackCandidates: [] }
  private readonly rollbacks: RollbackRecord[] = []
  /** Entries at or below it are pruned (what a WAL would hold is `prunedTo + 1 .. last`). */
  private prunedTo = 0
  private readonly path = `memory://${randomUUID()}/${ROLLBACK_DIR}/${ROLLBACK_FILE}`

  constructor(options: StrictStoreOptions) {
    super(options, 0, 0)
  }

  protected beginRound(): { lsn: number; run(): Promise<void> } {
    const hook = this.options.onSync?.({ reason: 'flush', fileSyncs: 0, dirSyncs: 0 })
    return {
      lsn: this.last,
      run: async () => {
        await hook
      },
    }
  }

  saveHardState(_state: HardState): void {
    this.assertOpen() // nothing to persist
  }

  append(entries: readonly LogEntry[]): readonly number[] {
    this.assertOpen()
    if (entries.length === 0) return []
    this.checkAppend(entries)
    this.last = (entries[entries.length - 1] as LogEntry).lsn
    // Nothing is written, but lag in bytes reads as it would with a file WAL.
    return entries.map(walRecordBytes)
  }

  truncateFrom(fromLsn: number): void {
    this.assertOpen()
    this.last = this.lastAfterCut(fromLsn)
    this.generation += 1
  }

  saveSnapshot(snapshot: StrictSnapshot, prunedToLsn: number): void {
    this.assertOpen()
    this.snapshotLsn = snapshot.lsn
    this.last = Math.max(this.last, snapshot.lsn)
    this.prunedTo = Math.max(this.prunedTo, Math.min(prunedToLsn, snapshot.lsn))
  }

  saveRollbackCandidates(_candidates: readonly LogEntry[]): void {
    this.assertOpen() // nothing to persist
  }

  recordRollback(entries: readonly LogEntry[], at: Date): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the strict store is closed'))
    this.rollbacks.push(...rollbackRecords(this.options.nodeId, entries, at))
    return Promise.resolve(this.path)
  }

  readRollbacks(): Promise<RollbackRecord[]> {
    return Promise.resolve(this.rollbacks.slice())
  }

  stats(): StrictStoreStats {
    const first = Math.max(this.prunedTo + 1, 1)
    const entries = Math.max(0, this.last - first + 1)
    return { walBytes: 0, entries, firstLsn: entries > 0 ? first : 0, lastLsn: this.last, snapshotLsn: this.snapshotLsn }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.commits.idle()
  }
}

/**
 * The same contract with nothing on disk, for `storage: 'memory'` servers and tests: `restored` is
 * always empty, `flush` resolves (with the log's last LSN, or null after a truncation) in a round
 * shared by concurrent callers, and rollback records are kept in memory (the path returned is a
 * `memory://` name).
 */
export function memoryStrictStore(options: StrictStoreOptions): StrictStore {
  return new MemoryStore(options)
}

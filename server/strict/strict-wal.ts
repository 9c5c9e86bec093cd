/**
 * The strict log's write-ahead log: segment files `<20-digit first LSN>.log` in one directory, each a
 * plain concatenation of CRC-framed records (`server/storage/record-format.ts`), one `LogEntry` per
 * record, serialized as JSON (simple and robust; the wire codec has a binary form of the same entry
 * should the WAL ever need to be smaller or faster to parse).
 *
 * Invariants (what recovery relies on):
 * - every segment is dense: its records hold LSNs `first, first + 1, …` with `first` in its name;
 * - segments are ordered by their first LSN; a segment starts right after the previous one ends, or
 *   anywhere up to `snapshotLsn + 1` (after a snapshot was installed beyond the log, or a compaction
 *   let whole segments go, the entries it covers are not needed any more);
 * - a segment is rolled when the next record would take it past `segmentBytes`, after a snapshot (so
 *   pruning can later delete whole segments), and when the next LSN does not follow its last one.
 *
 * This class only does file work; LSN bookkeeping against the snapshot, the truncation generation and
 * group commit live in `strict-store.ts`.
 */
import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, openSync, truncateSync, unlinkSync } from 'node:fs'
import { open, readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { LogEntry } from '../../core/strict/index.js'
import { fsyncDir, isNotFound } from '../storage/fs-util.js'
import { numberedFileName, parseNumberedFileName } from '../storage/format-file.js'
import { RECORD_HEADER_BYTES, scanRecords, sealRecord, type ScanStopReason } from '../storage/record-format.js'
import type { SyncRound } from './group-sync.js'
import { fsyncDirSync, mkdirDurable, writeAllSync } from './sync-files.js'

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
const SEGMENT_DIGITS = 20

const fdatasyncAsync = promisify(fdatasync)

export function walSegmentName(firstLsn: number): string {
  return numberedFileName(firstLsn, SEGMENT_DIGITS, '.log')
}

/** The first LSN encoded in a segment file name, or undefined for any other file. */
export function parseWalSegmentName(name: string): number | undefined {
  return parseNumberedFileName(name, SEGMENT_DIGITS, '.log')
}

/** Why the store issued an fsync/fdatasync. */
export type StrictSyncReason =
  | 'flush'
  | 'truncate'
  | 'recovery'
  | 'hard-state'
  | 'snapshot'
  | 'rollback-candidates'
  | 'rollback'

/**
 * Reported before the syncs it counts are issued (`recovery`: once they are done). `flush` is one group-commit round (the memory store
 * reports its rounds too, with zero syncs).
 */
export interface StrictSyncEvent {
  readonly reason: StrictSyncReason
  /** fdatasync/fsync calls on files. */
  readonly fileSyncs: number
  /** fsync calls on directories. */
  readonly dirSyncs: number
}

/**
 * A seam for metrics and tests. Throwing (or, for a `flush` round, returning a rejected promise) acts
 * as an I/O error of those syncs; a promise returned for a `flush` round holds the round in flight
 * until it settles. Return values of the other reasons are ignored (their syncs are synchronous).
 */
export type StrictSyncHook = (event: StrictSyncEvent) => void | Promise<void>

/**
 * Reports a synchronous sync to the hook: a throw propagates (an I/O error of that sync); a returned
 * promise is ignored.
 */
export function notifySync(hook: StrictSyncHook | undefined, event: StrictSyncEvent): void {
  const result = hook?.(event)
  if (result !== undefined) result.then(undefined, () => {})
}

/** What recovery found and repaired in the WAL. */
export interface WalRecovery {
  /** Segments kept. */
  readonly segments: number
  /** Entries kept on disk (including those the snapshot covers, which are not restored). */
  readonly entries: number
  /** Bytes cut off segment tails (torn or corrupt records). */
  readonly bytesTruncated: number
  /** Whole segments deleted: empty, or not following on from the entries before them. */
  readonly segmentsDropped: number
  /** Anything beyond a routine torn tail (checksum failures, malformed records, LSN gaps). */
  readonly warnings: readonly string[]
}

interface Segment {
  readonly first: number
  /** `first - 1` while empty. */
  last: number
  readonly path: string
  /** Bytes written (the file may hold more only after a failed write). */
  size: number
  /** Bytes a completed sync covers (for `crash`); never above `size`. */
  syncedSize: number
  /** File offset of each record: `offsets[lsn - first]`. */
  readonly offsets: number[]
  /** Open lazily; kept open while the segment is the active one, dirty or pinned by a round. */
  fd: number | null
  /** Written (or cut) since the last sync round started. */
  dirty: boolean
  /** Sync rounds currently running an fdatasync on `fd` (it must not be closed meanwhile). */
  pins: number
  /** Truncations so far, so a round that raced one does not claim the cut bytes as synced. */
  cuts: number
  deleted: boolean
}

function parseEntry(bytes: Buffer, start: number, end: number): LogEntry | null {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8', start, end))
  } catch {
    return null
  }
  return isLogEntry(value) ? value : null
}

/** The entry's fields only (never whatever else the object carries); the request key only when set. */
function walRecord(e: LogEntry): LogEntry {
  return e.requestKey === undefined ? { epoch: e.epoch, lsn: e.lsn, op: e.op } : { epoch: e.epoch, lsn: e.lsn, op: e.op, requestKey: e.requestKey }
}

/** The payload of an entry's WAL record. */
function encodeWalRecord(entry: LogEntry): Buffer {
  return Buffer.from(JSON.stringify(walRecord(entry)), 'utf8')
}

/** An entry's whole record size in bytes (header included), without writing it. */
export function walRecordBytes(entry: LogEntry): number {
  return RECORD_HEADER_BYTES + Buffer.byteLength(JSON.stringify(walRecord(entry)), 'utf8')
}

export function isLogEntry(value: unknown): value is LogEntry {
  if (typeof value !== 'object' || value === null) return false
  const { epoch, lsn, op, requestKey } = value as { epoch?: unknown; lsn?: unknown; op?: unknown; requestKey?: unknown }
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) return false
  if (typeof lsn !== 'number' || !Number.isSafeInteger(lsn) || lsn < 1) return false
  if (requestKey !== undefined && (typeof requestKey !== 'string' || requestKey === '')) return false
  return typeof op === 'object' && op !== null && typeof (op as { kind?: unknown }).kind === 'string'
}

export interface WalOptions {
  /** Entries at or below it are not restored, and may be missing (see the invariants). */
  readonly snapshotLsn: number
  readonly segmentBytes: number
  readonly onSync: StrictSyncHook | undefined
}

export class StrictWal {
  private readonly segments: Segment[]
  /** A directory entry was created or removed since the last round started. */
  private dirDirty = false
  /** The next append starts a new segment (set after a snapshot). */
  private rollPending = false

  private constructor(
    readonly dir: string,
    private readonly options: WalOptions,
    segments: Segment[],
  ) {
    this.segments = segments
  }

  /**
   * Opens and recovers the WAL in `dir` (created if missing). Returns the entries above
   * `snapshotLsn`, dense from `snapshotLsn + 1`. A torn or corrupt record ends its segment there (the
   * file is cut and the cut fdatasynced); a segment that does not follow on from the entries kept
   * before it is deleted, and so is every empty one.
   */
  static async open(dir: string, options: WalOptions): Promise<{ wal: StrictWal; entries: LogEntry[]; recovery: WalRecovery }> {
    await mkdirDurable(dir)
    const { snapshotLsn } = options
    const files = (await readdir(dir))
      .map((name) => ({ name, first: parseWalSegmentName(name) }))
      .filter((f): f is { name: string; first: number } => f.first !== undefined)
      .sort((a, b) => a.first - b.first)
    const segments: Segment[] = []
    const entries: LogEntry[] = []
    const warnings: string[] = []
    let prev = 0
    let bytesTruncated = 0
    let segmentsDropped = 0
    let fileSyncs = 0
    for (const { name, first } of files) {
      const path = join(dir, name)
      const offsets: number[] = []
      let problem: string | null = null
      let validBytes = 0
      const handle = await open(path, 'r+')
      try {
        const size = (await handle.stat()).size
        const result = await scanRecords(handle, size, (offset, bytes, start, end) => {
          const entry = parseEntry(bytes, start, end)
          if (entry === null) {
            problem = 'a record that is not a log entry'
            return false
          }
          const expected = first + offsets.length
          if (entry.lsn !== expected) {
            problem = `LSN ${entry.lsn} where ${expected} was expected`
            return false
          }
          if (offsets.length === 0 && !(first === prev + 1 || (first > prev && first <= snapshotLsn + 1))) {
            problem = `the segment starts at LSN ${first}, which does not follow LSN ${prev} (snapshot at ${snapshotLsn})`
            return false
          }
          offsets.push(offset)
          if (entry.lsn > snapshotLsn) entries.push(entry)
          return true
        })
        validBytes = result.validBytes
        if (result.stop !== null) {
          bytesTruncated += size - validBytes
          if (validBytes > 0) await handle.truncate(validBytes)
          const reason: ScanStopReason = result.stop
          if (reason !== 'torn' || problem !== null) {
            warnings.push(
              `${name}: ${problem ?? (reason === 'checksum' ? 'a record fails its checksum' : 'a torn record')} at offset ${validBytes}; ` +
                `cut the segment there (${size - validBytes} bytes)`,
            )
          }
        }
        // What is kept is durable from now on (the node reports restored entries durable at once),
        // even if the previous life ended before its last flush and the page cache still holds it.
        if (offsets.length > 0) {
          await handle.datasync()
          fileSyncs += 1
        }
      } finally {
        await handle.close()
      }
      if (offsets.length === 0) {
        await unlink(path)
        segmentsDropped += 1
        continue
      }
      const last = first + offsets.length - 1
      segments.push({
        first,
        last,
        path,
        size: validBytes,
        syncedSize: validBytes,
        offsets,
        fd: null,
        dirty: false,
        pins: 0,
        cuts: 0,
        deleted: false,
      })
      prev = last
    }
    // Also makes segments created in the previous life (and entries removed) durable in the directory.
    if (files.length > 0) await fsyncDir(dir)
    if (files.length > 0) await options.onSync?.({ reason: 'recovery', fileSyncs, dirSyncs: 1 })
    const wal = new StrictWal(dir, options, segments)
    const recovery: WalRecovery = { segments: segments.length, entries: wal.entryCount, bytesTruncated, segmentsDropped, warnings }
    return { wal, entries, recovery }
  }

  /** Lowest LSN held in the files; 0 when none. */
  get firstLsn(): number {
    return this.segments[0]?.first ?? 0
  }

  /** Highest LSN held in the files; 0 when none. */
  get lastLsn(): number {
    return this.segments.at(-1)?.last ?? 0
  }

  get bytes(): number {
    let total = 0
    for (const s of this.segments) total += s.size
    return total
  }

  get entryCount(): number {
    let total = 0
    for (const s of this.segments) total += s.offsets.length
    return total
  }

  get segmentCount(): number {
    return this.segments.length
  }

  /**
   * Writes `entries` (dense; the caller checked they follow the log) to the page cache, one positional
   * write per segment touched. Durable only once a sync round covering them completes.
   */
  /** Returns each entry's record size in bytes (header included): what lag in bytes counts. */
  append(entries: readonly LogEntry[]): number[] {
    const payloads = entries.map(encodeWalRecord)
    const limit = this.options.segmentBytes
    let index = 0
    while (index < entries.length) {
      const head = entries[index] as LogEntry
      const headBytes = RECORD_HEADER_BYTES + (payloads[index] as Buffer).length
      let segment = this.segments.at(-1)
      if (
        segment === undefined ||
        this.rollPending ||
        segment.last + 1 !== head.lsn ||
        (segment.size > 0 && segment.size + headBytes > limit)
      ) {
        segment = this.createSegment(head.lsn)
      }
      // Take every following entry that fits (the first always does: an oversized record gets a segment of its own).
      let end = index + 1
      let bytes = headBytes
      while (end < entries.length) {
        const next = RECORD_HEADER_BYTES + (payloads[end] as Buffer).length
        if (segment.size + bytes + next > limit) break
        bytes += next
        end += 1
      }
      const out = Buffer.allocUnsafe(bytes)
      const offsets: number[] = []
      let pos = 0
      for (let i = index; i < end; i++) {
        const payload = payloads[i] as Buffer
        out.set(payload, pos + RECORD_HEADER_BYTES)
        offsets.push(segment.size + pos)
        pos = sealRecord(out, pos, payload.length)
      }
      writeAllSync(this.fdOf(segment), out, segment.size)
      for (const offset of offsets) segment.offsets.push(offset)
      segment.size += bytes
      segment.last = (entries[end - 1] as LogEntry).lsn
      segment.dirty = true
      index = end
    }
    return payloads.map((payload) => RECORD_HEADER_BYTES + payload.length)
  }

  /**
   * Cuts the WAL so that it ends before `fromLsn`, durably before returning: later segments are
   * deleted (directory fsynced), then the segment holding `fromLsn` is ftruncated and fdatasynced. A
   * crash in between leaves a prefix of the old log (recovery drops segments that no longer follow).
   */
  truncateFrom(fromLsn: number): void {
    if (fromLsn > this.lastLsn) return
    let doomed = 0
    while (doomed < this.segments.length && (this.segments[this.segments.length - 1 - doomed] as Segment).first >= fromLsn) doomed += 1
    const cut = this.segments[this.segments.length - 1 - doomed]
    const cutsFile = cut !== undefined && cut.last >= fromLsn
    notifySync(this.options.onSync, { reason: 'truncate', fileSyncs: cutsFile ? 1 : 0, dirSyncs: doomed > 0 ? 1 : 0 })
    if (doomed > 0) {
      for (let i = 0; i < doomed; i++) this.drop(this.segments.pop() as Segment)
      fsyncDirSync(this.dir)
    }
    if (cut !== undefined && cutsFile) {
      const kept = fromLsn - cut.first
      const offset = cut.offsets[kept] as number
      const fd = this.fdOf(cut)
      ftruncateSync(fd, offset)
      fdatasyncSync(fd)
      cut.offsets.length = kept
      cut.size = offset
      cut.last = fromLsn - 1
      cut.syncedSize = Math.min(cut.syncedSize, offset)
      cut.cuts += 1
      // The fdatasync above made the rest durable, but let the next round confirm it, so that what
      // `syncedSize` claims is exactly what flushes reported (the crash simulation relies on it).
      cut.dirty = true
    }
  }

  /** The next append starts a new segment (after a snapshot, so pruning can drop whole segments). */
  rollNext(): void {
    const active = this.segments.at(-1)
    if (active !== undefined && active.offsets.length > 0) this.rollPending = true
  }

  /** Deletes every segment whose entries are all at or below `lsn` (lazily durable: the next round fsyncs the directory). */
  pruneTo(lsn: number): void {
    let dropped = 0
    while (dropped < this.segments.length && (this.segments[dropped] as Segment).last <= lsn) dropped += 1
    if (dropped === 0) return
    for (const segment of this.segments.splice(0, dropped)) this.drop(segment)
    this.dirDirty = true
  }

  /** Captures a group-commit round: every dirty segment and, if needed, the directory. */
  beginSync(lsn: number): SyncRound {
    const targets = this.segments.filter((s) => s.dirty)
    const dir = this.dirDirty
    const hook = this.options.onSync?.({ reason: 'flush', fileSyncs: targets.length, dirSyncs: dir ? 1 : 0 })
    const captured = targets.map((segment) => ({ segment, fd: this.fdOf(segment), size: segment.size, cuts: segment.cuts }))
    for (const c of captured) {
      c.segment.dirty = false
      c.segment.pins += 1
    }
    this.dirDirty = false
    return {
      lsn,
      run: async () => {
        try {
          await hook
          await Promise.all([...captured.map((c) => fdatasyncAsync(c.fd)), dir ? fsyncDir(this.dir) : undefined])
          for (const c of captured) {
            if (c.segment.cuts === c.cuts) c.segment.syncedSize = Math.max(c.segment.syncedSize, Math.min(c.size, c.segment.size))
          }
        } finally {
          for (const c of captured) {
            c.segment.pins -= 1
            this.maybeClose(c.segment)
          }
        }
      },
    }
  }

  /** Closes every file (no sync: call only once no round runs). */
  close(): void {
    for (const segment of this.segments) this.closeFd(segment)
  }

  /**
   * Testing: what a power loss could leave. Every segment is cut back to what completed sync rounds
   * cover, plus `keep(unsyncedBytes)` of the bytes beyond it (default none; a keep that ends inside a
   * record makes a torn tail). Files are closed; reopen the directory to recover. Call only once no
   * round runs.
   */
  crash(keep?: (unsyncedBytes: number) => number): void {
    for (const segment of this.segments) {
      const unsynced = segment.size - segment.syncedSize
      const kept = keep === undefined ? 0 : Math.max(0, Math.min(unsynced, Math.floor(keep(unsynced))))
      const size = segment.syncedSize + kept
      if (segment.fd !== null) ftruncateSync(segment.fd, size)
      else truncateSync(segment.path, size)
      this.closeFd(segment)
    }
  }

  private createSegment(first: number): Segment {
    const previous = this.segments.at(-1)
    const path = join(this.dir, walSegmentName(first))
    const segment: Segment = {
      first,
      last: first - 1,
      path,
      size: 0,
      syncedSize: 0,
      offsets: [],
      fd: openSync(path, 'w+'),
      dirty: true,
      pins: 0,
      cuts: 0,
      deleted: false,
    }
    this.segments.push(segment)
    this.dirDirty = true
    this.rollPending = false
    if (previous !== undefined) this.maybeClose(previous)
    return segment
  }

  private fdOf(segment: Segment): number {
    if (segment.fd === null) segment.fd = openSync(segment.path, 'r+')
    return segment.fd
  }

  private drop(segment: Segment): void {
    segment.deleted = true
    try {
      unlinkSync(segment.path)
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
    this.maybeClose(segment)
  }

  private maybeClose(segment: Segment): void {
    if (segment.fd === null || segment.pins > 0) return
    if (segment.deleted || (segment !== this.segments.at(-1) && !segment.dirty)) this.closeFd(segment)
  }

  private closeFd(segment: Segment): void {
    if (segment.fd === null) return
    const fd = segment.fd
    segment.fd = null
    closeSync(fd)
  }
}

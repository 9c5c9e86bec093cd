/**
 * A log's segments on disk. Each named log is a directory of append-only segment files,
 * `<base>.seg`, where `<base>` is the index of the segment's first record; a segment is rolled once
 * it reaches `segmentBytes`. Records are framed and checksummed as described in `record-format.ts`.
 * An in-memory index (the file offset of every record, rebuilt on recovery) makes `readLog` of a
 * range one positional read of exactly that range [PF3]. `meta.json` (replaced atomically) keeps the
 * log's real name and its first retained index, so retention in the middle of a segment and an
 * empty log's append point survive a restart [SG2].
 */
import { constants } from 'node:fs'
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { noop, type FileStorageContext } from './file-context.js'
import type { LogState, Segment } from './file-storage-types.js'
import { fsyncDir, isNotFound, OPEN_RW_TRUNCATE, SEGMENT_DSYNC, writeFileAtomic } from './fs-util.js'
import { logDirName, META_FILE, segmentFileName } from './layout.js'

/** Open handles kept per log for segments other than the active one (catch-up reads). */
const OPEN_OLD_SEGMENTS = 4

export function newLogState(ctx: FileStorageContext, name: string): LogState {
  return {
    name,
    dir: join(ctx.logsDir, logDirName(name)),
    exists: false,
    first: 1,
    segments: [],
    batch: null,
    openOld: [],
    tail: Promise.resolve(),
  }
}

export function lastIndexOf(state: LogState): number {
  const seg = state.segments[state.segments.length - 1]
  if (seg === undefined) return state.first - 1
  return Math.max(state.first - 1, seg.base + seg.offsets.length - 1)
}

/** Index of the segment holding `index` (the last one whose base is <= index). */
export function findSegment(state: LogState, index: number): number {
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

export async function rollSegment(ctx: FileStorageContext, state: LogState): Promise<Segment> {
  const previous = state.segments[state.segments.length - 1]
  const base = lastIndexOf(state) + 1
  const path = join(state.dir, segmentFileName(base))
  const handle = await open(path, OPEN_RW_TRUNCATE | SEGMENT_DSYNC)
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
  ctx.dirtyDirs.add(state.dir)
  ctx.writeEpoch++
  if (previous?.handle && !state.openOld.includes(previous)) {
    state.openOld.push(previous)
    await evictOldHandles(state)
  }
  return seg
}

/** The segment's handle, opened on demand; at most OPEN_OLD_SEGMENTS besides the active one stay open. */
export async function segmentHandle(state: LogState, seg: Segment): Promise<FileHandle> {
  const active = seg === state.segments[state.segments.length - 1]
  if (seg.handle === null) {
    seg.handle = await open(seg.path, constants.O_RDWR | SEGMENT_DSYNC)
    if (!active) state.openOld.push(seg)
  } else if (!active) {
    const at = state.openOld.indexOf(seg)
    if (at >= 0) state.openOld.splice(at, 1)
    state.openOld.push(seg)
  }
  const handle = seg.handle
  await evictOldHandles(state)
  return handle
}

async function evictOldHandles(state: LogState): Promise<void> {
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

export async function deleteSegments(ctx: FileStorageContext, state: LogState, from: number, to: number): Promise<void> {
  const doomed = state.segments.slice(from, to)
  state.segments.splice(from, to - from)
  for (const seg of doomed) {
    seg.deleted = true
    ctx.dirtySegments.delete(seg)
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

/** Issues the fdatasync at once; resolves with a function that records what it covered. */
export function syncSegment(ctx: FileStorageContext, seg: Segment): Promise<() => void> {
  const size = seg.writtenSize
  const generation = seg.cutGeneration
  const commit = (): void => {
    if (seg.cutGeneration === generation) seg.syncedSize = Math.max(seg.syncedSize, size)
  }
  ctx.stats.fileSyncs++
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

/**
 * Makes every record of the log written so far, and its directory entries, durable now. Leaves the
 * dirty flags alone: a flush racing with this must not find a segment clean while this sync of it
 * is still in flight, so the next round syncs it again (cheaply: nothing left to write back).
 */
export async function syncLogData(ctx: FileStorageContext, state: LogState): Promise<void> {
  const jobs: Promise<void>[] = []
  for (const seg of state.segments) {
    if (!seg.dirty && seg.writtenSize <= seg.syncedSize) continue
    jobs.push(syncSegment(ctx, seg).then((commit) => commit()))
  }
  jobs.push(fsyncDir(state.dir))
  await Promise.all(jobs)
}

export async function createLog(ctx: FileStorageContext, state: LogState): Promise<void> {
  await mkdir(state.dir, { recursive: true })
  await writeMeta(state)
  await fsyncDir(ctx.logsDir)
  state.exists = true
}

export async function writeMeta(state: LogState): Promise<void> {
  const meta = `${JSON.stringify({ name: state.name, firstIndex: state.first })}\n`
  await writeFileAtomic(join(state.dir, META_FILE), Buffer.from(meta, 'utf8'))
}

/**
 * Retention (`truncateLog`) and rollback (`truncateLogAfter`) of a log. Both are made durable before
 * they resolve: a rollback cut is ftruncated and fdatasynced before any later append can overwrite
 * the same offsets (so stale bytes never follow the end of a log), and a new retention point is only
 * written once the records it keeps are durable (so a crash cannot leave a first index above records
 * that were lost).
 */
import type { FileStorageContext } from './file-context.js'
import type { LogState, Segment } from './file-storage-types.js'
import { fsyncDir } from './fs-util.js'
import { createLog, deleteSegments, findSegment, lastIndexOf, segmentHandle, syncLogData, writeMeta } from './log-segments.js'

/** Drops the records before `beforeIndex`. Runs on the log's queue. */
export async function truncateBefore(ctx: FileStorageContext, state: LogState, beforeIndex: number): Promise<void> {
  if (beforeIndex <= state.first) return
  if (!state.exists) {
    state.first = beforeIndex
    await createLog(ctx, state)
    return
  }
  // The records the new first index keeps must be durable before it is, or a crash could leave
  // firstIndex above records that were lost: a hole.
  if (beforeIndex <= lastIndexOf(state)) await syncLogData(ctx, state)
  state.first = beforeIndex
  await writeMeta(state)
  let drop = 0
  for (const seg of state.segments) {
    if (seg.base + seg.offsets.length - 1 >= beforeIndex) break
    drop++
  }
  if (drop > 0) {
    // Not synced here: should the unlinks not reach the disk, recovery deletes segments wholly
    // below meta.json's firstIndex anyway. The next sync round makes them durable.
    await deleteSegments(ctx, state, 0, drop)
    ctx.dirtyDirs.add(state.dir)
    ctx.writeEpoch++
  }
}

/** Drops the records after `index`. Runs on the log's queue. */
export async function truncateAfter(ctx: FileStorageContext, state: LogState, index: number): Promise<void> {
  if (index >= lastIndexOf(state)) return
  if (index < state.first - 1) {
    // Records go first, durably, then the first index moves down: a crash in between leaves an
    // empty log at the old first index, which the log passed through anyway.
    await deleteSegments(ctx, state, 0, state.segments.length)
    await fsyncDir(state.dir)
    state.first = index + 1
    await writeMeta(state)
    return
  }
  const at = findSegment(state, index + 1)
  const seg = state.segments[at] as Segment
  const cut = seg.offsets[index + 1 - seg.base] as number
  const dropFrom = cut > 0 ? at + 1 : at
  if (dropFrom < state.segments.length) await deleteSegments(ctx, state, dropFrom, state.segments.length)
  if (cut > 0) {
    // The records kept in earlier segments become durable first: syncing the cut segment alone could
    // leave it on disk without an earlier segment never synced, a log that starts in the middle.
    await syncLogData(ctx, state)
    // Durable before anything else is written at these offsets, so bytes of the dropped records
    // can never reappear after the new end of the log.
    const handle = await segmentHandle(state, seg)
    await handle.truncate(cut)
    seg.offsets.length = index + 1 - seg.base
    seg.size = seg.writtenSize = cut
    seg.cutGeneration++
    ctx.stats.fileSyncs++
    await handle.datasync()
    seg.dirty = false
    ctx.dirtySegments.delete(seg)
    seg.syncedSize = cut
  }
  await fsyncDir(state.dir)
}

/**
 * Appends to a log. Consecutive appends to the same log that wait in its queue are written with one
 * `writev`. Segments are open O_DSYNC, so each write is durable when it completes; the sync rounds
 * (sync-rounds.ts) still make new segments' directory entries durable, so a flush is what callers wait for.
 */
import { StorageError } from '../../core/storage/adapter.js'
import { assertBytes } from '../../core/storage/keys.js'
import { asStorageError, type FileStorageContext } from './file-context.js'
import type { AppendBatch, LogState, Segment } from './file-storage-types.js'
import { writeAll } from './fs-util.js'
import { createLog, lastIndexOf, rollSegment, segmentHandle } from './log-segments.js'
import { encodeRecords, MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES } from './record-format.js'

/** Bounds of one coalesced append write. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
const MAX_BATCH_PARTS = 1024

interface Run {
  seg: Segment
  position: number
  buffers: Buffer[]
}

/** Validates and frames the records of one `append`. */
export function frameAppend(records: readonly Uint8Array[]): { buf: Buffer; sizes: number[] } {
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
  return { buf: encodeRecords(records, total), sizes }
}

/** Queues framed records on the log, joining the batch still waiting in its queue if there is one. */
export function enqueueAppend(ctx: FileStorageContext, state: LogState, buf: Buffer, sizes: readonly number[]): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let batch = state.batch
    if (batch === null || batch.bytes >= MAX_BATCH_BYTES || batch.parts.length >= MAX_BATCH_PARTS) {
      const fresh: AppendBatch = { parts: [], bytes: 0 }
      // writeBatch settles every part itself and never rejects.
      state.tail = state.tail.then(() => writeBatch(ctx, state, fresh))
      state.batch = fresh
      batch = fresh
    }
    batch.parts.push({ buf, sizes, resolve, reject })
    batch.bytes += buf.length
  })
}

async function writeBatch(ctx: FileStorageContext, state: LogState, batch: AppendBatch): Promise<void> {
  if (state.batch === batch) state.batch = null
  try {
    if (ctx.failure) throw ctx.failure
    const lasts: number[] = []
    let run: Run | null = null
    for (const part of batch.parts) {
      if (part.sizes.length > 0 && !state.exists) await createLog(ctx, state)
      // Records go one by one into the active segment, rolling it when the next record would
      // overflow it (a segment holds at least one record, however large); each stretch of the
      // part's buffer that lands in one segment is written as a subarray, without copying.
      let pieceStart = 0
      let pos = 0
      for (const size of part.sizes) {
        let seg = state.segments[state.segments.length - 1]
        if (seg === undefined || (seg.size > 0 && seg.size + size > ctx.segmentBytes)) {
          if (run) {
            if (pos > pieceStart) run.buffers.push(part.buf.subarray(pieceStart, pos))
            await writeRun(ctx, state, run)
          }
          run = null
          pieceStart = pos
          seg = await rollSegment(ctx, state)
        }
        if (run === null) run = { seg, position: seg.size, buffers: [] }
        seg.offsets.push(seg.size)
        seg.size += size
        pos += size
      }
      if (run && pos > pieceStart) run.buffers.push(part.buf.subarray(pieceStart, pos))
      lasts.push(lastIndexOf(state))
    }
    if (run) await writeRun(ctx, state, run)
    batch.parts.forEach((part, i) => part.resolve(lasts[i] as number))
  } catch (err) {
    const error = asStorageError(ctx, err, `append to log '${state.name}'`)
    for (const part of batch.parts) part.reject(error)
  }
}

async function writeRun(ctx: FileStorageContext, state: LogState, run: Run): Promise<void> {
  const seg = run.seg
  const handle = await segmentHandle(state, seg)
  const generation = seg.cutGeneration
  await writeAll(handle, run.buffers, run.position)
  const end = run.position + run.buffers.reduce((n, b) => n + b.length, 0)
  seg.writtenSize = Math.max(seg.writtenSize, end)
  // The segment is open O_DSYNC (fs-util.ts): the completed write is durable, no fdatasync to wait for.
  // A rollback cut during the write decides for itself what of the file is durable.
  ctx.stats.durableWrites++
  if (seg.cutGeneration === generation) seg.syncedSize = Math.max(seg.syncedSize, end)
  // Still counted as a write, so that a flush after it waits for a round: the round makes the
  // directory entry of a segment just created durable.
  ctx.writeEpoch++
}

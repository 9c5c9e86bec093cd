/**
 * The blob file: every `save`/`remove`/`removeRange` is one record appended to a single `blobs.log`;
 * an in-memory map from key to record offset serves reads, and the file is compacted
 * (blob-compaction.ts) once its garbage outgrows both its live bytes and `blobCompactionMinBytes`.
 * Chosen over one file per blob (temp file, fsync, rename, fsync dir) because it is both simpler and
 * cheaper here:
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
 */
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageError } from '../../core/storage/adapter.js'
import { hasKeyPrefix } from '../../core/storage/keys.js'
import type { FileStorageContext } from './file-context.js'
import type { BlobEntry, BlobFile, MutableRecoveryStats } from './file-storage-types.js'
import { isNotFound, OPEN_RW_CREATE, readFully, writeAll } from './fs-util.js'
import { BLOB_COMPACT_FILE, BLOB_FILE } from './layout.js'
import { recordChecksumOk, RECORD_HEADER_BYTES, scanRecords, sealRecord } from './record-format.js'
import { cutFile } from './recovery-cut.js'

// Blob record payload: op:u8  keyJsonLength:u32le  keyJson:utf8  data
export const OP_PUT = 1
export const OP_REMOVE = 2
export const OP_REMOVE_PREFIX = 3
export const BLOB_PREFIX_BYTES = 5

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((part) => typeof part === 'string')
}

export function encodeBlobRecord(op: number, keyJson: Buffer, data?: Uint8Array): Buffer {
  const length = BLOB_PREFIX_BYTES + keyJson.length + (data?.length ?? 0)
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length)
  out[RECORD_HEADER_BYTES] = op
  out.writeUInt32LE(keyJson.length, RECORD_HEADER_BYTES + 1)
  out.set(keyJson, RECORD_HEADER_BYTES + BLOB_PREFIX_BYTES)
  if (data) out.set(data, RECORD_HEADER_BYTES + BLOB_PREFIX_BYTES + keyJson.length)
  sealRecord(out, 0, length)
  return out
}

export async function appendBlobRecord(ctx: FileStorageContext, blob: BlobFile, record: Buffer): Promise<number> {
  const offset = blob.size
  blob.size += record.length
  await writeAll(blob.handle, [record], offset)
  blob.writtenSize = blob.size
  blob.dirty = true
  ctx.writeEpoch++
  return offset
}

export async function readBlob(ctx: FileStorageContext, blob: BlobFile, entry: BlobEntry, id: string): Promise<Uint8Array> {
  const bytes = Buffer.allocUnsafeSlow(entry.recordBytes)
  await readFully(blob.handle, bytes, 0, entry.recordBytes, entry.recordOffset)
  if (!recordChecksumOk(bytes, 0, entry.recordBytes - RECORD_HEADER_BYTES)) {
    throw new StorageError('io', `blob ${id} fails its checksum (${join(ctx.dir, BLOB_FILE)} at ${entry.recordOffset})`)
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset + entry.dataStart, entry.recordBytes - entry.dataStart)
}

/** Bytes read at once by `readBlobs`: records close together in the file share one read. */
const RANGE_READ_BYTES = 4 * 1024 * 1024

/**
 * Reads many blobs in file order with few large reads instead of one per blob (a node's startup loads
 * every stored document: 10,000 preads took half a second), then hands them back in the caller's order.
 * Garbage between live records is read too; compaction keeps it below the live bytes.
 */
export async function readBlobs(ctx: FileStorageContext, blob: BlobFile, entries: readonly (readonly [string, BlobEntry])[]): Promise<Uint8Array[]> {
  const byOffset = entries.map((item, i) => ({ id: item[0], entry: item[1], i })).sort((a, b) => a.entry.recordOffset - b.entry.recordOffset)
  const out: Uint8Array[] = new Array(entries.length)
  for (let first = 0; first < byOffset.length; ) {
    const start = (byOffset[first] as (typeof byOffset)[number]).entry.recordOffset
    let last = first
    let end = start + (byOffset[first] as (typeof byOffset)[number]).entry.recordBytes
    while (last + 1 < byOffset.length) {
      const next = (byOffset[last + 1] as (typeof byOffset)[number]).entry
      if (next.recordOffset + next.recordBytes - start > RANGE_READ_BYTES) break
      last += 1
      end = Math.max(end, next.recordOffset + next.recordBytes)
    }
    const window = Buffer.allocUnsafeSlow(end - start)
    await readFully(blob.handle, window, 0, end - start, start)
    for (let k = first; k <= last; k++) {
      const { id, entry, i } = byOffset[k] as (typeof byOffset)[number]
      const at = entry.recordOffset - start
      if (!recordChecksumOk(window, at, entry.recordBytes - RECORD_HEADER_BYTES)) {
        throw new StorageError('io', `blob ${id} fails its checksum (${join(ctx.dir, BLOB_FILE)} at ${entry.recordOffset})`)
      }
      out[i] = new Uint8Array(window.buffer, window.byteOffset + at + entry.dataStart, entry.recordBytes - entry.dataStart)
    }
    first = last + 1
  }
  return out
}

/** Opens the blob file, replays its records into the key map, and cuts off a torn or corrupt tail. */
export async function recoverBlobs(ctx: FileStorageContext, stats: MutableRecoveryStats): Promise<void> {
  // A compaction that did not reach its rename: blobs.log is still the authoritative file.
  await unlink(join(ctx.dir, BLOB_COMPACT_FILE)).catch((err: unknown) => {
    if (!isNotFound(err)) throw err
  })
  const handle = await open(join(ctx.dir, BLOB_FILE), OPEN_RW_CREATE)
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
  ctx.blob = blob
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
  if (result.stop) await cutFile(handle, BLOB_FILE, fileBytes, result, stats)
  // What was only in the page cache (the previous process died, the machine did not) becomes
  // durable now, so a second crash cannot take back what this recovery reports.
  await handle.datasync()
  blob.size = blob.writtenSize = blob.syncedSize = result.validBytes
  stats.blobs = blob.index.size
}

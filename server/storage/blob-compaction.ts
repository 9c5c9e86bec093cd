/**
 * Compaction of the blob file (blob-store.ts): live records copied to a new file, fsynced, renamed
 * over the old one.
 */
import { open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { noop, type FileStorageContext } from './file-context.js'
import type { BlobEntry, BlobFile } from './file-storage-types.js'
import { fsyncDir, OPEN_RW_TRUNCATE, readFully, writeAll } from './fs-util.js'
import { BLOB_COMPACT_FILE, BLOB_FILE } from './layout.js'
import { recordChecksumOk, RECORD_HEADER_BYTES } from './record-format.js'

const COMPACTION_WRITE_BYTES = 1024 * 1024

/** Whether the blob file's garbage now outgrows both its live bytes and the configured minimum. */
export function compactionDue(ctx: FileStorageContext, blob: BlobFile): boolean {
  const garbage = blob.size - blob.liveBytes
  return !(blob.compactionQueued || garbage <= ctx.compactionMinBytes || garbage <= blob.liveBytes)
}

/**
 * Copies the live records, unchanged, into a new file, makes it durable, then renames it over the
 * old one. A crash before the rename leaves the old file (the new one is deleted on open); after
 * it, the new one, which holds every live value. Makes pending blob writes durable early, which
 * the contract allows.
 */
export async function compactBlobs(ctx: FileStorageContext, blob: BlobFile): Promise<void> {
  blob.compactionQueued = false
  const tmpPath = join(ctx.dir, BLOB_COMPACT_FILE)
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
    ctx.stats.fileSyncs++
    await handle.datasync()
  } catch (err) {
    await handle.close().catch(noop)
    await unlink(tmpPath).catch(noop)
    throw err
  }
  await rename(tmpPath, join(ctx.dir, BLOB_FILE))
  await fsyncDir(ctx.dir)
  const old = blob.handle
  blob.handle = handle
  blob.index = index
  blob.size = blob.writtenSize = blob.syncedSize = blob.liveBytes = size
  blob.dirty = false
  blob.generation++
  ctx.stats.blobCompactions++
  // FileHandle.close waits for operations still running on it, e.g. a sync round's fdatasync.
  await old.close()
}

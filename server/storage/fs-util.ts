/** Small file-system helpers of the file storage adapter: full reads and writes, fsync of directories. */
import { constants } from 'node:fs'
import { open, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Open for reading and writing, creating the file if missing, never truncating, never O_APPEND. */
export const OPEN_RW_CREATE = constants.O_RDWR | constants.O_CREAT
/** Open for reading and writing, creating or emptying the file. */
export const OPEN_RW_TRUNCATE = constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC
/**
 * Log segments are opened O_DSYNC: each write returns once its bytes (and the file size that reaches
 * them) are durable, in the one thread-pool job of the write. A separate fdatasync after it would be a
 * second job, and a wake-up of the event loop between the two (~0.1 ms on a loaded VM, on every
 * commit's critical path). Directory entries still need the sync rounds' directory fsyncs.
 */
export const SEGMENT_DSYNC = constants.O_DSYNC

export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT'
}

/** Reads exactly `length` bytes at `position` into `buffer[offset, offset + length)`. */
export async function readFully(
  handle: FileHandle,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, offset + done, length - done, position + done)
    if (bytesRead === 0) throw new Error(`short read: wanted ${length} bytes at ${position}, file ended after ${done}`)
    done += bytesRead
  }
}

/** Writes every buffer, back to back, starting at `position` (positional: never depends on O_APPEND). */
export async function writeAll(handle: FileHandle, buffers: readonly Uint8Array[], position: number): Promise<void> {
  let total = 0
  for (const b of buffers) total += b.length
  if (total === 0) return
  const { bytesWritten } =
    buffers.length === 1
      ? await handle.write(buffers[0] as Uint8Array, 0, total, position)
      : await handle.writev(buffers as Uint8Array[], position)
  // libuv already loops over partial writes; a short count here means the medium refused (ENOSPC…).
  if (bytesWritten !== total) throw new Error(`short write: ${bytesWritten} of ${total} bytes at ${position}`)
}

/** fsync of a directory, so that entries created, renamed or removed in it survive a crash. */
export async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replaces `path` with `data` atomically and durably: write a temporary file, fsync it, rename it
 * over `path`, fsync the directory. A crash leaves either the old or the new content, never a mix.
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`
  const handle = await open(tmp, OPEN_RW_TRUNCATE)
  try {
    await writeAll(handle, [data], 0)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, path)
  await fsyncDir(dirname(path))
}

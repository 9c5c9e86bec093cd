/**
 * Synchronous file helpers of the strict store. Hard state, snapshots and rollback candidates must be
 * durable before the strict node's next message leaves, and the node's callbacks are synchronous, so
 * these use the `*Sync` file-system calls (they are rare: elections, compactions, rollbacks).
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname, relative, sep } from 'node:path'
import { fsyncDir, isNotFound } from '../storage/fs-util.js'
import { RECORD_HEADER_BYTES, crc32, encodeRecords } from '../storage/record-format.js'

/** A store file that does not check out, or a directory that is not a strict store. */
export class StrictStoreError extends Error {
  override readonly name = 'StrictStoreError'
}

/** Writes all of `data` at `position` (positional, so it never depends on O_APPEND). */
export function writeAllSync(fd: number, data: Uint8Array, position: number): void {
  let done = 0
  while (done < data.length) {
    const written = writeSync(fd, data, done, data.length - done, position + done)
    if (written <= 0) throw new Error(`short write: ${done} of ${data.length} bytes at ${position}`)
    done += written
  }
}

/** fsync of a directory, so that entries created, renamed or removed in it survive a crash. */
export function fsyncDirSync(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Replaces `path` with `data` atomically and durably: write `<path>.tmp`, fsync it, rename it over
 * `path`, fsync the directory. A crash leaves the old or the new content, never a mix.
 */
export function writeFileAtomicSync(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w')
  try {
    writeAllSync(fd, data, 0)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  fsyncDirSync(dirname(path))
}

/** One CRC-framed record (see `server/storage/record-format.ts`) holding `value` as JSON. */
export function frameJson(value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value), 'utf8')
  return encodeRecords([payload], RECORD_HEADER_BYTES + payload.length)
}

/** Atomically replaces `path` with one record holding `value` as JSON. */
export function writeJsonRecordFileSync(path: string, value: unknown): void {
  writeFileAtomicSync(path, frameJson(value))
}

/**
 * Reads a file written by {@link writeJsonRecordFileSync}: undefined when it does not exist; throws
 * {@link StrictStoreError} when it is not exactly one good record of JSON (an atomic replace never
 * leaves a partial file, so that is corruption, and guessing would be worse than refusing to start).
 */
export function readJsonRecordFileSync(path: string): unknown {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
  if (bytes.length < RECORD_HEADER_BYTES) throw new StrictStoreError(`${path}: ${bytes.length} bytes, too short for a record`)
  const length = bytes.readUInt32LE(4)
  if (RECORD_HEADER_BYTES + length !== bytes.length) {
    throw new StrictStoreError(`${path}: record length ${length} does not match the file size ${bytes.length}`)
  }
  if (bytes.readUInt32LE(0) !== crc32(bytes, 4, bytes.length)) throw new StrictStoreError(`${path}: checksum mismatch`)
  try {
    return JSON.parse(bytes.toString('utf8', RECORD_HEADER_BYTES)) as unknown
  } catch (err) {
    throw new StrictStoreError(`${path}: not JSON (${(err as Error).message})`)
  }
}

/**
 * `mkdir -p`, durably: when directories had to be created, the parent of each new one is fsynced, so
 * a crash cannot take the new directory (and everything later made durable inside it) away.
 */
export async function mkdirDurable(path: string): Promise<void> {
  const created = await mkdir(path, { recursive: true })
  if (created === undefined) return
  const parents = [dirname(created)]
  let current = created
  for (const part of relative(created, path).split(sep).filter((p) => p !== '')) {
    parents.push(current)
    current = `${current}${sep}${part}`
  }
  for (const parent of parents) await fsyncDir(parent)
}

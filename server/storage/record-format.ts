/**
 * The on-disk record format shared by log segments and the blob file (docs/design.md §6, [SG1]).
 *
 * ```
 * record := crc32:u32le  length:u32le  payload:length bytes
 * crc32  := CRC-32 (IEEE 802.3, as zlib) of the 4 length bytes followed by the payload
 * ```
 *
 * The checksum covers the length as well as the payload, for two reasons: a flipped length bit is
 * caught instead of silently re-framing the rest of the file, and an all-zero header (what some file
 * systems show for a tail whose size was extended but whose data never reached the disk) does not
 * check out: CRC-32 of four zero bytes is 0x2144DF1C, not 0. The crc comes first so that the
 * checked bytes (length ‖ payload) are contiguous and can be hashed in one pass.
 *
 * A file is a plain concatenation of records, no file header: the index of a log record is its
 * segment's base index (in the file name) plus its position, so recovery only needs to walk the
 * file front to back and stop at the first record that does not check out.
 */
import type { FileHandle } from 'node:fs/promises'
import * as zlib from 'node:zlib'
import { readFully } from './fs-util.js'

export const RECORD_HEADER_BYTES = 8
/** The length field is a u32. */
export const MAX_RECORD_PAYLOAD_BYTES = 0xffff_ffff

// ---------------------------------------------------------------------------------------------
// CRC-32

// Slicing-by-8 tables: 8 × 256 entries.
const TABLE = new Int32Array(256 * 8)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  TABLE[n] = c
}
for (let n = 0; n < 256; n++) {
  let c = TABLE[n] as number
  for (let k = 1; k < 8; k++) {
    c = (TABLE[c & 0xff] as number) ^ (c >>> 8)
    TABLE[k * 256 + n] = c
  }
}

/** CRC-32 of `bytes[start, end)`, in JavaScript: no allocation, so it wins for small records. */
function crc32Js(bytes: Uint8Array, start: number, end: number): number {
  const t = TABLE
  let c = -1
  let i = start
  for (; i + 8 <= end; i += 8) {
    const a = c ^ ((bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24))
    const b = (bytes[i + 4] as number) | ((bytes[i + 5] as number) << 8) | ((bytes[i + 6] as number) << 16) | ((bytes[i + 7] as number) << 24)
    c =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (b & 0xff)] as number) ^
      (t[512 + ((b >>> 8) & 0xff)] as number) ^
      (t[256 + ((b >>> 16) & 0xff)] as number) ^
      (t[b >>> 24] as number)
  }
  for (; i < end; i++) c = (t[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

// zlib.crc32 exists from Node 20.15 / 22.2; `engines` allows any Node 20, so fall back to the table.
const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

// Measured on this machine (bench/file-recovery.ts era): for ~100-byte records the JS loop is about
// 2.5x faster than zlib.crc32 on a subarray (the view allocation dominates); for large payloads
// zlib's native code is about 5x faster.
const NATIVE_CRC_MIN_BYTES = 1024

/** CRC-32 (zlib's) of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (nativeCrc32 !== undefined && end - start >= NATIVE_CRC_MIN_BYTES) {
    return nativeCrc32(bytes.subarray(start, end)) >>> 0
  }
  return crc32Js(bytes, start, end)
}

// ---------------------------------------------------------------------------------------------
// encoding

/**
 * Frames `payloads` as consecutive records in one fresh buffer (this is also the adapter's copy of
 * the caller's bytes). `totalBytes` must be the sum of `RECORD_HEADER_BYTES + payload.length`.
 */
export function encodeRecords(payloads: readonly Uint8Array[], totalBytes: number): Buffer {
  const out = Buffer.allocUnsafe(totalBytes)
  let pos = 0
  for (const payload of payloads) {
    out.set(payload, pos + RECORD_HEADER_BYTES)
    pos = sealRecord(out, pos, payload.length)
  }
  return out
}

/**
 * Writes the header of the record whose payload already sits at `out[pos + 8, pos + 8 + length)`;
 * returns the offset just past it.
 */
export function sealRecord(out: Buffer, pos: number, length: number): number {
  out.writeUInt32LE(length, pos + 4)
  const end = pos + RECORD_HEADER_BYTES + length
  out.writeUInt32LE(crc32(out, pos + 4, end), pos)
  return end
}

/** Whether the record framed at `bytes[pos, pos + 8 + length)` checks out. */
export function recordChecksumOk(bytes: Buffer, pos: number, length: number): boolean {
  return bytes.readUInt32LE(pos) === crc32(bytes, pos + 4, pos + RECORD_HEADER_BYTES + length)
}

// ---------------------------------------------------------------------------------------------
// scanning (recovery)

/** Why a scan stopped before the end of the file. */
export type ScanStopReason =
  /** The file ends inside a header, or a length runs past the end of the file: a torn append. */
  | 'torn'
  /** A record's checksum does not match: a torn page or corruption. */
  | 'checksum'
  /** The checksum matched but the payload is not what the file's owner expects. */
  | 'malformed'

export interface ScanResult {
  /** Bytes from the start of the file up to the end of the last good record. */
  readonly validBytes: number
  /** Why the scan stopped early; `null` when every byte belonged to a good record. */
  readonly stop: ScanStopReason | null
}

const SCAN_CHUNK_BYTES = 4 * 1024 * 1024

/**
 * Walks the records of a file of `fileBytes` bytes from the start, calling `onRecord` with each
 * good record's offset and a transient view of its payload (valid only during the call). Stops at
 * the first torn or corrupt record, or when `onRecord` returns false. Reads in large chunks, so the
 * cost is one sequential pass [PF3 does not apply: this is recovery].
 */
export async function scanRecords(
  handle: FileHandle,
  fileBytes: number,
  onRecord: (offset: number, payload: Buffer, payloadStart: number, payloadEnd: number) => boolean,
): Promise<ScanResult> {
  let chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(fileBytes, RECORD_HEADER_BYTES)))
  let chunkStart = 0
  let chunkLength = 0

  // Makes file bytes [pos, pos + n) available in `chunk`; n never exceeds fileBytes - pos. Callers
  // test `has` first, so the common case costs no promise.
  const has = (pos: number, n: number): boolean => pos >= chunkStart && pos + n <= chunkStart + chunkLength
  const refill = async (pos: number, n: number): Promise<void> => {
    const want = Math.max(n, Math.min(SCAN_CHUNK_BYTES, fileBytes - pos))
    if (chunk.length < want) chunk = Buffer.allocUnsafe(want)
    await readFully(handle, chunk, 0, want, pos)
    chunkStart = pos
    chunkLength = want
  }

  let pos = 0
  while (pos < fileBytes) {
    const remaining = fileBytes - pos
    if (remaining < RECORD_HEADER_BYTES) return { validBytes: pos, stop: 'torn' }
    if (!has(pos, RECORD_HEADER_BYTES)) await refill(pos, RECORD_HEADER_BYTES)
    const length = chunk.readUInt32LE(pos - chunkStart + 4)
    if (length > remaining - RECORD_HEADER_BYTES) return { validBytes: pos, stop: 'torn' }
    if (!has(pos, RECORD_HEADER_BYTES + length)) await refill(pos, RECORD_HEADER_BYTES + length)
    const at = pos - chunkStart
    if (!recordChecksumOk(chunk, at, length)) return { validBytes: pos, stop: 'checksum' }
    const payloadStart = at + RECORD_HEADER_BYTES
    if (!onRecord(pos, chunk, payloadStart, payloadStart + length)) return { validBytes: pos, stop: 'malformed' }
    pos += RECORD_HEADER_BYTES + length
  }
  return { validBytes: pos, stop: null }
}

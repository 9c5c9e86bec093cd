/**
 * Where the file storage adapter keeps things under its directory:
 *
 * ```
 * <dir>/FORMAT                      "meridian-file-storage 1": refuses to open anything else
 * <dir>/blobs.log                   every keyed blob operation, as records (see blob-store.ts)
 * <dir>/blobs.log.compact           transient: the next blobs.log while a compaction runs
 * <dir>/logs/<log dir>/meta.json    { name, firstIndex }: the log's real name and retention point
 * <dir>/logs/<log dir>/<base>.seg   segments; <base> is the index of the first record, 16 digits
 * ```
 */
import { createHash } from 'node:crypto'
import { numberedFileName, parseNumberedFileName } from './format-file.js'

export { FORMAT_FILE } from './format-file.js'
export const FORMAT_CONTENT = 'meridian-file-storage 1\n'
export const BLOB_FILE = 'blobs.log'
export const BLOB_COMPACT_FILE = 'blobs.log.compact'
export const LOGS_DIR = 'logs'
export const META_FILE = 'meta.json'

const SEGMENT_DIGITS = 16 // Number.MAX_SAFE_INTEGER has 16 digits
export function segmentFileName(base: number): string {
  return numberedFileName(base, SEGMENT_DIGITS, '.seg')
}

/** The base index encoded in a segment file name, or undefined for any other file. */
export function parseSegmentFileName(file: string): number | undefined {
  return parseNumberedFileName(file, SEGMENT_DIGITS, '.seg')
}

const MAX_READABLE_NAME = 120

/**
 * The directory of a log. Log names are arbitrary strings, so they are escaped into a file name that
 * is injective even on case-insensitive file systems: lower-case ASCII letters, digits, `_` and `-`
 * stay as they are, every other UTF-16 code unit becomes `%` + 4 upper-case hex digits (fixed width,
 * so decoding is unambiguous and `A` never meets `a`; code units rather than UTF-8 so lone
 * surrogates stay distinct). Long names keep a readable prefix plus a SHA-256 of the exact name
 * (the `~` marks this form; it never appears in the other). Every directory starts with `l_`, so no
 * name lands on `.`, `..` or a reserved device name. The exact name is also kept in `meta.json`,
 * which is what recovery trusts.
 */
export function logDirName(name: string): string {
  let escaped = ''
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i)
    const plain =
      (unit >= 0x61 && unit <= 0x7a) || (unit >= 0x30 && unit <= 0x39) || unit === 0x5f || unit === 0x2d
    escaped += plain ? name[i] : `%${unit.toString(16).toUpperCase().padStart(4, '0')}`
  }
  if (escaped.length <= MAX_READABLE_NAME) return `l_${escaped}`
  // JSON escapes lone surrogates, so this byte string is injective in the name.
  const digest = createHash('sha256').update(JSON.stringify(name)).digest('hex').slice(0, 32)
  return `l_${escaped.slice(0, 80)}~${digest}`
}

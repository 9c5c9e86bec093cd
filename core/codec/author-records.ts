/**
 * The author table (docs/design.md §3, "Authors") as it travels at the end of a state transfer and
 * as a snapshot round stores it.
 *
 * ```
 * CoveredRecord  vector AuthorRecords   -- what a snapshot round stores under ['crdt','covered']
 * AuthorRecords  count:uint (author:string accepted:uint replicated:uint copies:uint (seq:uint origin:string originSeq:uint)*)*
 * ```
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readVersionVector, writeVersionVector } from '../clock/version-vector.js'
import type { AuthorCopy, AuthorRecord, VersionVector } from '../types.js'
import { DecodeError } from './errors.js'
import { checkCount, readString, readUint, toDecodeError, writeString, writeUint } from './primitives.js'

export function writeAuthorRecords(encoder: encoding.Encoder, records: readonly AuthorRecord[]): void {
  encoding.writeVarUint(encoder, records.length)
  for (const record of records) {
    writeString(encoder, 'author', record.author, true)
    writeUint(encoder, 'author.accepted', record.accepted)
    writeUint(encoder, 'author.replicated', record.replicated)
    encoding.writeVarUint(encoder, record.copies.length)
    for (const copy of record.copies) {
      writeUint(encoder, 'author.copy.seq', copy.seq, 1)
      writeString(encoder, 'author.copy.origin', copy.at.origin, true)
      writeUint(encoder, 'author.copy.originSeq', copy.at.seq, 1)
    }
  }
}

export function readAuthorRecords(decoder: decoding.Decoder): AuthorRecord[] {
  const count = readUint(decoder, 'authors count')
  // author, accepted, replicated, copies: four bytes at least.
  checkCount(decoder, 'authors', count, 4)
  const records: AuthorRecord[] = []
  for (let i = 0; i < count; i++) {
    const author = readString(decoder, 'author', true)
    const accepted = readUint(decoder, 'author.accepted')
    const replicated = readUint(decoder, 'author.replicated')
    if (replicated > accepted) throw new DecodeError(`author ${JSON.stringify(author)}: replicated ${replicated} above accepted ${accepted}`)
    const copyCount = readUint(decoder, 'author.copies count')
    checkCount(decoder, 'author.copies', copyCount, 3)
    const copies: AuthorCopy[] = []
    for (let j = 0; j < copyCount; j++) {
      const seq = readUint(decoder, 'author.copy.seq', 1)
      const origin = readString(decoder, 'author.copy.origin', true)
      copies.push({ seq, at: { origin, seq: readUint(decoder, 'author.copy.originSeq', 1) } })
    }
    records.push({ author, accepted, replicated, copies })
  }
  return records
}

/**
 * What a snapshot round covers, as it stores it: the version vector its documents cover, then the
 * author table at the same instant. A record of an earlier version holds only the vector.
 */
export function encodeCoveredRecord(vector: VersionVector, authors: readonly AuthorRecord[]): Uint8Array {
  const encoder = encoding.createEncoder()
  writeVersionVector(encoder, vector)
  writeAuthorRecords(encoder, authors)
  return encoding.toUint8Array(encoder)
}

/** Throws DecodeError for bytes that are not a covered record. */
export function decodeCoveredRecord(bytes: Uint8Array): { vector: Map<string, number>; authors: AuthorRecord[] } {
  const decoder = decoding.createDecoder(bytes)
  try {
    const vector = readVersionVector(decoder)
    const authors = decoding.hasContent(decoder) ? readAuthorRecords(decoder) : []
    if (decoding.hasContent(decoder)) throw new DecodeError('trailing bytes after the covered record')
    return { vector, authors }
  } catch (err) {
    throw toDecodeError(err)
  }
}

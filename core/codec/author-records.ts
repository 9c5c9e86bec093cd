/**
 * The author table (docs/design.md §3, "Authors") as it travels at the end of a state transfer and
 * as a snapshot round stores it.
 *
 * ```
 * CoveredRecord   vector AuthorRecords RefusalRecords   -- what a snapshot round stores under ['crdt','covered']
 * AuthorRecords   count:uint (author:string accepted:uint replicated:uint copies:uint (seq:uint origin:string originSeq:uint)*)*
 * RefusalRecords  count:uint (client:string seq:uint collection:string docId:string origin:string originSeq:uint)*
 * ```
 * Refusal records (docs/security.md, "Refused writes") travel beside the author table: clients' refused
 * changes whose authors may not know yet.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readVersionVector, writeVersionVector } from '../clock/version-vector.js'
import type { AuthorCopy, AuthorRecord, RefusalRecord, VersionVector } from '../types.js'
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

export function writeRefusalRecords(encoder: encoding.Encoder, records: readonly RefusalRecord[]): void {
  encoding.writeVarUint(encoder, records.length)
  for (const record of records) {
    writeString(encoder, 'refusal.client', record.client, true)
    writeUint(encoder, 'refusal.seq', record.seq, 1)
    writeString(encoder, 'refusal.collection', record.collection, true)
    writeString(encoder, 'refusal.docId', record.docId, true)
    writeString(encoder, 'refusal.origin', record.at.origin, true)
    writeUint(encoder, 'refusal.originSeq', record.at.seq, 1)
  }
}

export function readRefusalRecords(decoder: decoding.Decoder): RefusalRecord[] {
  const count = readUint(decoder, 'refusals count')
  // client, seq, collection, docId, origin, originSeq: six bytes at least.
  checkCount(decoder, 'refusals', count, 6)
  const records: RefusalRecord[] = []
  for (let i = 0; i < count; i++) {
    const client = readString(decoder, 'refusal.client', true)
    const seq = readUint(decoder, 'refusal.seq', 1)
    const collection = readString(decoder, 'refusal.collection', true)
    const docId = readString(decoder, 'refusal.docId', true)
    const origin = readString(decoder, 'refusal.origin', true)
    records.push({ client, seq, collection, docId, at: { origin, seq: readUint(decoder, 'refusal.originSeq', 1) } })
  }
  return records
}

/** What a snapshot round stored: the vector its documents cover, and the tables of that instant. */
export interface CoveredRecord {
  readonly vector: Map<string, number>
  readonly authors: AuthorRecord[]
  readonly refusals: RefusalRecord[]
}

/**
 * What a snapshot round covers, as it stores it: the version vector its documents cover, then the
 * author table and the refusals not yet told at the same instant. A record of an earlier version holds
 * only the vector, or the vector and the author table.
 */
export function encodeCoveredRecord(vector: VersionVector, authors: readonly AuthorRecord[], refusals: readonly RefusalRecord[]): Uint8Array {
  const encoder = encoding.createEncoder()
  writeVersionVector(encoder, vector)
  writeAuthorRecords(encoder, authors)
  writeRefusalRecords(encoder, refusals)
  return encoding.toUint8Array(encoder)
}

/** Throws DecodeError for bytes that are not a covered record. */
export function decodeCoveredRecord(bytes: Uint8Array): CoveredRecord {
  const decoder = decoding.createDecoder(bytes)
  try {
    const vector = readVersionVector(decoder)
    const authors = decoding.hasContent(decoder) ? readAuthorRecords(decoder) : []
    const refusals = decoding.hasContent(decoder) ? readRefusalRecords(decoder) : []
    if (decoding.hasContent(decoder)) throw new DecodeError('trailing bytes after the covered record')
    return { vector, authors, refusals }
  } catch (err) {
    throw toDecodeError(err)
  }
}

import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { decodeCoveredRecord, encodeCoveredRecord, writeAuthorRecords } from '../../../core/codec/author-records.js'
import { DecodeError } from '../../../core/codec/errors.js'
import { writeVersionVector } from '../../../core/clock/version-vector.js'
import type { AuthorRecord, RefusalRecord } from '../../../core/types.js'

const vector = new Map([['eu', 7], ['us', 3]])
const authors: AuthorRecord[] = [{ author: 'c1', accepted: 4, replicated: 2, copies: [{ seq: 3, at: { origin: 'eu', seq: 6 } }] }]
const refusals: RefusalRecord[] = [{ client: 'c1', seq: 4, collection: 'notes', docId: 'b', at: { origin: 'eu', seq: 7 } }]

/** What a snapshot round stores under ['crdt','covered'] (core/codec/author-records.ts). */
describe('the covered record', () => {
  it('keeps the vector, the author table and the refusals not yet told', () => {
    expect(decodeCoveredRecord(encodeCoveredRecord(vector, authors, refusals))).toEqual({ vector, authors, refusals })
  })

  it('reads the records earlier versions stored: the vector alone, or the vector and the author table', () => {
    const vectorOnly = encoding.createEncoder()
    writeVersionVector(vectorOnly, vector)
    expect(decodeCoveredRecord(encoding.toUint8Array(vectorOnly))).toEqual({ vector, authors: [], refusals: [] })
    const withAuthors = encoding.createEncoder()
    writeVersionVector(withAuthors, vector)
    writeAuthorRecords(withAuthors, authors)
    expect(decodeCoveredRecord(encoding.toUint8Array(withAuthors))).toEqual({ vector, authors, refusals: [] })
  })

  it('refuses a refusal list cut short or followed by trailing bytes', () => {
    const bytes = encodeCoveredRecord(vector, authors, refusals)
    expect(() => decodeCoveredRecord(bytes.subarray(0, bytes.length - 1))).toThrow(DecodeError)
    expect(() => decodeCoveredRecord(new Uint8Array([...bytes, 0]))).toThrow(DecodeError)
  })
})

/**
 * Version vectors inside frames, checked both ways: what encodes decodes to an equal vector, and a
 * decoded vector has sorted, distinct, non-empty origins and seqs of at least 1 (docs/protocol.md).
 */
import * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { readVersionVector, writeVersionVector } from '../clock/version-vector.js'
import type { VersionVector } from '../types.js'
import { DecodeError } from './errors.js'
import { checkString, invalid } from './primitives.js'

export function writeVector(encoder: encoding.Encoder, what: string, vector: VersionVector): void {
  if (!(vector instanceof Map)) invalid(`${what} (want a Map)`, vector)
  for (const [origin, seq] of vector) {
    // Zero entries are dropped by writeVersionVector; anything else must survive the trip intact.
    if (!Number.isSafeInteger(seq) || seq < 0) invalid(`${what} seq of ${JSON.stringify(origin)}`, seq)
    if (seq > 0) checkString(`${what} origin`, origin, true)
  }
  writeVersionVector(encoder, vector)
}

/**
 * `readVersionVector` accepts duplicates, any order and zero seqs; a frame we accept must be the
 * canonical encoding of its vector, so check what it read.
 */
export function readVector(decoder: decoding.Decoder, what: string): Map<string, number> {
  const count = decoding.peekVarUint(decoder)
  const vector = readVersionVector(decoder)
  if (vector.size !== count) throw new DecodeError(`${what} repeats an origin`)
  let previous: string | undefined
  for (const [origin, seq] of vector) {
    if (origin.length === 0) throw new DecodeError(`${what} has an empty origin`)
    if (previous !== undefined && !(previous < origin)) throw new DecodeError(`${what} origins are not sorted`)
    if (!Number.isSafeInteger(seq) || seq < 1) throw new DecodeError(`${what} seq of ${JSON.stringify(origin)} is ${seq}`)
    previous = origin
  }
  return vector
}

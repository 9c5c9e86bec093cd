/**
 * The refusal of one client change (docs/protocol.md, "Refused writes"):
 *
 * ```
 * Rejected  23 count:uint>=1 (seq:uint)*count collection:string docId:string code:string message:string vector hlc
 *              state:(0 | 1 documentState)
 * ```
 */
import type * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readDocumentState, readHlc, writeDocumentState, writeHlc } from './document-state.js'
import { DecodeError } from './errors.js'
import { readVector, writeVector } from './vector-codec.js'
import { MessageType, type RejectedMessage } from './messages.js'
import { checkCount, invalid, readNullable, readString, readUint, writeNullable, writeString, writeUint } from './primitives.js'

export function writeRejected(encoder: encoding.Encoder, msg: RejectedMessage): void {
  if (!Array.isArray(msg.seqs) || msg.seqs.length === 0) invalid('rejected.seqs (want a non-empty array)', msg.seqs)
  msg.seqs.forEach((seq, i) => {
    if (!Number.isSafeInteger(seq) || seq < 1 || (i > 0 && seq <= (msg.seqs[i - 1] as number))) invalid('rejected.seqs (want ascending seqs >= 1)', seq)
  })
  encoding.writeUint8(encoder, msg.type)
  encoding.writeVarUint(encoder, msg.seqs.length)
  for (const seq of msg.seqs) writeUint(encoder, 'rejected.seq', seq)
  writeString(encoder, 'rejected.collection', msg.collection, true)
  writeString(encoder, 'rejected.docId', msg.docId, true)
  writeString(encoder, 'rejected.code', msg.code, true)
  writeString(encoder, 'rejected.message', msg.message, false)
  writeVector(encoder, 'rejected.vector', msg.vector)
  writeHlc(encoder, 'rejected.hlc', msg.hlc)
  writeNullable(encoder, 'rejected.state', msg.state, (state) => writeDocumentState(encoder, state))
}

export function readRejected(decoder: decoding.Decoder): RejectedMessage {
  const count = readUint(decoder, 'rejected count')
  if (count < 1) throw new DecodeError('rejected.seqs is empty')
  checkCount(decoder, 'rejected', count, 1)
  const seqs: number[] = []
  for (let i = 0; i < count; i++) {
    const seq = readUint(decoder, 'rejected.seq')
    if (seq < 1 || (i > 0 && seq <= (seqs[i - 1] as number))) throw new DecodeError('rejected.seqs must be ascending seqs of at least 1')
    seqs.push(seq)
  }
  const collection = readString(decoder, 'rejected.collection', true)
  const docId = readString(decoder, 'rejected.docId', true)
  const code = readString(decoder, 'rejected.code', true)
  const message = readString(decoder, 'rejected.message', false)
  const vector = readVector(decoder, 'rejected.vector')
  const hlc = readHlc(decoder, 'rejected.hlc')
  const state = readNullable(decoder, 'rejected.state', () => readDocumentState(decoder))
  return { type: MessageType.Rejected, seqs, collection, docId, code, message, vector, hlc, state }
}

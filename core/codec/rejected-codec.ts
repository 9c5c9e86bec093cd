/**
 * The refusal of one client change (docs/protocol.md, "Refused writes"):
 *
 * ```
 * Rejected  23 seq:uint>=1 collection:string docId:string code:string message:string vector hlc
 *              state:(0 | 1 documentState)
 * ```
 */
import type * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readDocumentState, readHlc, writeDocumentState, writeHlc } from './document-state.js'
import { DecodeError } from './errors.js'
import { readVector, writeVector } from './vector-codec.js'
import { MessageType, type RejectedMessage } from './messages.js'
import { invalid, readNullable, readString, readUint, writeNullable, writeString, writeUint } from './primitives.js'

export function writeRejected(encoder: encoding.Encoder, msg: RejectedMessage): void {
  if (!Number.isSafeInteger(msg.seq) || msg.seq < 1) invalid('rejected.seq', msg.seq)
  encoding.writeUint8(encoder, msg.type)
  writeUint(encoder, 'rejected.seq', msg.seq)
  writeString(encoder, 'rejected.collection', msg.collection, true)
  writeString(encoder, 'rejected.docId', msg.docId, true)
  writeString(encoder, 'rejected.code', msg.code, true)
  writeString(encoder, 'rejected.message', msg.message, false)
  writeVector(encoder, 'rejected.vector', msg.vector)
  writeHlc(encoder, 'rejected.hlc', msg.hlc)
  writeNullable(encoder, 'rejected.state', msg.state, (state) => writeDocumentState(encoder, state))
}

export function readRejected(decoder: decoding.Decoder): RejectedMessage {
  const seq = readUint(decoder, 'rejected.seq')
  if (seq < 1) throw new DecodeError('rejected.seq must be at least 1')
  const collection = readString(decoder, 'rejected.collection', true)
  const docId = readString(decoder, 'rejected.docId', true)
  const code = readString(decoder, 'rejected.code', true)
  const message = readString(decoder, 'rejected.message', false)
  const vector = readVector(decoder, 'rejected.vector')
  const hlc = readHlc(decoder, 'rejected.hlc')
  const state = readNullable(decoder, 'rejected.state', () => readDocumentState(decoder))
  return { type: MessageType.Rejected, seq, collection, docId, code, message, vector, hlc, state }
}

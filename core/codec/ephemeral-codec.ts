/**
 * The ephemeral frame (docs/protocol.md, "Ephemeral messages"): state that is relayed, never logged,
 * such as the awareness of a Yjs room (who is here, where their cursor is).
 *
 * ```
 * Ephemeral  22 topic:string collection:string docId:string payload:bytes
 * ```
 */
import type * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { MessageType, type EphemeralMessage } from './messages.js'
import { readBytes, readString, writeBytes, writeString } from './primitives.js'

export function writeEphemeral(encoder: encoding.Encoder, msg: EphemeralMessage): void {
  encoding.writeUint8(encoder, msg.type)
  writeString(encoder, 'ephemeral.topic', msg.topic, true)
  writeString(encoder, 'ephemeral.collection', msg.collection, true)
  writeString(encoder, 'ephemeral.docId', msg.docId, true)
  writeBytes(encoder, 'ephemeral.payload', msg.payload)
}

export function readEphemeral(decoder: decoding.Decoder): EphemeralMessage {
  const topic = readString(decoder, 'ephemeral.topic', true)
  const collection = readString(decoder, 'ephemeral.collection', true)
  const docId = readString(decoder, 'ephemeral.docId', true)
  return { type: MessageType.Ephemeral, topic, collection, docId, payload: readBytes(decoder) }
}

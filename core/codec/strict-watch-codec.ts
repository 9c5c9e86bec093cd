/**
 * The strict watch frames (message types 13–15) after their type byte: a client subscribes to a
 * document or a whole strict collection and the server streams the documents as they are applied.
 * Kept apart from strict-codec.ts, whose frames are requests with one answer each.
 *
 * ```
 * StrictSubscribe   13 requestId:uint collection:string id:string?       -- id absent: the whole collection
 * StrictUnsubscribe 14 requestId:uint                                     -- the subscribe's requestId
 * StrictChanged     15 requestId:uint id:string document? position        -- document absent: deleted or absent
 * StrictSynced      16 requestId:uint position                          -- a whole collection's state is complete
 * ```
 *
 * `x?` is a presence byte (0 absent, 1 present) then x; `document` and `position` are strict-ops.ts.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import { MessageType } from './messages.js'
import type { StrictChangedMessage, StrictSubscribeMessage, StrictSyncedMessage, StrictUnsubscribeMessage } from './messages.js'
import { readNullable, readString, readUint, writeNullable, writeString, writeUint } from './primitives.js'
import { readPosition, readStoredDocument, writePosition, writeStoredDocument } from './strict-ops.js'

/** Every frame this file encodes and decodes. */
export type StrictWatchFrame = StrictSubscribeMessage | StrictUnsubscribeMessage | StrictChangedMessage | StrictSyncedMessage

/** Writes `msg`'s fields after its type byte (the caller wrote that). RangeError when unrepresentable. */
export function writeStrictWatchFrame(encoder: encoding.Encoder, msg: StrictWatchFrame): void {
  switch (msg.type) {
    case MessageType.StrictSubscribe:
      writeUint(encoder, 'strictSubscribe.requestId', msg.requestId)
      // Empty names are representable, as in StrictRead: the server refuses them, not the codec.
      writeString(encoder, 'strictSubscribe.collection', msg.collection, false)
      writeNullable(encoder, 'strictSubscribe.id', msg.id, (id) => writeString(encoder, 'strictSubscribe.id', id, false))
      return
    case MessageType.StrictUnsubscribe:
      writeUint(encoder, 'strictUnsubscribe.requestId', msg.requestId)
      return
    case MessageType.StrictChanged:
      writeUint(encoder, 'strictChanged.requestId', msg.requestId)
      writeString(encoder, 'strictChanged.id', msg.id, false)
      writeNullable(encoder, 'strictChanged.document', msg.document, (doc) => writeStoredDocument(encoder, 'strictChanged.document', doc))
      writePosition(encoder, 'strictChanged.position', msg.position)
      return
    case MessageType.StrictSynced:
      writeUint(encoder, 'strictSynced.requestId', msg.requestId)
      writePosition(encoder, 'strictSynced.position', msg.position)
      return
  }
}

/** Reads the fields of a watch frame of `type` (its type byte already read). DecodeError when malformed. */
export function readStrictWatchFrame(decoder: decoding.Decoder, type: StrictWatchFrame['type']): StrictWatchFrame {
  switch (type) {
    case MessageType.StrictSubscribe: {
      const requestId = readUint(decoder, 'strictSubscribe.requestId')
      const collection = readString(decoder, 'strictSubscribe.collection', false)
      const id = readNullable(decoder, 'strictSubscribe.id', () => readString(decoder, 'strictSubscribe.id', false))
      return { type, requestId, collection, id }
    }
    case MessageType.StrictUnsubscribe:
      return { type, requestId: readUint(decoder, 'strictUnsubscribe.requestId') }
    case MessageType.StrictChanged: {
      const requestId = readUint(decoder, 'strictChanged.requestId')
      const id = readString(decoder, 'strictChanged.id', false)
      const document = readNullable(decoder, 'strictChanged.document', () => readStoredDocument(decoder, 'strictChanged.document'))
      const position = readPosition(decoder, 'strictChanged.position')
      return { type, requestId, id, document, position }
    }
    case MessageType.StrictSynced: {
      const requestId = readUint(decoder, 'strictSynced.requestId')
      return { type, requestId, position: readPosition(decoder, 'strictSynced.position') }
    }
  }
}

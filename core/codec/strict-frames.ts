/**
 * The strict-mode frames (types 8–16: strict messages, writes and reads, watches) as extensions of the
 * base codec. Servers always use them (codec.ts); a client brings them with `meridian/client/strict`.
 */
import type * as decoding from 'lib0/decoding'
import type * as encoding from 'lib0/encoding'
import type { FrameCodec, FrameExtensions } from './base-codec.js'
import { MessageType, type Message } from './messages.js'
import { readStrictFrame, writeStrictFrame, type StrictFrame } from './strict-codec.js'
import { readStrictWatchFrame, writeStrictWatchFrame, type StrictWatchFrame } from './strict-watch-codec.js'

const strictFrame: FrameCodec = {
  write: (encoder: encoding.Encoder, msg: Message) => writeStrictFrame(encoder, msg as StrictFrame),
  read: (decoder: decoding.Decoder, type: MessageType) => readStrictFrame(decoder, type as StrictFrame['type']),
}

const strictWatchFrame: FrameCodec = {
  write: (encoder: encoding.Encoder, msg: Message) => writeStrictWatchFrame(encoder, msg as StrictWatchFrame),
  read: (decoder: decoding.Decoder, type: MessageType) => readStrictWatchFrame(decoder, type as StrictWatchFrame['type']),
}

export const STRICT_FRAMES: FrameExtensions = new Map<number, FrameCodec>([
  [MessageType.Strict, strictFrame],
  [MessageType.StrictWrite, strictFrame],
  [MessageType.StrictWriteResult, strictFrame],
  [MessageType.StrictRead, strictFrame],
  [MessageType.StrictReadResult, strictFrame],
  [MessageType.StrictSubscribe, strictWatchFrame],
  [MessageType.StrictUnsubscribe, strictWatchFrame],
  [MessageType.StrictChanged, strictWatchFrame],
  [MessageType.StrictSynced, strictWatchFrame],
])

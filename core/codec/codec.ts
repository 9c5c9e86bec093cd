/**
 * The full codec (docs/design.md §5): `encodeMessage` and `decodeMessage` over the whole `Message`
 * union of messages.ts, strict frames included — what servers and peers speak. Layouts: base-codec.ts
 * for the sync frames, strict-codec.ts and strict-watch-codec.ts for strict mode.
 */
import { decodeBaseMessage, encodeBaseMessage, type DecodeOptions } from './base-codec.js'
import type { Message } from './messages.js'
import { STRICT_FRAMES } from './strict-frames.js'

export {
  DEFAULT_MAX_FRAME_BYTES,
  peekHandshakeVersion,
  peekMessageType,
  readVersionVector,
  writeVersionVector,
  type DecodeOptions,
} from './base-codec.js'

/**
 * Encodes a message as one binary frame. A `ChangeBatch` is the concatenation of each change's
 * cached encoding [PF1]. Throws `RangeError` for a message that cannot be represented (unknown
 * type, out-of-range numbers, empty ids, lone surrogates, non-JSON or too deeply nested values in
 * strict documents): that is a bug in the caller.
 *
 * @example
 * ```ts
 * socket.send(encodeMessage({ type: MessageType.VersionVector, vector: log.vector() }))
 * ```
 */
export function encodeMessage(msg: Message): Uint8Array {
  return encodeBaseMessage(msg, STRICT_FRAMES)
}

/**
 * Decodes one frame. For any input whatsoever it returns a valid `Message` or throws
 * `DecodeError` (or `FrameTooLargeError` above `maxFrameBytes`) [PR1]: truncation, trailing
 * bytes, unknown types, out-of-range values and invalid UTF-8 are all `DecodeError`.
 *
 * Byte fields of the result (change payloads, and each change's cached encoding [PF1]) are views
 * into `bytes`, not copies: do not reuse or mutate `bytes` after decoding it.
 *
 * @example
 * ```ts
 * const msg = decodeMessage(frame, { maxFrameBytes: 1 << 20 })
 * if (msg.type === MessageType.ChangeBatch) for (const c of msg.changes) apply(c)
 * ```
 */
export function decodeMessage(bytes: Uint8Array, options: DecodeOptions = {}): Message {
  return decodeBaseMessage(bytes, options, STRICT_FRAMES)
}

/**
 * Frames of the sync protocol (docs/design.md §5) that every node and client speaks, with room for
 * extensions: the strict-mode frames (types 8–16) are encoded by `FrameExtensions` that the caller
 * passes. codec.ts composes the full codec (what servers use); a browser client that does not use strict
 * collections leaves the strict codecs out of its bundle (docs/client.md, Bundles).
 *
 * Frame layout: one type byte (`MessageType`), then the message's fields in order. Integers and
 * lengths are lib0 varUints, strings are varUint length + UTF-8, vectors are `writeVersionVector`
 * (count, then `origin seq` pairs sorted by origin, no zero seqs).
 *
 * ```
 * Handshake        1 protocolVersion:uint role:u8(0 client, 1 peer) identity:string region:string credentials:string
 * HandshakeAccept  2 protocolVersion:uint identity:string region:string
 * VersionVector    3 vector
 * ChangeBatch      4 count:uint (change:bytes)*count   -- each change is encodeChange(), length-prefixed
 * Ack              5 node:string durable:vector
 * Replicated       7 vector
 * Error            6 code:string message:string
 * Strict … StrictReadResult  8–12   -- strict mode: layouts in strict-codec.ts
 * StrictSubscribe … StrictSynced 13–16   -- strict watches: layouts in strict-watch-codec.ts
 * DocumentStates  17 transfer:uint count:uint (documentState)*count   -- layout in document-state.ts
 * StateCovered    18 transfer:uint documents:uint vector hlc authors   -- authors: author-records.ts
 * Subscribe … Skipped  19–21   -- partial replication: layouts in subscription-codec.ts
 * Ephemeral       22 topic:string collection:string docId:string payload:bytes   -- ephemeral-codec.ts
 * Rejected        23 seq collection docId code message vector state?   -- rejected-codec.ts
 * ```
 *
 * Both handshake frames start with `type protocolVersion` in every protocol version, so
 * `peekHandshakeVersion` can tell a version mismatch from a bad frame even when the rest of the
 * layout has changed.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readVersionVector, writeVersionVector } from '../clock/version-vector.js'
import type { Change, VersionVector } from '../types.js'
import { readAuthorRecords, readRefusalRecords, writeAuthorRecords, writeRefusalRecords } from './author-records.js'
import { encodeChange, readChange } from './change.js'
import { readDocumentState, readHlc, writeDocumentState, writeHlc } from './document-state.js'
import { DecodeError, FrameTooLargeError } from './errors.js'
import { readFetched, readSkipped, readSubscribe, writeFetched, writeSkipped, writeSubscribe } from './subscription-codec.js'
import { readEphemeral, writeEphemeral } from './ephemeral-codec.js'
import { readRejected, writeRejected } from './rejected-codec.js'
import { readVector, writeVector } from './vector-codec.js'
import { MessageType } from './messages.js'
import type { Message, Role } from './messages.js'
import {
  checkCount,
  checkString,
  invalid,
  readByte,
  readString,
  readUint,
  toDecodeError,
  writeString,
  writeUint,
} from './primitives.js'

export { readVersionVector, writeVersionVector } from '../clock/version-vector.js'

/** How an extension writes and reads the frames of its types (after the type byte, which the codec handles). */
export interface FrameCodec {
  write(encoder: encoding.Encoder, msg: Message): void
  read(decoder: decoding.Decoder, type: MessageType): Message
}

/** Extension frame codecs by message type; looked up only for types the base codec does not know. */
export type FrameExtensions = ReadonlyMap<number, FrameCodec>

/** No extensions: the base frames only. */
export const NO_FRAME_EXTENSIONS: FrameExtensions = new Map()

/** [PR2] Default limit for `decodeMessage`; transports should apply the same limit before buffering. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

export interface DecodeOptions {
  /** Frames longer than this throw `FrameTooLargeError` without being read. Default 16 MiB. */
  readonly maxFrameBytes?: number
}

const ROLE_CODE: Readonly<Record<Role, number>> = { client: 0, peer: 1 }
const ROLE_BY_CODE: readonly Role[] = ['client', 'peer']

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(MessageType))

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
export function encodeBaseMessage(msg: Message, extensions: FrameExtensions): Uint8Array {
  if (typeof msg !== 'object' || msg === null) invalid('message', msg)
  const encoder = encoding.createEncoder()
  switch (msg.type) {
    case MessageType.Handshake: {
      const role = Object.hasOwn(ROLE_CODE, msg.role) ? ROLE_CODE[msg.role] : undefined
      if (role === undefined) invalid('handshake.role', msg.role)
      encoding.writeUint8(encoder, msg.type)
      writeUint(encoder, 'handshake.protocolVersion', msg.protocolVersion)
      encoding.writeUint8(encoder, role)
      writeString(encoder, 'handshake.identity', msg.identity, true)
      writeString(encoder, 'handshake.region', msg.region, false)
      writeString(encoder, 'handshake.credentials', msg.credentials, false)
      break
    }
    case MessageType.HandshakeAccept:
      encoding.writeUint8(encoder, msg.type)
      writeUint(encoder, 'handshakeAccept.protocolVersion', msg.protocolVersion)
      writeString(encoder, 'handshakeAccept.identity', msg.identity, true)
      writeString(encoder, 'handshakeAccept.region', msg.region, false)
      break
    case MessageType.VersionVector:
      encoding.writeUint8(encoder, msg.type)
      writeVector(encoder, 'versionVector.vector', msg.vector)
      break
    case MessageType.ChangeBatch: {
      const changes = msg.changes
      if (!Array.isArray(changes)) invalid('changeBatch.changes', changes)
      encoding.writeUint8(encoder, msg.type)
      encoding.writeVarUint(encoder, changes.length)
      for (const change of changes) encoding.writeVarUint8Array(encoder, encodeChange(change))
      break
    }
    case MessageType.Ack:
      encoding.writeUint8(encoder, msg.type)
      writeString(encoder, 'ack.node', msg.node, true)
      writeVector(encoder, 'ack.durable', msg.durable)
      break
    case MessageType.Replicated:
      encoding.writeUint8(encoder, msg.type)
      writeVector(encoder, 'replicated.vector', msg.vector)
      break
    case MessageType.Error:
      encoding.writeUint8(encoder, msg.type)
      writeString(encoder, 'error.code', msg.code, true)
      writeString(encoder, 'error.message', msg.message, false)
      break
    case MessageType.DocumentStates: {
      const documents = msg.documents
      if (!Array.isArray(documents)) invalid('documentStates.documents', documents)
      encoding.writeUint8(encoder, msg.type)
      writeUint(encoder, 'documentStates.transfer', msg.transfer)
      encoding.writeVarUint(encoder, documents.length)
      for (const document of documents) writeDocumentState(encoder, document)
      break
    }
    case MessageType.StateCovered:
      encoding.writeUint8(encoder, msg.type)
      writeUint(encoder, 'stateCovered.transfer', msg.transfer)
      writeUint(encoder, 'stateCovered.documents', msg.documents)
      writeVector(encoder, 'stateCovered.vector', msg.vector)
      writeHlc(encoder, 'stateCovered.hlc', msg.hlc)
      writeAuthorRecords(encoder, msg.authors)
      writeRefusalRecords(encoder, msg.refusals)
      break
    case MessageType.Subscribe:
      writeSubscribe(encoder, msg)
      break
    case MessageType.Fetched:
      writeFetched(encoder, msg)
      break
    case MessageType.Skipped:
      writeSkipped(encoder, msg)
      break
    case MessageType.Ephemeral:
      writeEphemeral(encoder, msg)
      break
    case MessageType.Rejected:
      writeRejected(encoder, msg)
      break
    default: {
      const type = (msg as { type: unknown }).type
      const extension = typeof type === 'number' ? extensions.get(type) : undefined
      if (extension === undefined) invalid('message type', type)
      encoding.writeUint8(encoder, type as number)
      extension.write(encoder, msg)
    }
  }
  return encoding.toUint8Array(encoder)
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
export function decodeBaseMessage(bytes: Uint8Array, options: DecodeOptions, extensions: FrameExtensions): Message {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (!(maxFrameBytes >= 0)) throw new RangeError(`decodeMessage: maxFrameBytes must be >= 0, got ${maxFrameBytes}`)
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('frame is not a Uint8Array')
  if (bytes.length > maxFrameBytes) throw new FrameTooLargeError(bytes.length, maxFrameBytes)
  const decoder = decoding.createDecoder(bytes)
  let msg: Message
  try {
    msg = readMessage(decoder, extensions)
  } catch (err) {
    throw toDecodeError(err)
  }
  if (decoder.pos !== bytes.length) {
    throw new DecodeError(`${bytes.length - decoder.pos} trailing bytes after message type ${msg.type}`)
  }
  return msg
}

function readMessage(decoder: decoding.Decoder, extensions: FrameExtensions): Message {
  const type = readByte(decoder, 'message type')
  switch (type) {
    case MessageType.Handshake: {
      const protocolVersion = readUint(decoder, 'handshake.protocolVersion')
      const roleCode = readByte(decoder, 'handshake.role')
      const role = ROLE_BY_CODE[roleCode]
      if (role === undefined) throw new DecodeError(`unknown role ${roleCode}`)
      const identity = readString(decoder, 'handshake.identity', true)
      const region = readString(decoder, 'handshake.region', false)
      const credentials = readString(decoder, 'handshake.credentials', false)
      return { type, protocolVersion, role, identity, region, credentials }
    }
    case MessageType.HandshakeAccept: {
      const protocolVersion = readUint(decoder, 'handshakeAccept.protocolVersion')
      const identity = readString(decoder, 'handshakeAccept.identity', true)
      const region = readString(decoder, 'handshakeAccept.region', false)
      return { type, protocolVersion, identity, region }
    }
    case MessageType.VersionVector:
      return { type, vector: readVector(decoder, 'versionVector.vector') }
    case MessageType.ChangeBatch: {
      const count = readUint(decoder, 'changeBatch count')
      // A change takes well over one byte, its length prefix included; one byte each is a safe floor.
      checkCount(decoder, 'changeBatch', count, 1)
      const changes: Change[] = []
      for (let i = 0; i < count; i++) {
        // Each change is read from its own length-prefixed slice, so readChange registers exactly
        // those bytes as the change's encoding and a re-sent batch is a concatenation [PF1].
        const slice = decoding.readVarUint8Array(decoder)
        const inner = decoding.createDecoder(slice)
        changes.push(readChange(inner))
        if (inner.pos !== slice.length) throw new DecodeError(`trailing bytes inside change ${i}`)
      }
      return { type, changes }
    }
    case MessageType.Ack: {
      const node = readString(decoder, 'ack.node', true)
      return { type, node, durable: readVector(decoder, 'ack.durable') }
    }
    case MessageType.Replicated:
      return { type, vector: readVector(decoder, 'replicated.vector') }
    case MessageType.Error: {
      const code = readString(decoder, 'error.code', true)
      const message = readString(decoder, 'error.message', false)
      return { type, code, message }
    }
    case MessageType.DocumentStates: {
      const transfer = readUint(decoder, 'documentStates.transfer')
      const count = readUint(decoder, 'documentStates count')
      // collection, docId, type and state length: four bytes at least.
      checkCount(decoder, 'documentStates', count, 4)
      const documents = []
      for (let i = 0; i < count; i++) documents.push(readDocumentState(decoder))
      return { type, transfer, documents }
    }
    case MessageType.StateCovered: {
      const transfer = readUint(decoder, 'stateCovered.transfer')
      const documents = readUint(decoder, 'stateCovered.documents')
      const vector = readVector(decoder, 'stateCovered.vector')
      const hlc = readHlc(decoder, 'stateCovered.hlc')
      const authors = readAuthorRecords(decoder)
      return { type, transfer, documents, vector, hlc, authors, refusals: readRefusalRecords(decoder) }
    }
    case MessageType.Subscribe:
      return readSubscribe(decoder)
    case MessageType.Fetched:
      return readFetched(decoder)
    case MessageType.Skipped:
      return readSkipped(decoder)
    case MessageType.Ephemeral:
      return readEphemeral(decoder)
    case MessageType.Rejected:
      return readRejected(decoder)
    default: {
      const extension = extensions.get(type)
      if (extension === undefined) throw new DecodeError(`unknown message type ${type}`)
      return extension.read(decoder, type as MessageType)
    }
  }
}



/**
 * The message type of a frame without decoding it, e.g. to route or count frames; undefined when
 * the first byte is not a known type (or the frame is empty).
 */
export function peekMessageType(bytes: Uint8Array): MessageType | undefined {
  const first = bytes[0]
  return first !== undefined && KNOWN_TYPES.has(first) ? (first as MessageType) : undefined
}

/**
 * The protocol version of a `Handshake` or `HandshakeAccept` frame, read from the part of the
 * layout that never changes; undefined for any other frame. Check it before `decodeMessage` so a
 * peer of another version is closed with `VERSION_MISMATCH` rather than `BAD_FRAME`.
 *
 * @example
 * ```ts
 * const version = peekHandshakeVersion(frame)
 * if (version !== undefined && version !== PROTOCOL_VERSION) socket.close(CloseCode.VERSION_MISMATCH, closeReason(CloseCode.VERSION_MISMATCH))
 * ```
 */
export function peekHandshakeVersion(bytes: Uint8Array): number | undefined {
  const type = peekMessageType(bytes)
  if (type !== MessageType.Handshake && type !== MessageType.HandshakeAccept) return undefined
  try {
    const decoder = decoding.createDecoder(bytes)
    decoding.readUint8(decoder)
    return readUint(decoder, 'protocolVersion')
  } catch {
    return undefined
  }
}

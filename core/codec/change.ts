/**
 * The binary form of one crdt `Change`, and the encode-once cache behind [PF1].
 *
 * Layout (all lengths and integers lib0 varUint, strings varUint length + UTF-8):
 *
 * ```
 * origin:string  seq:uint>=1  hlc.wallMs:uint  hlc.counter:uint  hlc.node:string
 * collection:string  docId:string  docType:u8 (0 lww, 1 yjs, 2 automerge; +128 when an author
 * follows)  [author.origin:string  author.seq:uint>=1]  payload:bytes
 * ```
 *
 * origin, hlc.node, collection and docId are non-empty. The same rules hold on both sides:
 * encoding refuses what decoding would reject, so whatever encodes also decodes to an equal value.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { Change, ChangeId, DocType, Hlc } from '../types.js'
import { DecodeError } from './errors.js'
import {
  invalid,
  readByte,
  readBytes,
  readString,
  readUint,
  toDecodeError,
  writeBytes,
  writeString,
  writeUint,
} from './primitives.js'

/** Wire numbers of document types; part of the format, never renumber. */
/** Wire numbers of the document types; part of the format. */
export const DOC_TYPE_CODE: Readonly<Record<DocType, number>> = { lww: 0, yjs: 1, automerge: 2 }
export const DOC_TYPE_BY_CODE: readonly DocType[] = ['lww', 'yjs', 'automerge']
/** Set in the docType byte when the change names an author (a change of older versions never does). */
const AUTHOR_FLAG = 0x80

/**
 * [PF1] Every change is encoded at most once per process. A decoded change is a `DecodedChange`
 * that holds the exact bytes it was read from, so a change received from one peer (or read back
 * from storage) goes to every subscriber and peer as the same buffer. Any other Change object
 * (e.g. a local commit) has its encoding remembered here on first use, keyed by the object:
 * a WeakMap, so the cache never outlives the changes themselves.
 */
const encodedChanges = new WeakMap<Change, Uint8Array>()

/**
 * A change produced by the decoder. Its own enumerable properties are exactly a `Change`'s (so it
 * compares, spreads and serialises like a plain one); the bytes it was decoded from live in a
 * private field, which costs one slot instead of a WeakMap entry per change (the recovery path
 * holds millions of them).
 */
class DecodedChange implements Change {
  readonly origin: string
  readonly seq: number
  readonly hlc: Hlc
  readonly collection: string
  readonly docId: string
  readonly docType: DocType
  readonly payload: Uint8Array
  // Declared, not defined: a change without an author has no `author` key at all, like a plain one.
  declare readonly author?: ChangeId
  readonly #bytes: Uint8Array

  constructor(
    origin: string,
    seq: number,
    hlc: Hlc,
    collection: string,
    docId: string,
    docType: DocType,
    payload: Uint8Array,
    author: ChangeId | undefined,
    bytes: Uint8Array,
  ) {
    this.origin = origin
    this.seq = seq
    this.hlc = hlc
    this.collection = collection
    this.docId = docId
    this.docType = docType
    this.payload = payload
    if (author !== undefined) (this as { author?: ChangeId }).author = author
    this.#bytes = bytes
  }

  static bytesOf(change: Change): Uint8Array | undefined {
    return change instanceof DecodedChange ? change.#bytes : undefined
  }
}

function writeChangeFields(encoder: encoding.Encoder, change: Change): void {
  if (typeof change !== 'object' || change === null) invalid('change', change)
  const hlc = change.hlc
  if (typeof hlc !== 'object' || hlc === null) invalid('change.hlc', hlc)
  const docTypeCode = Object.hasOwn(DOC_TYPE_CODE, change.docType) ? DOC_TYPE_CODE[change.docType] : undefined
  if (docTypeCode === undefined) invalid('change.docType', change.docType)
  writeString(encoder, 'change.origin', change.origin, true)
  writeUint(encoder, 'change.seq', change.seq, 1)
  writeUint(encoder, 'change.hlc.wallMs', hlc.wallMs)
  writeUint(encoder, 'change.hlc.counter', hlc.counter)
  writeString(encoder, 'change.hlc.node', hlc.node, true)
  writeString(encoder, 'change.collection', change.collection, true)
  writeString(encoder, 'change.docId', change.docId, true)
  const author = change.author
  if (author === undefined) {
    encoding.writeUint8(encoder, docTypeCode)
  } else {
    if (typeof author !== 'object' || author === null) invalid('change.author', author)
    encoding.writeUint8(encoder, docTypeCode | AUTHOR_FLAG)
    writeString(encoder, 'change.author.origin', author.origin, true)
    writeUint(encoder, 'change.author.seq', author.seq, 1)
  }
  writeBytes(encoder, 'change.payload', change.payload)
}

/**
 * The encoding of `change`, computed on first use and then returned as the very same buffer
 * [PF1]. Treat the result as immutable: it is shared with every other caller, and a Change must
 * not be mutated once encoded. Throws `RangeError` for a change that cannot be represented
 * (seq < 1, empty ids, unknown docType, unsafe integers, lone surrogates).
 *
 * @example
 * ```ts
 * const bytes = encodeChange(change)
 * encodeChange(change) === bytes // true
 * ```
 */
export function encodeChange(change: Change): Uint8Array {
  const cached = DecodedChange.bytesOf(change) ?? encodedChanges.get(change)
  if (cached !== undefined) return cached
  const encoder = encoding.createEncoder()
  writeChangeFields(encoder, change)
  const bytes = encoding.toUint8Array(encoder)
  encodedChanges.set(change, bytes)
  return bytes
}

/**
 * `source` (a client's own change) logged as `(origin, seq)` with the client as author: the change a
 * member logs for a client (docs/design.md §3, "Authors"). When `source` came from the decoder, its
 * encoding is spliced from the client's bytes instead of encoded again [PF1]: the author fields are
 * exactly the client's leading `origin, seq`, and everything else but the docType byte is copied.
 * The result is the same bytes `encodeChange` would produce (a property test checks it).
 */
export function authoredChange(source: Change, origin: string, seq: number): Change {
  const author: ChangeId = { origin: source.origin, seq: source.seq }
  const fields = { collection: source.collection, docId: source.docId, docType: source.docType }
  const sourceBytes = DecodedChange.bytesOf(source)
  if (sourceBytes === undefined || source.author !== undefined) {
    return { origin, seq, hlc: source.hlc, ...fields, payload: source.payload, author }
  }
  // Offsets in the client's bytes: the end of `origin, seq` and the docType byte (strings skipped, not decoded).
  const decoder = decoding.createDecoder(sourceBytes)
  skipString(decoder)
  decoding.readVarUint(decoder)
  const idEnd = decoder.pos
  decoding.readVarUint(decoder)
  decoding.readVarUint(decoder)
  for (let k = 0; k < 3; k++) skipString(decoder)
  const typeAt = decoder.pos
  const originBytes = encodedOrigin(origin)
  if (!Number.isSafeInteger(seq) || seq < 1) invalid('change.seq', seq)
  const bytes = new Uint8Array(originBytes.length + varUintLength(seq) + sourceBytes.length)
  bytes.set(originBytes, 0)
  let at = writeVarUintAt(bytes, originBytes.length, seq)
  const put = (part: Uint8Array): void => {
    bytes.set(part, at)
    at += part.length
  }
  put(sourceBytes.subarray(idEnd, typeAt))
  bytes[at++] = (sourceBytes[typeAt] as number) | AUTHOR_FLAG
  put(sourceBytes.subarray(0, idEnd))
  put(sourceBytes.subarray(typeAt + 1))
  const payload = bytes.subarray(bytes.length - source.payload.length)
  return new DecodedChange(origin, seq, source.hlc, fields.collection, fields.docId, fields.docType, payload, author, bytes)
}

function skipString(decoder: decoding.Decoder): void {
  const length = decoding.readVarUint(decoder)
  decoder.pos += length
}

/** The encoded `origin` string of the last `authoredChange` (a member logs under one origin). */
let lastOrigin: { readonly origin: string; readonly bytes: Uint8Array } | null = null
function encodedOrigin(origin: string): Uint8Array {
  if (lastOrigin?.origin !== origin) {
    const encoder = encoding.createEncoder()
    writeString(encoder, 'change.origin', origin, true)
    lastOrigin = { origin, bytes: encoding.toUint8Array(encoder) }
  }
  return lastOrigin.bytes
}

function varUintLength(value: number): number {
  let length = 1
  for (let rest = value; rest > 0x7f; rest = Math.floor(rest / 128)) length += 1
  return length
}

/** lib0's varUint (7 bits per byte, low first) written at `at`; returns the offset after it. */
function writeVarUintAt(bytes: Uint8Array, at: number, value: number): number {
  let rest = value
  while (rest > 0x7f) {
    bytes[at++] = 0x80 | (rest % 128)
    rest = Math.floor(rest / 128)
  }
  bytes[at++] = rest
  return at
}

/** Appends `change` (no length prefix) to `encoder`, copying its cached encoding when it has one. */
export function writeChange(encoder: encoding.Encoder, change: Change): void {
  encoding.writeUint8Array(encoder, encodeChange(change))
}

/**
 * Reads one change written by `writeChange`, validating every field, and registers the exact
 * bytes it was read from as the change's encoding [PF1] (a view into the decoder's input: do not
 * mutate that input afterwards). Throws `DecodeError` for any malformed or truncated input.
 */
export function readChange(decoder: decoding.Decoder): Change {
  return readChangeAt(decoder, null)
}

/**
 * Reads one change; its encoding is `whole` when given (the caller checks that the change spans
 * all of it), else the view of the bytes it was read from.
 */
function readChangeAt(decoder: decoding.Decoder, whole: Uint8Array | null): Change {
  const start = decoder.pos
  try {
    const origin = readString(decoder, 'change.origin', true)
    const seq = readUint(decoder, 'change.seq', 1)
    const wallMs = readUint(decoder, 'change.hlc.wallMs')
    const counter = readUint(decoder, 'change.hlc.counter')
    const node = readString(decoder, 'change.hlc.node', true)
    const collection = readString(decoder, 'change.collection', true)
    const docId = readString(decoder, 'change.docId', true)
    const typeByte = readByte(decoder, 'change.docType')
    const docType = DOC_TYPE_BY_CODE[typeByte & ~AUTHOR_FLAG]
    if (docType === undefined) throw new DecodeError(`unknown docType ${typeByte}`)
    let author: ChangeId | undefined
    if ((typeByte & AUTHOR_FLAG) !== 0) {
      author = { origin: readString(decoder, 'change.author.origin', true), seq: readUint(decoder, 'change.author.seq', 1) }
    }
    const payload = readBytes(decoder)
    const bytes = whole ?? decoder.arr.subarray(start, decoder.pos)
    return new DecodedChange(origin, seq, { wallMs, counter, node }, collection, docId, docType, payload, author, bytes)
  } catch (err) {
    throw toDecodeError(err)
  }
}

/**
 * The `(origin, seq)` at the start of an encoded change, without reading or checking the rest: lets
 * recovery skip stored changes that document states already cover at a fraction of a decode.
 * Throws `DecodeError` when even those two fields cannot be read.
 */
export function peekChangeId(bytes: Uint8Array): ChangeId {
  const decoder = decoding.createDecoder(bytes)
  try {
    const origin = readString(decoder, 'change.origin', true)
    return { origin, seq: readUint(decoder, 'change.seq', 1) }
  } catch (err) {
    throw toDecodeError(err)
  }
}

/**
 * Decodes bytes produced by `encodeChange` (e.g. read back from storage). The whole input must be
 * one change. The result's encoding is `bytes` itself, so forwarding it costs no re-encode [PF1].
 */
export function decodeChange(bytes: Uint8Array): Change {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('change is not a Uint8Array')
  const decoder = decoding.createDecoder(bytes)
  const change = readChangeAt(decoder, bytes)
  if (decoder.pos !== bytes.length) {
    throw new DecodeError(`${bytes.length - decoder.pos} trailing bytes after change`)
  }
  return change
}

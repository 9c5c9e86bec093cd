/**
 * Documents as merged state (docs/design.md §6): the `DocumentStates` frame of a state transfer and
 * the record a node stores per document.
 *
 * ```
 * DocumentState   collection:string docId:string docType:u8 state:bytes
 * StoredDocument  version:u8(1) DocumentState ownSeq:uint ownHlc:hlc? remoteHlc:hlc?
 * hlc             present:u8 (wallMs:uint counter:uint node:string)?
 * ```
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { DocumentState, Hlc } from '../types.js'
import { DOC_TYPE_BY_CODE, DOC_TYPE_CODE } from './change.js'
import { DecodeError } from './errors.js'
import { readByte, readBytes, readNullable, readString, readUint, toDecodeError, writeBytes, writeNullable, writeString, writeUint } from './primitives.js'

const STORED_DOCUMENT_VERSION = 1

export function writeDocumentState(encoder: encoding.Encoder, document: DocumentState): void {
  const code = Object.hasOwn(DOC_TYPE_CODE, document.docType) ? DOC_TYPE_CODE[document.docType] : undefined
  if (code === undefined) throw new RangeError(`documentState.docType: ${String(document.docType)}`)
  writeString(encoder, 'documentState.collection', document.collection, true)
  writeString(encoder, 'documentState.docId', document.docId, true)
  encoding.writeUint8(encoder, code)
  writeBytes(encoder, 'documentState.state', document.state)
}

export function readDocumentState(decoder: decoding.Decoder): DocumentState {
  const collection = readString(decoder, 'documentState.collection', true)
  const docId = readString(decoder, 'documentState.docId', true)
  const code = readByte(decoder, 'documentState.docType')
  const docType = DOC_TYPE_BY_CODE[code]
  if (docType === undefined) throw new DecodeError(`unknown docType ${code}`)
  return { collection, docId, docType, state: readBytes(decoder) }
}

export function writeHlc(encoder: encoding.Encoder, what: string, hlc: Hlc): void {
  writeUint(encoder, `${what}.wallMs`, hlc.wallMs)
  writeUint(encoder, `${what}.counter`, hlc.counter)
  writeString(encoder, `${what}.node`, hlc.node, true)
}

export function readHlc(decoder: decoding.Decoder, what: string): Hlc {
  const wallMs = readUint(decoder, `${what}.wallMs`)
  const counter = readUint(decoder, `${what}.counter`)
  const node = readString(decoder, `${what}.node`, true)
  return { wallMs, counter, node }
}

/**
 * A document as a node stores it: its state, plus what recovery needs even if nothing else of the
 * same snapshot round reached the disk — the newest own change in it (so a restarted writer never
 * reuses that seq [CV4]) and the newest timestamps it holds (so the clock restarts past them [HLC1]).
 */
export interface StoredDocumentState {
  readonly document: DocumentState
  readonly ownSeq: number
  readonly ownHlc: Hlc | null
  readonly remoteHlc: Hlc | null
}

export function encodeStoredDocumentState(stored: StoredDocumentState): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, STORED_DOCUMENT_VERSION)
  writeDocumentState(encoder, stored.document)
  writeUint(encoder, 'storedDocument.ownSeq', stored.ownSeq)
  writeNullable(encoder, 'storedDocument.ownHlc', stored.ownHlc, (hlc) => writeHlc(encoder, 'storedDocument.ownHlc', hlc))
  writeNullable(encoder, 'storedDocument.remoteHlc', stored.remoteHlc, (hlc) => writeHlc(encoder, 'storedDocument.remoteHlc', hlc))
  return encoding.toUint8Array(encoder)
}

/** Throws DecodeError for bytes that are not a stored document of this version. */
export function decodeStoredDocumentState(bytes: Uint8Array): StoredDocumentState {
  const decoder = decoding.createDecoder(bytes)
  try {
    const version = readByte(decoder, 'storedDocument.version')
    if (version !== STORED_DOCUMENT_VERSION) throw new DecodeError(`stored document version ${version} is not ${STORED_DOCUMENT_VERSION}`)
    const document = readDocumentState(decoder)
    const ownSeq = readUint(decoder, 'storedDocument.ownSeq')
    const ownHlc = readNullable(decoder, 'storedDocument.ownHlc', () => readHlc(decoder, 'storedDocument.ownHlc'))
    const remoteHlc = readNullable(decoder, 'storedDocument.remoteHlc', () => readHlc(decoder, 'storedDocument.remoteHlc'))
    if (decoder.pos !== bytes.length) throw new DecodeError(`${bytes.length - decoder.pos} trailing bytes after stored document`)
    return { document, ownSeq, ownHlc, remoteHlc }
  } catch (err) {
    throw toDecodeError(err)
  }
}

/**
 * Frames of partial replication (docs/protocol.md, "Partial replication"):
 *
 * ```
 * Subscribe  19 id:uint collections:strings documents:refs fetchCollections:strings fetchDocuments:refs
 * Fetched    20 fetch:uint transfer:uint documents:uint hlc
 * Skipped    21 count:uint (origin:string from:uint>=1 to:uint>=from)* hlc
 * strings    count:uint (string)*          refs   count:uint (collection:string docId:string)*
 * ```
 */
import type * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readHlc, writeHlc } from './document-state.js'
import { DecodeError } from './errors.js'
import { MessageType, type DocumentRef, type FetchedMessage, type SkippedMessage, type SkippedRange, type SubscribeMessage } from './messages.js'
import { checkCount, invalid, readString, readUint, writeString, writeUint } from './primitives.js'

function writeStrings(encoder: encoding.Encoder, what: string, strings: readonly string[]): void {
  if (!Array.isArray(strings)) invalid(what, strings)
  encoding.writeVarUint(encoder, strings.length)
  for (const s of strings) writeString(encoder, what, s, true)
}

function readStrings(decoder: decoding.Decoder, what: string): string[] {
  const count = readUint(decoder, `${what} count`)
  checkCount(decoder, what, count, 2)
  return Array.from({ length: count }, () => readString(decoder, what, true))
}

function writeRefs(encoder: encoding.Encoder, what: string, refs: readonly DocumentRef[]): void {
  if (!Array.isArray(refs)) invalid(what, refs)
  encoding.writeVarUint(encoder, refs.length)
  for (const ref of refs) {
    writeString(encoder, `${what}.collection`, ref.collection, true)
    writeString(encoder, `${what}.docId`, ref.docId, true)
  }
}

function readRefs(decoder: decoding.Decoder, what: string): DocumentRef[] {
  const count = readUint(decoder, `${what} count`)
  checkCount(decoder, what, count, 4)
  return Array.from({ length: count }, () => ({ collection: readString(decoder, `${what}.collection`, true), docId: readString(decoder, `${what}.docId`, true) }))
}

export function writeSubscribe(encoder: encoding.Encoder, msg: SubscribeMessage): void {
  encoding.writeUint8(encoder, msg.type)
  writeUint(encoder, 'subscribe.id', msg.id)
  writeStrings(encoder, 'subscribe.collections', msg.collections)
  writeRefs(encoder, 'subscribe.documents', msg.documents)
  writeStrings(encoder, 'subscribe.fetchCollections', msg.fetchCollections)
  writeRefs(encoder, 'subscribe.fetchDocuments', msg.fetchDocuments)
}

export function readSubscribe(decoder: decoding.Decoder): SubscribeMessage {
  const id = readUint(decoder, 'subscribe.id')
  const collections = readStrings(decoder, 'subscribe.collections')
  const documents = readRefs(decoder, 'subscribe.documents')
  const fetchCollections = readStrings(decoder, 'subscribe.fetchCollections')
  const fetchDocuments = readRefs(decoder, 'subscribe.fetchDocuments')
  return { type: MessageType.Subscribe, id, collections, documents, fetchCollections, fetchDocuments }
}

export function writeFetched(encoder: encoding.Encoder, msg: FetchedMessage): void {
  encoding.writeUint8(encoder, msg.type)
  writeUint(encoder, 'fetched.fetch', msg.fetch)
  writeUint(encoder, 'fetched.transfer', msg.transfer)
  writeUint(encoder, 'fetched.documents', msg.documents)
  writeHlc(encoder, 'fetched.hlc', msg.hlc)
}

export function readFetched(decoder: decoding.Decoder): FetchedMessage {
  const fetch = readUint(decoder, 'fetched.fetch')
  const transfer = readUint(decoder, 'fetched.transfer')
  const documents = readUint(decoder, 'fetched.documents')
  return { type: MessageType.Fetched, fetch, transfer, documents, hlc: readHlc(decoder, 'fetched.hlc') }
}

export function writeSkipped(encoder: encoding.Encoder, msg: SkippedMessage): void {
  if (!Array.isArray(msg.ranges)) invalid('skipped.ranges', msg.ranges)
  encoding.writeUint8(encoder, msg.type)
  encoding.writeVarUint(encoder, msg.ranges.length)
  for (const range of msg.ranges) {
    writeString(encoder, 'skipped.origin', range.origin, true)
    writeUint(encoder, 'skipped.from', range.from, 1)
    writeUint(encoder, 'skipped.to', range.to, range.from)
  }
  writeHlc(encoder, 'skipped.hlc', msg.hlc)
}

export function readSkipped(decoder: decoding.Decoder): SkippedMessage {
  const count = readUint(decoder, 'skipped count')
  checkCount(decoder, 'skipped', count, 4)
  const ranges: SkippedRange[] = []
  for (let i = 0; i < count; i++) {
    const origin = readString(decoder, 'skipped.origin', true)
    const from = readUint(decoder, 'skipped.from', 1)
    const to = readUint(decoder, 'skipped.to')
    if (to < from) throw new DecodeError(`skipped range ${origin} ${from}..${to} is empty`)
    ranges.push({ origin, from, to })
  }
  return { type: MessageType.Skipped, ranges, hlc: readHlc(decoder, 'skipped.hlc') }
}

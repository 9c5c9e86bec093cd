/**
 * Document packs of the IndexedDB store (docs/client.md, "Cold start"): many stored documents in one
 * IndexedDB record. Reading 10,000 small records costs IndexedDB ~10,000 value deserialisations (about
 * 190 ms in Chromium on the reference machine), one record of the same bytes about 25 ms. The store
 * saves changed documents as records of their own, as they change, and folds them into the pack when
 * it opens, so that a reload reads one pack and a session's worth of records.
 *
 * ```
 * pack     varUint version (1), varUint count, then per document: varUint8Array key, varUint8Array record
 * ```
 * where `record` is the document's `encodeStoredDocumentState` bytes, exactly as the store saves it on
 * its own, and `key` its `documentKey` as UTF-8.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readVarStringFast } from '../core/codec/short-string.js'

const PACK_VERSION = 1

/** Encodes `documents` (document key → record bytes) as one pack. */
export function encodePack(documents: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, PACK_VERSION)
  encoding.writeVarUint(encoder, documents.size)
  for (const [key, record] of documents) {
    encoding.writeVarString(encoder, key)
    encoding.writeVarUint8Array(encoder, record)
  }
  return encoding.toUint8Array(encoder)
}

/** Reads a pack into `into` (key → record bytes, views into `bytes`). Throws on anything malformed. */
export function decodePack(bytes: Uint8Array, into: Map<string, Uint8Array>): void {
  const decoder = decoding.createDecoder(bytes)
  const version = decoding.readVarUint(decoder)
  if (version !== PACK_VERSION) throw new Error(`document pack version ${version} is not ${PACK_VERSION}`)
  const count = decoding.readVarUint(decoder)
  if (count > bytes.length) throw new Error(`document pack: ${count} documents cannot fit in ${bytes.length} bytes`)
  for (let i = 0; i < count; i++) {
    const key = readVarStringFast(decoder)
    into.set(key, decoding.readVarUint8Array(decoder))
  }
  if (decoding.hasContent(decoder)) throw new Error('document pack: bytes after the last document')
}

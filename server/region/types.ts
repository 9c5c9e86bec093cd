import * as decoding from 'lib0/decoding'
import type { Principal } from '../auth/principal.js'
import { encodeVersionVector, readVersionVector } from '../../core/clock/version-vector.js'
import type { CloseCode } from '../../core/codec/index.js'
import type { VersionVector } from '../../core/types.js'

/** The `w` of a crdt REST write (docs/server.md); strict collections have their own (`core/strict` `WriteConcern`). */
export type CrdtRestConcern = 'local' | 'all'
/** `indeterminate`: the acknowledgement timed out; the write may or may not survive. Never "failed". */
export type AckLevel = 'local' | 'all' | 'indeterminate'
/** The verb of a crdt REST write; strict writes use `core/strict` `WriteOp`. */
export type CrdtRestOp = 'put' | 'patch' | 'delete'

export type WriteErrorCode =
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'UNKNOWN_COLLECTION'
  | 'UNSUPPORTED_FOR_TYPE'
  | 'UNAVAILABLE'
  /** A read's `after` token is not yet held here within its `timeoutMs`. */
  | 'NOT_YET'
  /** The write would grow its document past `limits.maxDocumentBytes`. */
  | 'TOO_LARGE'

/** A refused read or write; `code` is stable (docs/server.md, REST errors). */
export class WriteError extends Error {
  override readonly name = 'WriteError'
  constructor(
    readonly code: WriteErrorCode,
    message: string,
  ) {
    super(message)
  }
}

export interface DocumentResult {
  readonly collection: string
  readonly id: string
  readonly doc: unknown
  readonly token: string
}

/** A REST write's answer: PUT and DELETE carry `doc`, PATCH carries `fields` instead. */
export interface WriteResult {
  readonly collection: string
  readonly id: string
  /** PUT and DELETE: the document after the write (null after a delete). */
  readonly doc?: unknown
  /** PATCH: each field the patch named as it is after the write, null when deleted (see `patchedFields`). */
  readonly fields?: Readonly<Record<string, unknown>>
  readonly token: string
  readonly ack: AckLevel
}

/** What a link (peer or client session) offers the node: a way to send frames and to end it. */
export interface LinkTransport {
  /** `paced`: the frame comes through flow control (link-flow.ts), which bounds the buffer itself. */
  send(bytes: Uint8Array, paced?: boolean): void
  close(code: CloseCode, message: string): void
  /** Bytes handed to the socket and not yet written to the network. */
  readonly bufferedAmount: number
  /** A client's principal (docs/security.md); absent or null for peers and in tests. */
  readonly principal?: Principal | null
}

export interface Lag {
  readonly entries: number
  readonly bytes: number
  /** Age of the oldest unacknowledged change by its HLC wall time; null without lag. */
  readonly ms: number | null
}

export interface LinkCounters {
  sentChanges: number
  receivedChanges: number
}

/** base64url of `encodeVersionVector(vector)`: the crdt token of docs/server.md. */
export function vectorToken(vector: VersionVector): string {
  return Buffer.from(encodeVersionVector(vector)).toString('base64url')
}

/** The vector of a crdt token (`vectorToken`); null when `token` is not one. */
export function parseVectorToken(token: string): VersionVector | null {
  if (!/^[A-Za-z0-9_-]*$/.test(token) || token.length > MAX_TOKEN_LENGTH) return null
  const bytes = Buffer.from(token, 'base64url')
  try {
    const decoder = decoding.createDecoder(bytes)
    const vector = readVersionVector(decoder)
    return decoder.pos === bytes.length ? vector : null // nothing after the vector
  } catch {
    return null
  }
}

/** A token names one seq per region: a few hundred characters at most for any real cluster. */
const MAX_TOKEN_LENGTH = 8192

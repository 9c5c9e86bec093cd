import type { CloseCodeName } from '../core/codec/close-codes.js'
import type { Forbidden, StrictReadErrorCode, Unavailable } from '../core/strict/requests.js'
import type { Precondition, WriteOp, WriteRejection } from '../core/strict/types.js'

/**
 * The client was closed before this could happen: a write handle's `durable` / `replicated` promise
 * that was still pending, or a write attempted after `close()`.
 */
export class ClientClosedError extends Error {
  readonly code = 'CLIENT_CLOSED' as const

  constructor(message = 'the Meridian client was closed') {
    super(message)
    this.name = 'ClientClosedError'
  }
}

/**
 * A region refused one of this client's crdt writes (docs/security.md, "Refused writes"): the write
 * handle's `durable` and `replicated` reject with it, `client.onWriteRejected` hears it, and the
 * client's copy of the document is back at the region's state (plus this client's later writes).
 * - `FORBIDDEN`: the principal may not write this document.
 * - `INVALID_VALUE`: a value the region does not store (a region with tighter value limits).
 * - `TOO_LARGE`: the document would grow past the region's `limits.maxDocumentBytes`.
 * - `REFUSED`: the first answer was lost with its connection, and the region that told the client again
 *   no longer knows which reason it was.
 * Nothing of the write was applied anywhere; retrying the same write gets the same answer.
 */
export class WriteRejectedError extends Error {
  readonly code: WriteRejectedCode
  readonly collection: string
  readonly docId: string
  /** The write's seq in this client's log (`WriteHandle.seq`). */
  readonly seq: number
  /** What the region said. */
  readonly serverMessage: string

  constructor(init: { code: string; collection: string; docId: string; seq: number; serverMessage: string }) {
    super(`write ${init.seq} to ${init.collection}/${init.docId} refused ${init.code}: ${init.serverMessage}`)
    this.name = 'WriteRejectedError'
    this.code = (WRITE_REJECTED_CODES as readonly string[]).includes(init.code) ? (init.code as WriteRejectedCode) : 'REFUSED'
    this.collection = init.collection
    this.docId = init.docId
    this.seq = init.seq
    this.serverMessage = init.serverMessage
  }
}

const WRITE_REJECTED_CODES = ['FORBIDDEN', 'INVALID_VALUE', 'TOO_LARGE', 'REFUSED'] as const
export type WriteRejectedCode = (typeof WRITE_REJECTED_CODES)[number]

/**
 * Why a connection attempt or a session ended. `code` is the close-code name when the server closed
 * with one of Meridian's codes (`UNAUTHORIZED`, `OVERLOADED` …, see core/codec/close-codes.ts), or
 * `NETWORK` (socket closed or never opened, no Meridian code), `HANDSHAKE_TIMEOUT`, `BAD_FRAME`
 * (the server sent something we could not decode).
 *
 * `fatal` errors (`UNAUTHORIZED`, `FORBIDDEN`, `VERSION_MISMATCH`, and `TOKEN_EXPIRED` unless the
 * client has `getToken`) stop reconnecting: retrying blindly cannot fix a wrong token or an
 * incompatible protocol. `TOKEN_UNAVAILABLE`: the app's `getToken` failed; retried with backoff. Everything else is retried with
 * backoff, moving to the next region URL; `RESYNC_LIMIT` (the region refused to resend, yet again,
 * what this session already had) waits the longest backoff delay first.
 */
export class ConnectionError extends Error {
  readonly code: ConnectionErrorCode
  readonly fatal: boolean
  /** The region URL the failure happened on. */
  readonly url: string
  /** The WebSocket close code, when the socket reported one. */
  readonly closeCode: number | undefined
  /** The `Error` frame's message the server sent before closing, if any. */
  readonly serverMessage: string | undefined

  constructor(init: {
    code: ConnectionErrorCode
    url: string
    closeCode?: number | undefined
    serverMessage?: string | undefined
    message?: string
    /** Overrides the code's default (TOKEN_EXPIRED is fatal only for a client that cannot get a fresh token). */
    fatal?: boolean | undefined
  }) {
    super(init.message ?? describe(init.code, init.url, init.closeCode, init.serverMessage))
    this.name = 'ConnectionError'
    this.code = init.code
    this.fatal = init.fatal ?? FATAL_CODES.has(init.code)
    this.url = init.url
    this.closeCode = init.closeCode
    this.serverMessage = init.serverMessage
  }
}

export type ConnectionErrorCode = CloseCodeName | 'NETWORK' | 'HANDSHAKE_TIMEOUT' | 'TOKEN_UNAVAILABLE'

const FATAL_CODES: ReadonlySet<ConnectionErrorCode> = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'VERSION_MISMATCH', 'TOKEN_EXPIRED'])

/** True for codes that stop the client from reconnecting. */
export function isFatalConnectionCode(code: ConnectionErrorCode): boolean {
  return FATAL_CODES.has(code)
}

function describe(code: string, url: string, closeCode: number | undefined, serverMessage: string | undefined): string {
  const parts = [`${code} on ${url}`]
  if (closeCode !== undefined) parts.push(`close code ${closeCode}`)
  if (serverMessage) parts.push(`server said: ${serverMessage}`)
  return parts.join(', ')
}

/** Why a strict write was refused. Nothing was written in every case. */
export type StrictWriteRejectionCode = 'PRECONDITION_FAILED' | 'INVALID_OP' | 'INVALID_VALUE' | 'UNAVAILABLE' | 'NOT_PRIMARY' | 'FORBIDDEN'

/**
 * A strict write (or a whole batch) was refused, and **nothing was written**: the promise of `put`,
 * `patch`, `delete` or `batch` rejects with this (and `onOutcome` listeners get it). `message` is a
 * sentence an app can show.
 *
 * - `PRECONDITION_FAILED`: `expectVersion` / `exists` did not hold at the primary. `collection`, `id`,
 *   `key`, `opIndex` (the failing op of a batch, 0 for a single op), `expected` and `actualVersion`
 *   (0: the document does not exist) say which and why. Re-read, then decide.
 * - `INVALID_OP`: the server refused the op (e.g. not a strict collection there). Retrying will not help.
 * - `INVALID_VALUE`: a value is not storable (not JSON, a non-finite number, a `__proto__` key, or
 *   over a value limit); `path` and `limit` say where and which. The client refuses these itself
 *   before queueing, with the default limits; a server configured with lower ones refuses the rest.
 * - `UNAVAILABLE`: no primary could be reached in time, or the client's store could not record the
 *   write as sent. Safe to retry.
 * - `NOT_PRIMARY`: the node asked was not the primary (`epoch`, `primaryHint`). Safe to retry.
 *
 * @example
 * ```ts
 * try {
 *   await accounts.put('a1', next, { expectVersion: seen.version })
 * } catch (error) {
 *   if (error instanceof StrictWriteRejected && error.code === 'PRECONDITION_FAILED') showConflict(error.message)
 *   else throw error
 * }
 * ```
 */
export class StrictWriteRejected extends Error {
  readonly code: StrictWriteRejectionCode
  /** The server's rejection as received. */
  readonly rejection: WriteRejection | Unavailable | Forbidden
  /** PRECONDITION_FAILED: the document whose precondition failed (`collection/id`); else null. */
  readonly key: string | null
  readonly collection: string | null
  readonly id: string | null
  /** PRECONDITION_FAILED: index of the failing op in the batch (0 for a single op); else null. */
  readonly opIndex: number | null
  /** PRECONDITION_FAILED: the precondition that failed; else null. */
  readonly expected: Precondition | null
  /** PRECONDITION_FAILED: the document's version at the primary, 0 when it does not exist; else null. */
  readonly actualVersion: number | null
  /** NOT_PRIMARY: the epoch of the node that refused; else null. */
  readonly epoch: number | null
  /** NOT_PRIMARY: the primary that node knows of, if any. */
  readonly primaryHint: string | null
  /** INVALID_VALUE: where the refused value is (`$.ops[1].value.a`); else null. */
  readonly path: string | null
  /** INVALID_VALUE: the bound exceeded, for limit rules; else null. */
  readonly limit: number | null

  constructor(rejection: WriteRejection | Unavailable | Forbidden, op?: WriteOp) {
    super(describeRejection(rejection, op))
    this.name = 'StrictWriteRejected'
    this.code = rejection.code
    this.rejection = rejection
    let failing: { readonly collection: string; readonly id: string } | undefined
    if (rejection.code === 'PRECONDITION_FAILED') {
      failing = op === undefined ? undefined : op.kind === 'batch' ? op.ops[rejection.opIndex] : op
    }
    this.key = rejection.code === 'PRECONDITION_FAILED' ? rejection.key : null
    this.collection = failing?.collection ?? null
    this.id = failing?.id ?? null
    this.opIndex = rejection.code === 'PRECONDITION_FAILED' ? rejection.opIndex : null
    this.expected = rejection.code === 'PRECONDITION_FAILED' ? rejection.expected : null
    this.actualVersion = rejection.code === 'PRECONDITION_FAILED' ? rejection.actualVersion : null
    this.epoch = rejection.code === 'NOT_PRIMARY' ? rejection.epoch : null
    this.primaryHint = rejection.code === 'NOT_PRIMARY' ? rejection.primaryHint : null
    this.path = rejection.code === 'INVALID_VALUE' ? rejection.path : null
    this.limit = rejection.code === 'INVALID_VALUE' ? rejection.limit : null
  }
}

function describeRejection(rejection: WriteRejection | Unavailable | Forbidden, op: WriteOp | undefined): string {
  switch (rejection.code) {
    case 'PRECONDITION_FAILED': {
      const failing = op === undefined ? undefined : op.kind === 'batch' ? op.ops[rejection.opIndex] : op
      const what = failing ? `${failing.collection}/${failing.id}` : rejection.key
      const inBatch = op?.kind === 'batch' ? ` (op ${rejection.opIndex} of the batch; nothing in it was written)` : ''
      const actual = rejection.actualVersion === 0 ? 'it does not exist' : `it is at version ${rejection.actualVersion}`
      const expected = rejection.expected
      let wanted: string
      if (expected.expectVersion === 0) wanted = 'expected it not to exist'
      else if (expected.expectVersion !== undefined) wanted = `expected version ${expected.expectVersion}`
      else if (expected.exists === true) wanted = 'expected it to exist'
      else if (expected.exists === false) wanted = 'expected it not to exist'
      else wanted = 'its precondition did not hold'
      return `${what} was changed by someone else: ${wanted}, but ${actual}${inBatch}`
    }
    case 'INVALID_OP':
      return `the server refused the write as invalid: ${rejection.message}`
    case 'INVALID_VALUE':
      return `the write carries a value Meridian does not store, nothing was written: ${rejection.message}`
    case 'UNAVAILABLE':
      return `the write could not be accepted, nothing was written; it is safe to retry (${rejection.message})`
    case 'FORBIDDEN':
      return `this client may not make the write, nothing was written: ${rejection.message}`
    case 'NOT_PRIMARY':
      return `the node asked is not the primary (epoch ${rejection.epoch}${rejection.primaryHint ? `, primary ${rejection.primaryHint}` : ''}); nothing was written, it is safe to retry`
  }
}

/**
 * A strict read failed; `code` says why:
 * - `UNAVAILABLE`: the client is offline (reads are not queued), the connection closed before the
 *   answer, no answer came in time, or no node could serve the read preference. Retry later.
 * - `NOT_YET` [RD1]: no node that could answer had applied the read's `after` position in time.
 * - `TOO_STALE` [RD3]: no node within `maxStalenessMs` could serve the read.
 * - `TOKEN_ROLLED_BACK` [RD1]: the write behind the `after` token was rolled back by a failover.
 * - `INVALID_REQUEST`: the server refused the read (e.g. not a strict collection).
 * - `FORBIDDEN`: this client's principal may not read the document (docs/security.md).
 *
 * @example
 * ```ts
 * try {
 *   await accounts.get('a1')
 * } catch (error) {
 *   if (error instanceof StrictReadFailed && error.code === 'UNAVAILABLE') showOffline()
 * }
 * ```
 */
export class StrictReadFailed extends Error {
  readonly code: StrictReadErrorCode

  constructor(code: StrictReadErrorCode, message: string) {
    super(`${code}: ${message}`)
    this.name = 'StrictReadFailed'
    this.code = code
  }
}

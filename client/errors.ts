import type { CloseCodeName } from '../core/codec/close-codes.js'

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
 * Why a connection attempt or a session ended. `code` is the close-code name when the server closed
 * with one of Meridian's codes (`UNAUTHORIZED`, `OVERLOADED` …, see core/codec/close-codes.ts), or
 * `NETWORK` (socket closed or never opened, no Meridian code), `HANDSHAKE_TIMEOUT`, `BAD_FRAME`
 * (the server sent something we could not decode).
 *
 * `fatal` errors (`UNAUTHORIZED`, `FORBIDDEN`, `VERSION_MISMATCH`) stop reconnecting: retrying
 * blindly cannot fix a wrong token or an incompatible protocol. Everything else is retried with
 * backoff, moving to the next region URL.
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
  }) {
    super(init.message ?? describe(init.code, init.url, init.closeCode, init.serverMessage))
    this.name = 'ConnectionError'
    this.code = init.code
    this.fatal = FATAL_CODES.has(init.code)
    this.url = init.url
    this.closeCode = init.closeCode
    this.serverMessage = init.serverMessage
  }
}

export type ConnectionErrorCode = CloseCodeName | 'NETWORK' | 'HANDSHAKE_TIMEOUT'

const FATAL_CODES: ReadonlySet<ConnectionErrorCode> = new Set(['UNAUTHORIZED', 'FORBIDDEN', 'VERSION_MISMATCH'])

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

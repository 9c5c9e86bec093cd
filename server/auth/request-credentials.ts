import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import WebSocket from 'ws'
import { CloseCode } from '../../core/codec/index.js'
import { closeSocket } from '../foreign-socket.js'
import { ExpiryTimer } from './expiry-timer.js'
import type { Authorizer } from './authorizer.js'
import type { AuthRefusal, Principal } from './principal.js'

/** Header values as single strings (repeated headers joined), lower-case names as Node gives them. */
export function headerRecord(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value
  return out
}

/** `Authorization: Bearer <token>` → the token; null when absent or another scheme. */
export function bearerToken(authorization: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  return match ? (match[1] as string) : null
}

/**
 * The credential of a `/yjs` or `/automerge` upgrade: the `token` query parameter (what y-websocket's
 * `params` and a URL in automerge-repo's adapter can carry), else `Authorization: Bearer`.
 */
export function foreignToken(request: IncomingMessage): string | null {
  try {
    const token = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token')
    if (token !== null && token !== '') return token
  } catch {
    // An unparsable URL carries no token; the header may.
  }
  return bearerToken(request.headers.authorization)
}

/**
 * Close codes for the other projects' clients: y-websocket stops reconnecting on 4400–4499 (a bad token
 * will not get better by itself), and retries anything else — so an expired token closes with
 * TOKEN_EXPIRED (4002), after which the app puts a fresh token in the provider's `params`.
 */
export const FOREIGN_UNAUTHORIZED = 4401

export function foreignAuthCloseCode(code: AuthRefusal['code']): number {
  return code === 'TOKEN_EXPIRED' ? CloseCode.TOKEN_EXPIRED : FOREIGN_UNAUTHORIZED
}

/** A principal that may not read and write the room (or, on `/automerge`, the whole collection): 4403, permanent for y-websocket. */
export const FOREIGN_FORBIDDEN = 4403

/**
 * Why `principal` may not use a `/yjs` room (`docId` = the room) or `/automerge` (`docId` null: every
 * document of the collection, since automerge-repo asks for documents as it goes); null when it may.
 */
export function foreignForbidden(authorizer: Authorizer, principal: Principal, collection: string | null, docId: string | null): string | null {
  if (!authorizer.restricts || collection === null) return null
  const what = docId === null ? `all of ${collection}` : `${collection}/${docId}`
  if (!authorizer.mayRead(principal, collection, docId)) return `${principal.id} may not read ${what}`
  if (!authorizer.mayWrite(principal, collection, docId)) return `${principal.id} may not write ${what}`
  return null
}

/** Ends a `/yjs` or `/automerge` socket when its principal's credentials expire. */
export function endForeignAtExpiry(ws: WebSocket, principal: Principal): void {
  if (principal.expiresAtMs === null) return
  const timer = new ExpiryTimer(principal.expiresAtMs, () => closeSocket(ws, CloseCode.TOKEN_EXPIRED, 'the token expired; reconnect with a fresh one'))
  ws.on('close', () => timer.cancel())
}

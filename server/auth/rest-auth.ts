import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, Hono } from 'hono'
import type { Authenticator } from './authenticator.js'
import type { Principal } from './principal.js'
import { bearerToken } from './request-credentials.js'

/** The REST request's principal, for handlers that need it (set by the middleware below). */
export function principalOf(c: Context): Principal | undefined {
  return c.get('principal' as never) as Principal | undefined
}

/**
 * Every `/v1/*` request presents its credential as `Authorization: Bearer <token>` (docs/security.md).
 * A refusal is 401 with `{ error: { code: UNAUTHORIZED | TOKEN_EXPIRED, message } }` and a
 * `WWW-Authenticate` header (RFC 6750). Registered only when the server asks for credentials.
 */
export function registerRestAuth(app: Hono, auth: Authenticator): void {
  if (auth.kind === 'open') return
  app.use('/v1/*', async (c, next) => {
    let remoteAddress = '?'
    try {
      remoteAddress = getConnInfo(c).remote.address ?? '?'
    } catch {
      // Not served by the node adapter (tests calling app.fetch): no address.
    }
    const result = await auth.authenticate({ surface: 'rest', token: bearerToken(c.req.header('authorization')), headers: c.req.header(), remoteAddress })
    if (!result.ok) {
      const { code, message } = result.refusal
      const error = code === 'TOKEN_EXPIRED' ? 'invalid_token", error_description="the token has expired' : 'invalid_token'
      return c.json({ error: { code, message } }, 401, { 'www-authenticate': `Bearer realm="meridian", error="${error}"` })
    }
    c.set('principal' as never, result.principal as never)
    await next()
    return undefined
  })
}

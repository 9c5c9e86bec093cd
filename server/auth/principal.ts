/**
 * Who is on the other end of a client connection or request (docs/security.md): the principal an
 * authenticator derived from its credentials, or the reason it refused them.
 */

/** Where a credential was presented. */
export type AuthSurface = 'sync' | 'rest' | 'yjs' | 'automerge'

export interface Principal {
  /** The subject (`sub` of a token, or what the application's callback named). */
  readonly id: string
  /** Everything the token (or callback) said about it; permission rules read these. */
  readonly claims: Readonly<Record<string, unknown>>
  /** When its credentials stop being valid (ms since the epoch); null: never. Sessions end then. */
  readonly expiresAtMs: number | null
}

/** A refusal: `TOKEN_EXPIRED` when a fresh token would do, `UNAUTHORIZED` for missing or bad credentials. */
export interface AuthRefusal {
  readonly code: 'UNAUTHORIZED' | 'TOKEN_EXPIRED'
  readonly message: string
}

export type AuthResult = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly refusal: AuthRefusal }

/** What an authenticator is shown of a connection or request. */
export interface AuthRequest {
  readonly surface: AuthSurface
  /** The bearer credential presented (handshake credentials, `Authorization: Bearer`, `?token=`); null when none. */
  readonly token: string | null
  /** The request's headers, lower-case names (the upgrade request's for WebSockets). */
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly remoteAddress: string
}

/**
 * The application's own authentication when Meridian is embedded (`createServer(config, { authenticate })`):
 * a principal, or a refusal. It replaces the configured `auth.jwt` / `clientToken` checks.
 */
export type Authenticate = (request: AuthRequest) => Principal | AuthRefusal | Promise<Principal | AuthRefusal>

/** The principal of every connection while the server has no authentication configured. */
export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', claims: Object.freeze({}), expiresAtMs: null })

export function isRefusal(value: Principal | AuthRefusal): value is AuthRefusal {
  return 'code' in value && (value.code === 'UNAUTHORIZED' || value.code === 'TOKEN_EXPIRED')
}

import type { ServerConfig } from '../config.js'
import { secretsEqual } from '../secrets.js'
import { JwtVerifier } from './jwt-verifier.js'
import { ANONYMOUS, isRefusal, type AuthRefusal, type AuthRequest, type AuthResult, type Authenticate, type Principal } from './principal.js'

/** Longer credentials are refused unread: verifying them would only cost CPU. */
export const MAX_TOKEN_CHARS = 16 * 1024

/** Verified tokens remembered (until they expire), so a REST client sending the same token does not pay a signature check per request. */
const VERIFIED_CACHE_SIZE = 1024

type Mode =
  | { readonly kind: 'open' }
  | { readonly kind: 'shared'; readonly token: string }
  | { readonly kind: 'jwt'; readonly verifier: JwtVerifier }
  | { readonly kind: 'callback'; readonly authenticate: Authenticate }

/**
 * Decides who a client is, the same way on every surface (`/sync`, REST, `/yjs`, `/automerge`;
 * docs/security.md): the embedded application's callback if it gave one, else signed tokens
 * (`auth.jwt`), else the one shared `clientToken`, else nobody is asked (every client is `anonymous`).
 */
export class Authenticator {
  /** token → principal, oldest first (a Map keeps insertion order); only signed tokens that verified. */
  private readonly verified = new Map<string, Principal>()

  private constructor(
    private readonly mode: Mode,
    private readonly now: () => number,
    private readonly onCallbackError: (err: unknown) => void,
  ) {}

  static async create(config: ServerConfig, options: { authenticate?: Authenticate; now?: () => number; onCallbackError?: (err: unknown) => void } = {}): Promise<Authenticator> {
    const mode: Mode =
      options.authenticate !== undefined
        ? { kind: 'callback', authenticate: options.authenticate }
        : config.auth.jwt !== null
          ? { kind: 'jwt', verifier: await JwtVerifier.load(config.auth.jwt) }
          : config.clientToken !== null
            ? { kind: 'shared', token: config.clientToken }
            : { kind: 'open' }
    return new Authenticator(mode, options.now ?? Date.now, options.onCallbackError ?? (() => {}))
  }

  /** What this server asks of clients: nothing, a shared token, signed tokens, or the application's callback. */
  get kind(): Mode['kind'] {
    return this.mode.kind
  }

  /** Never throws: a failing callback is a refusal (and reported through `onCallbackError`). */
  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const token = request.token
    if (token !== null && token.length > MAX_TOKEN_CHARS) return refuse('UNAUTHORIZED', `the credential is longer than ${MAX_TOKEN_CHARS} characters`)
    switch (this.mode.kind) {
      case 'open':
        return { ok: true, principal: ANONYMOUS }
      case 'shared':
        if (token === null || token === '') return refuse('UNAUTHORIZED', 'credentials required (the client token)')
        return secretsEqual(token, this.mode.token) ? { ok: true, principal: { id: 'client', claims: {}, expiresAtMs: null } } : refuse('UNAUTHORIZED', 'wrong client token')
      case 'jwt': {
        if (token === null || token === '') return refuse('UNAUTHORIZED', 'a signed token is required (Authorization: Bearer …, ?token=, or the handshake credentials)')
        const known = this.verified.get(token)
        if (known !== undefined && !this.expired(known)) return { ok: true, principal: known }
        this.verified.delete(token)
        const answer = await this.mode.verifier.verify(token, this.now())
        if (!isRefusal(answer)) {
          if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string)
          this.verified.set(token, answer)
        }
        return settle(answer)
      }
      case 'callback':
        try {
          const answer = await this.mode.authenticate(request)
          if (!isRefusal(answer) && (typeof answer?.id !== 'string' || answer.id === '')) return refuse('UNAUTHORIZED', 'the application named no principal')
          return settle(answer)
        } catch (err) {
          this.onCallbackError(err)
          return refuse('UNAUTHORIZED', 'authentication failed')
        }
    }
  }

  /** True when `principal`'s credentials have run out (a session of it must end). */
  expired(principal: Principal): boolean {
    return principal.expiresAtMs !== null && principal.expiresAtMs <= this.now()
  }
}

function refuse(code: AuthRefusal['code'], message: string): AuthResult {
  return { ok: false, refusal: { code, message } }
}

function settle(answer: Principal | AuthRefusal): AuthResult {
  return isRefusal(answer) ? { ok: false, refusal: answer } : { ok: true, principal: answer }
}

import { readFile } from 'node:fs/promises'
import { createLocalJWKSet, decodeProtectedHeader, errors, exportJWK, importSPKI, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose'
import type { JwtConfig } from '../config.js'
import type { AuthRefusal, Principal } from './principal.js'

/**
 * Verifies signed client tokens (JWT, through `jose`): HS256 with a shared secret, ES256 with public
 * keys from the config (PEM) or a JWKS file. A token must name its subject (`sub`) and, unless the
 * config says otherwise, expire (`exp`); `iss` and `aud` are checked when configured. Keys are loaded
 * once at start (a changed JWKS file takes a restart).
 */
export class JwtVerifier {
  private constructor(
    private readonly config: JwtConfig,
    private readonly secret: Uint8Array | null,
    /** ES256 keys (the JWKS file's and the PEM ones), null when none is configured. */
    private readonly ecKeys: JWTVerifyGetKey | null,
  ) {}

  static async load(config: JwtConfig): Promise<JwtVerifier> {
    const secret = config.secret === null ? null : new TextEncoder().encode(config.secret)
    const keys: JWK[] = []
    if (config.jwksFile !== null) {
      const parsed = JSON.parse(await readFile(config.jwksFile, 'utf8')) as { keys?: unknown }
      if (!Array.isArray(parsed.keys)) throw new Error(`auth.jwt.jwksFile ${config.jwksFile}: expected a JWKS document ({ "keys": [...] })`)
      keys.push(...(parsed.keys as JWK[]))
    }
    // PEM keys join the set as JWKs, so one resolver serves both (a token's `kid` picks among them).
    for (const pem of config.publicKeys) keys.push({ ...(await exportJWK(await importSPKI(pem, 'ES256'))), alg: 'ES256' })
    return new JwtVerifier(config, secret, keys.length === 0 ? null : createLocalJWKSet({ keys }))
  }

  /** The principal a token names, or why it is refused. Never throws. */
  async verify(token: string, nowMs: number): Promise<Principal | AuthRefusal> {
    let alg: string | undefined
    try {
      alg = decodeProtectedHeader(token).alg
    } catch {
      return { code: 'UNAUTHORIZED', message: 'the token is not a JWT' }
    }
    const options = {
      algorithms: [alg ?? ''],
      currentDate: new Date(nowMs),
      clockTolerance: this.config.clockToleranceS,
      ...(this.config.issuer === null ? {} : { issuer: this.config.issuer }),
      ...(this.config.audience === null ? {} : { audience: this.config.audience }),
      requiredClaims: this.config.requireExpiry ? ['sub', 'exp'] : ['sub'],
    }
    try {
      let payload: JWTPayload
      if (alg === 'HS256' && this.secret !== null) payload = (await jwtVerify(token, this.secret, options)).payload
      else if (alg === 'ES256' && this.ecKeys !== null) payload = await verifyWithSet(token, this.ecKeys, options)
      else return { code: 'UNAUTHORIZED', message: `tokens signed with ${alg ?? 'no algorithm'} are not accepted here` }
      if (typeof payload.sub !== 'string' || payload.sub === '') return { code: 'UNAUTHORIZED', message: 'the token names no subject (sub)' }
      return { id: payload.sub, claims: payload as Record<string, unknown>, expiresAtMs: typeof payload.exp === 'number' ? payload.exp * 1000 : null }
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { code: 'TOKEN_EXPIRED', message: 'the token has expired' }
      if (err instanceof errors.JOSEError) return { code: 'UNAUTHORIZED', message: `invalid token: ${err.message}` }
      return { code: 'UNAUTHORIZED', message: 'invalid token' }
    }
  }
}

/**
 * Verifies with a key set. Without a `kid`, several keys may fit the algorithm: jose then hands back
 * every candidate, and the token is good when one of them verifies it.
 */
async function verifyWithSet(token: string, keys: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keys, options)).payload
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err
    let last: unknown = err
    for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
      try {
        return (await jwtVerify(token, key, options)).payload
      } catch (candidate) {
        last = candidate
        // Only a bad signature moves on to the next key; an expired or otherwise invalid token is that.
        if (!(candidate instanceof errors.JWSSignatureVerificationFailed)) throw candidate
      }
    }
    throw last
  }
}

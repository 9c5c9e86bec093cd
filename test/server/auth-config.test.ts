import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../server/config.js'
import { JwtVerifier } from '../../server/auth/jwt-verifier.js'

/** `auth.jwt` in the config (docs/security.md): what is accepted, what is refused with its path, and JWKS files. */
const base = { nodeId: 'a', region: 'r' }

function issuesOf(input: Record<string, unknown>): readonly string[] {
  try {
    parseConfig({ ...base, ...input })
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

describe('auth.jwt config', () => {
  it('defaults: no signed tokens; a secret alone is enough, with expiry required and 5 s of clock tolerance', () => {
    expect(parseConfig(base).auth).toEqual({ jwt: null })
    expect(parseConfig({ ...base, auth: { jwt: { secret: 'x'.repeat(32) } } }).auth.jwt).toEqual({
      secret: 'x'.repeat(32),
      publicKeys: [],
      jwksFile: null,
      issuer: null,
      audience: null,
      clockToleranceS: 5,
      requireExpiry: true,
    })
  })

  it('refuses a short secret, no key at all, both clientToken and jwt, non-PEM public keys and unknown keys, each with its path', () => {
    expect(issuesOf({ auth: { jwt: { secret: 'short' } } })).toEqual(['config.auth.jwt.secret: an HS256 secret needs at least 32 bytes'])
    expect(issuesOf({ auth: { jwt: {} } })).toEqual(['config.auth.jwt: needs a secret (HS256), publicKeys or a jwksFile (ES256)'])
    expect(issuesOf({ clientToken: 't', auth: { jwt: { secret: 'x'.repeat(32) } } })).toEqual(['config.auth: use either auth.jwt or clientToken, not both'])
    expect(issuesOf({ auth: { jwt: { publicKeys: ['not a key'] } } })[0]).toMatch(/^config\.auth\.jwt\.publicKeys\[0\]: expected a PEM public key/)
    expect(issuesOf({ auth: { jwt: { secret: 'x'.repeat(32), algorithm: 'RS256' } } })).toEqual(['config.auth.jwt.algorithm: unknown key'])
    expect(issuesOf({ auth: { jwt: { secret: 'x'.repeat(32), clockToleranceS: -1 } } })[0]).toMatch(/^config\.auth\.jwt\.clockToleranceS: expected an integer from 0/)
  })

  it('a JWKS file: its keys verify ES256 tokens by kid; issuer and audience are checked when configured', async () => {
    const one = await generateKeyPair('ES256')
    const two = await generateKeyPair('ES256')
    const dir = mkdtempSync(join(tmpdir(), 'meridian-jwks-'))
    const file = join(dir, 'jwks.json')
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(one.publicKey)), kid: 'k1', alg: 'ES256' }, { ...(await exportJWK(two.publicKey)), kid: 'k2', alg: 'ES256' }] }))
    const config = parseConfig({ ...base, auth: { jwt: { jwksFile: file, issuer: 'https://issuer.example', audience: 'meridian' } } }).auth.jwt
    const verifier = await JwtVerifier.load(config as NonNullable<typeof config>)
    const sign = (key: CryptoKey, kid: string, claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).setIssuer('https://issuer.example').setAudience('meridian').setExpirationTime('5m').sign(key)
    expect(await verifier.verify(await sign(two.privateKey, 'k2', { sub: 'u', team: 'red' }), Date.now())).toMatchObject({ id: 'u', claims: { team: 'red' } })
    expect(await verifier.verify(await sign(one.privateKey, 'k2', { sub: 'u' }), Date.now())).toMatchObject({ code: 'UNAUTHORIZED' })
    const otherAudience = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://issuer.example').setAudience('else').setExpirationTime('5m').sign(one.privateKey)
    expect(await verifier.verify(otherAudience, Date.now())).toMatchObject({ code: 'UNAUTHORIZED' })
    // HS256 is not configured here: such a token is refused whatever it says.
    const hs = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(32)))
    expect(await verifier.verify(hs, Date.now())).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/HS256/) })
  })

  it('several PEM keys (rotation): a token without kid is accepted when any of them verifies it', async () => {
    const old = await generateKeyPair('ES256')
    const fresh = await generateKeyPair('ES256')
    const config = parseConfig({ ...base, auth: { jwt: { publicKeys: [await exportSPKI(old.publicKey), await exportSPKI(fresh.publicKey)] } } }).auth.jwt
    const verifier = await JwtVerifier.load(config as NonNullable<typeof config>)
    for (const key of [old.privateKey, fresh.privateKey]) {
      const token = await new SignJWT({ sub: 'rotated' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('5m').sign(key)
      expect(await verifier.verify(token, Date.now())).toMatchObject({ id: 'rotated' })
    }
    const stranger = await generateKeyPair('ES256')
    const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('5m').sign(stranger.privateKey)
    expect(await verifier.verify(token, Date.now())).toMatchObject({ code: 'UNAUTHORIZED' })
    const late = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(fresh.privateKey)
    expect(await verifier.verify(late, Date.now())).toMatchObject({ code: 'TOKEN_EXPIRED' })
  })
})

// npm run bench:auth: what a signed-token check costs per request (HS256, ES256) and with the verified-token cache (docs/security.md).
import { SignJWT, generateKeyPair, exportSPKI } from 'jose'
import { parseConfig } from '../server/config.js'
import { JwtVerifier } from '../server/auth/jwt-verifier.js'
import { Authenticator } from '../server/auth/authenticator.js'
const secret = 'x'.repeat(32)
const { publicKey, privateKey } = await generateKeyPair('ES256')
const config = parseConfig({ nodeId: 'a', region: 'r', auth: { jwt: { secret, publicKeys: [await exportSPKI(publicKey)] } } })
const v = await JwtVerifier.load(config.auth.jwt!)
const hs = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(secret))
const es = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('1h').sign(privateKey)
for (const [name, t] of [['HS256', hs], ['ES256', es]] as const) {
  const n = 3000; const s = performance.now()
  for (let i = 0; i < n; i++) await v.verify(t, Date.now())
  console.log(name, 'verify µs', ((performance.now() - s) * 1000 / n).toFixed(1))
}
const auth = await Authenticator.create(config)
const n = 100000; const s = performance.now()
for (let i = 0; i < n; i++) await auth.authenticate({ surface: 'rest', token: es, headers: {}, remoteAddress: '' })
console.log('cached authenticate µs', ((performance.now() - s) * 1000 / n).toFixed(2))

// A permission rule, as the region evaluates it for every change it sends a client (docs/security.md).
{
  const { allows } = await import('../server/auth/permissions.js')
  const rule = { anyOf: [{ claim: 'role', equals: 'admin' }, { docId: { startsWith: '{sub}/' } }, { docId: { startsWith: 'public/' } }] } as const
  const principal = { id: 'alice', claims: { sub: 'alice', role: 'user' }, expiresAtMs: null }
  const n = 1_000_000
  let granted = 0
  const s = performance.now()
  for (let i = 0; i < n; i++) if (allows(rule, principal, i % 2 ? 'alice/x' : 'bob/y')) granted += 1
  console.log('rule evaluation ns', (((performance.now() - s) * 1e6) / n).toFixed(0), `(${granted} of ${n} granted)`)
}

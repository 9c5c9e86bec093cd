import { exportSPKI, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CloseCode, MessageType } from '../../core/codec/index.js'
import { createNodeClient } from '../../client/node.js'
import { ConnectionError } from '../../client/errors.js'
import { createServer, type MeridianServer } from '../../server/server.js'
import { silentLogger } from '../../server/logger.js'
import type { AuthRequest } from '../../server/auth/principal.js'
import { foreignSocketOutcome, handshake, http, rawClient } from './in-process.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/index.js'
import { MAX_FRAMES_BEFORE_ACCEPT } from '../../server/session.js'

/**
 * Authentication on every surface (docs/security.md, "Who may connect"): a server with signed tokens
 * (HS256 and ES256) is asked with no credentials, a bad one, an expired one and a valid one on the
 * client WebSocket, REST reads and writes, `/yjs`, `/automerge`, the admin API, the peer endpoint and
 * the static files. Sessions end with TOKEN_EXPIRED when their token runs out, and a client with
 * `getToken` comes back with a fresh one. The embedded `authenticate` callback replaces tokens.
 */

const SECRET = 'an-hs256-secret-of-at-least-32-bytes!!'
const ADMIN = 'admin-token'
const COLLECTIONS = { notes: { mode: 'crdt', type: 'lww' }, rooms: { mode: 'crdt', type: 'yjs' }, boards: { mode: 'crdt', type: 'automerge' } } as const

const hs256 = (claims: Record<string, unknown>, expiresInS: number, secret = SECRET) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInS)
    .sign(new TextEncoder().encode(secret))

let server: MeridianServer
let es256: (claims: Record<string, unknown>, expiresInS: number) => Promise<string>
let valid: string
let expired: string
let forged: string

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  es256 = (claims, expiresInS) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).setExpirationTime(Math.floor(Date.now() / 1000) + expiresInS).sign(privateKey)
  server = await createServer(
    {
      nodeId: 'auth-1',
      region: 'test',
      port: 0,
      storage: 'memory',
      collections: COLLECTIONS,
      yjsRoomCollection: 'rooms',
      automergeRepoCollection: 'boards',
      adminToken: ADMIN,
      peerSecret: 'peer-secret',
      auth: { jwt: { secret: SECRET, publicKeys: [await exportSPKI(publicKey)], clockToleranceS: 0 } },
    },
    { logger: silentLogger, defaultMetrics: false },
  )
  valid = await hs256({ sub: 'alice' }, 600)
  expired = await hs256({ sub: 'alice' }, -60)
  forged = await hs256({ sub: 'alice' }, 600, 'another-secret-of-at-least-32-bytes!!!')
})
afterAll(() => server?.close())

type Credential = 'none' | 'bad' | 'expired' | 'valid'
const CREDENTIALS: readonly Credential[] = ['none', 'bad', 'expired', 'valid']
const tokenOf = (credential: Credential): string | null => ({ none: null, bad: forged, expired, valid })[credential]

/** The close code a `/sync` handshake gets, or 'accepted'. */
async function syncOutcome(token: string | null): Promise<number | 'accepted'> {
  const client = await rawClient(server.url)
  client.send(handshake('c-auth', 'client', token ?? ''))
  const outcome = await Promise.race([client.next((m) => m.type === MessageType.HandshakeAccept).then(() => 'accepted' as const), client.closed.then((c) => c.code)])
  client.ws.terminate()
  return outcome
}

const foreignOutcome = (path: string, token: string | null) => foreignSocketOutcome(server.url, path, token)

const bearer = (token: string | null): Record<string, string> => (token === null ? {} : { authorization: `Bearer ${token}` })

describe('authentication on every surface (signed tokens)', () => {
  // Expected outcome per surface and credential; the same table is in docs/security.md.
  const expectSync: Record<Credential, number | 'accepted'> = { none: CloseCode.UNAUTHORIZED, bad: CloseCode.UNAUTHORIZED, expired: CloseCode.TOKEN_EXPIRED, valid: 'accepted' }
  const expectRest: Record<Credential, number> = { none: 401, bad: 401, expired: 401, valid: 200 }
  const expectForeign: Record<Credential, number | 'open'> = { none: 4401, bad: 4401, expired: CloseCode.TOKEN_EXPIRED, valid: 'open' }

  for (const credential of CREDENTIALS) {
    it(`client WebSocket /sync, ${credential} credentials → ${expectSync[credential]}`, async () => {
      expect(await syncOutcome(tokenOf(credential))).toBe(expectSync[credential])
    })
    it(`REST write and read, ${credential} credentials → ${expectRest[credential]}`, async () => {
      const put = await http(server.httpUrl, 'PUT', `/v1/notes/n-${credential}`, { by: credential }, bearer(tokenOf(credential)))
      expect(put.status).toBe(expectRest[credential])
      const get = await http(server.httpUrl, 'GET', `/v1/notes/n-${credential}`, undefined, bearer(tokenOf(credential)))
      expect(get.status).toBe(credential === 'valid' ? 200 : 401)
      if (credential !== 'valid') {
        expect(put.json.error.code).toBe(credential === 'expired' ? 'TOKEN_EXPIRED' : 'UNAUTHORIZED')
        expect(put.headers.get('www-authenticate')).toMatch(/^Bearer /)
      }
    })
    it(`/yjs/:room and /automerge, ${credential} credentials → ${expectForeign[credential]}`, async () => {
      expect(await foreignOutcome('/yjs/room-1', tokenOf(credential))).toBe(expectForeign[credential])
      expect(await foreignOutcome('/automerge', tokenOf(credential))).toBe(expectForeign[credential])
    })
  }

  it('ES256 tokens from the configured public key are accepted; alg none, a wrong key and a token without sub are refused', async () => {
    expect(await syncOutcome(await es256({ sub: 'bob' }, 600))).toBe('accepted')
    expect((await http(server.httpUrl, 'GET', '/v1/notes/n-valid', undefined, bearer(await es256({ sub: 'bob' }, 600)))).status).toBe(200)
    const { privateKey: other } = await generateKeyPair('ES256')
    const wrongKey = await new SignJWT({ sub: 'bob' }).setProtectedHeader({ alg: 'ES256' }).setExpirationTime('10m').sign(other)
    expect(await syncOutcome(wrongKey)).toBe(CloseCode.UNAUTHORIZED)
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', exp: 9e9 })).toString('base64url')}.`
    expect(await syncOutcome(unsigned)).toBe(CloseCode.UNAUTHORIZED)
    expect(await syncOutcome(await hs256({}, 600))).toBe(CloseCode.UNAUTHORIZED)
    expect(await syncOutcome('x'.repeat(20_000))).toBe(CloseCode.UNAUTHORIZED)
    const noExpiry = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
    expect(await syncOutcome(noExpiry)).toBe(CloseCode.UNAUTHORIZED)
  })

  it('the admin API keeps its own token, the peer endpoint its own secret; a client token opens neither', async () => {
    expect((await http(server.httpUrl, 'GET', '/admin/rollbacks', undefined, bearer(valid))).status).toBe(401)
    expect((await http(server.httpUrl, 'GET', '/admin/rollbacks', undefined, bearer(ADMIN))).status).not.toBe(401)
    const peer = await rawClient(server.peerUrl)
    peer.send(handshake('zz', 'peer', valid))
    expect((await peer.closed).code).toBe(CloseCode.UNAUTHORIZED)
  })

  it('health checks, /status and static files need no credentials', async () => {
    expect((await http(server.httpUrl, 'GET', '/healthz')).status).toBe(200)
    expect((await http(server.httpUrl, 'GET', '/status')).status).toBe(200)
    expect((await fetch(`${server.httpUrl}/`)).status).toBe(200)
  })

  it('a session ends with TOKEN_EXPIRED when its token runs out; a client with getToken reconnects with a fresh one and keeps syncing', async () => {
    const raw = await rawClient(server.url)
    raw.send(handshake('c-short', 'client', await hs256({ sub: 'carol' }, 2)))
    await raw.next((m) => m.type === MessageType.HandshakeAccept)
    expect((await raw.closed).code).toBe(CloseCode.TOKEN_EXPIRED)

    let issued = 0
    const errors: ConnectionError[] = []
    const client = createNodeClient({
      urls: [server.url],
      getToken: async () => {
        issued += 1
        return hs256({ sub: 'dave' }, 2)
      },
      minDelayMs: 20,
      maxDelayMs: 100,
    })
    client.onError((e) => errors.push(e))
    try {
      const notes = client.lww<{ n: number }>('notes')
      await notes.put('renewed-1', { n: 1 }).durable
      await expect.poll(() => errors.some((e) => e.code === 'TOKEN_EXPIRED'), { timeout: 6_000 }).toBe(true)
      expect(errors.find((e) => e.code === 'TOKEN_EXPIRED')?.fatal).toBe(false)
      await notes.put('renewed-2', { n: 2 }).durable
      expect(issued).toBeGreaterThanOrEqual(2)
      expect(client.error).toBeNull()
      expect((await http(server.httpUrl, 'GET', '/v1/notes/renewed-2', undefined, bearer(valid))).json.doc).toEqual({ n: 2 })
    } finally {
      await client.close()
    }
  }, 20_000)

  it('a client without getToken stops at TOKEN_EXPIRED (a fatal error it can show)', async () => {
    const client = createNodeClient({ urls: [server.url], token: await hs256({ sub: 'erin' }, 1), minDelayMs: 20, maxDelayMs: 100 })
    try {
      await expect.poll(() => client.error?.code, { timeout: 5_000 }).toBe('TOKEN_EXPIRED')
      expect(client.status).toBe('offline')
    } finally {
      await client.close()
    }
  })
})

describe('the embedded authenticate callback', () => {
  let embedded: MeridianServer
  const seen: AuthRequest[] = []
  beforeAll(async () => {
    embedded = await createServer(
      { nodeId: 'auth-2', region: 'test', port: 0, storage: 'memory', collections: COLLECTIONS },
      {
        logger: silentLogger,
        defaultMetrics: false,
        authenticate: (request) => {
          seen.push(request)
          if (request.token === 'throw') throw new Error('the app failed')
          if (request.token === 'slow') return new Promise((resolve) => setTimeout(() => resolve({ id: 'slow-user', claims: {}, expiresAtMs: null }), 200))
          if (request.token === 'let-me-in') return { id: 'app-user', claims: { team: 'red' }, expiresAtMs: null }
          return { code: 'UNAUTHORIZED', message: 'the app says no' }
        },
      },
    )
  })
  afterAll(() => embedded?.close())

  it('decides on /sync and REST alike, sees the surface and credential, and a throwing callback refuses', async () => {
    const attempt = async (token: string) => {
      const client = await rawClient(embedded.url)
      client.send(handshake('c-app', 'client', token))
      const outcome = await Promise.race([client.next((m) => m.type === MessageType.HandshakeAccept).then(() => 'accepted' as const), client.closed.then((c) => c.code)])
      client.ws.terminate()
      return outcome
    }
    expect(await attempt('let-me-in')).toBe('accepted')
    expect(await attempt('nope')).toBe(CloseCode.UNAUTHORIZED)
    expect(await attempt('throw')).toBe(CloseCode.UNAUTHORIZED)
    expect((await http(embedded.httpUrl, 'PUT', '/v1/notes/x', { a: 1 }, { authorization: 'Bearer let-me-in' })).status).toBe(200)
    const refused = await http(embedded.httpUrl, 'GET', '/v1/notes/x', undefined, { authorization: 'Bearer nope' })
    expect(refused.status).toBe(401)
    expect(refused.json.error).toEqual({ code: 'UNAUTHORIZED', message: 'the app says no' })
    expect(seen.map((r) => r.surface)).toEqual(expect.arrayContaining(['sync', 'rest']))
    expect(seen.find((r) => r.surface === 'rest')?.headers.authorization).toBe('Bearer let-me-in')
    for (const surface of ['sync', 'rest'] as const) expect(seen.find((r) => r.surface === surface)?.remoteAddress).toMatch(/^(::ffff:)?127\.0\.0\.1$/)
  })

  it('frames sent while a slow callback decides are replayed after it accepts; a flood of them is refused', async () => {
    const base = { origin: 'c-slow', collection: 'notes', docType: 'lww' as const }
    const change = { ...base, seq: 1, hlc: { wallMs: Date.now(), counter: 0, node: 'c-slow' }, docId: 'early', payload: lwwPutPayload(new LwwReplica({ collection: 'notes', docId: 'early' }), { early: true }) }
    const client = await rawClient(embedded.url)
    client.send(handshake('c-slow', 'client', 'slow'))
    client.send({ type: MessageType.ChangeBatch, changes: [change] })
    await client.next((m) => m.type === MessageType.HandshakeAccept)
    await expect.poll(async () => (await http(embedded.httpUrl, 'GET', '/v1/notes/early', undefined, { authorization: 'Bearer let-me-in' })).json.doc, { timeout: 3_000 }).toEqual({ early: true })
    client.ws.terminate()

    const flood = await rawClient(embedded.url)
    flood.send(handshake('c-flood', 'client', 'slow'))
    for (let i = 0; i <= MAX_FRAMES_BEFORE_ACCEPT; i++) flood.send({ type: MessageType.VersionVector, vector: new Map() })
    expect((await flood.closed).code).toBe(CloseCode.BAD_FRAME)
  })
})

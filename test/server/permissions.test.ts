import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeClient } from '../../client/node.js'
import { allows, permissionsProblems, ruleProblems, type Rule } from '../../server/auth/permissions.js'
import { ConfigError, parseConfig } from '../../server/config.js'
import { silentLogger } from '../../server/logger.js'
import { createServer, type MeridianServer } from '../../server/server.js'
import { foreignSocketOutcome, http } from './in-process.js'

/**
 * Permissions (docs/security.md, "Permissions"): rules per collection from the principal's claims and the
 * document id, enforced on REST, on `/sync` (the stream a client is sent is filtered; a forbidden write is
 * refused before it is applied anywhere) and on `/yjs`.
 */

const alice = { id: 'alice', claims: { sub: 'alice', role: 'user', teams: ['red'], org: { name: 'acme' } }, expiresAtMs: null }
const anonymous = { id: 'anonymous', claims: {}, expiresAtMs: null }

describe('rules', () => {
  it('claims, document ids with templates, and combinations decide; a document rule never grants a whole collection', () => {
    const cases: [Rule, string | null, boolean][] = [
      [true, 'x', true],
      [false, 'x', false],
      [{ authenticated: true }, 'x', true],
      [{ claim: 'role', equals: 'user' }, null, true],
      [{ claim: 'role', in: ['admin', 'ops'] }, 'x', false],
      [{ claim: 'teams', contains: 'red' }, 'x', true],
      [{ claim: 'org.name', equals: 'acme' }, 'x', true],
      [{ claim: 'missing.deep', equals: 'x' }, 'x', false],
      [{ docId: { equals: '{sub}' } }, 'alice', true],
      [{ docId: { startsWith: '{sub}/' } }, 'alice/1', true],
      [{ docId: { startsWith: '{sub}/' } }, 'bob/1', false],
      [{ docId: { startsWith: '{claims.org.name}:' } }, 'acme:doc', true],
      [{ docId: { startsWith: '{claims.nothing}:' } }, ':doc', false],
      [{ docId: { startsWith: '{sub}/' } }, null, false],
      [{ not: { docId: { equals: 'secret' } } }, null, false],
      [{ not: { docId: { equals: 'secret' } } }, 'open', true],
      [{ anyOf: [{ claim: 'role', equals: 'admin' }, { docId: { startsWith: 'public/' } }] }, 'public/a', true],
      [{ allOf: [{ authenticated: true }, { claim: 'role', equals: 'admin' }] }, 'x', false],
      [{ anyOf: [{ claim: 'role', equals: 'user' }, { docId: { startsWith: 'x' } }] }, null, true],
      [{ allOf: [{ claim: 'role', equals: 'user' }, { docId: { startsWith: 'x' } }] }, null, false],
      [{ allOf: [{ claim: 'role', equals: 'admin' }, { docId: { startsWith: 'x' } }] }, null, false],
    ]
    for (const [rule, docId, expected] of cases) expect(allows(rule, alice, docId), `${JSON.stringify(rule)} on ${docId}`).toBe(expected)
    expect(allows({ authenticated: true }, anonymous, 'x')).toBe(false)
  })

  it('malformed rules are reported with their paths', () => {
    expect(ruleProblems({ claim: 'role' }, 'p')).toEqual(['p: a claim rule needs exactly one of equals, in, contains'])
    expect(ruleProblems({ docId: { endsWith: 'x' } }, 'p')).toEqual(['p.docId: expected exactly one of equals, startsWith'])
    expect(ruleProblems({ anyOf: [] }, 'p')).toEqual(['p.anyOf: expected a non-empty array of rules'])
    expect(ruleProblems('yes', 'p')).toEqual(['p: expected true, false or a rule object'])
    expect(ruleProblems({ claim: 'r', equals: 'a', extra: 1 }, 'p')).toEqual(['p.extra: unknown key'])
    expect(permissionsProblems({ write: { put: true } }, 'p', false)).toEqual(['p.write: rules per operation are for strict collections; a crdt collection has one write rule'])
    expect(permissionsProblems({ read: true, list: true }, 'p', true)).toEqual(['p.list: unknown key'])
    try {
      parseConfig({ nodeId: 'a', region: 'r', collections: { notes: { mode: 'crdt', type: 'lww', permissions: { read: { claim: 'x' } } } } })
      throw new Error('expected a ConfigError')
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).issues).toEqual(['config.collections.notes.permissions.read: a claim rule needs exactly one of equals, in, contains'])
    }
  })
})

const SECRET = 'permissions-test-secret-of-32-bytes!!'
const token = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(new TextEncoder().encode(SECRET))

describe('permissions on a running server', () => {
  let server: MeridianServer
  const tokens: Record<string, string> = {}
  const as = (who: string) => ({ authorization: `Bearer ${tokens[who]}` })

  beforeAll(async () => {
    server = await createServer(
      {
        nodeId: 'perm-1',
        region: 'test',
        port: 0,
        storage: 'memory',
        auth: { jwt: { secret: SECRET } },
        yjsRoomCollection: 'rooms',
        strict: { heartbeatIntervalMs: 30, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300 },
        collections: {
          notes: {
            mode: 'crdt',
            type: 'lww',
            permissions: {
              read: { anyOf: [{ claim: 'role', equals: 'admin' }, { docId: { startsWith: '{sub}/' } }, { docId: { startsWith: 'public/' } }] },
              write: { anyOf: [{ claim: 'role', equals: 'admin' }, { docId: { startsWith: '{sub}/' } }] },
            },
          },
          accounts: { mode: 'strict', permissions: { read: { authenticated: true }, write: { put: { claim: 'role', equals: 'admin' }, patch: { docId: { equals: '{sub}' } } } } },
          rooms: { mode: 'crdt', type: 'yjs', permissions: { read: { claim: 'teams', contains: 'red' }, write: { claim: 'teams', contains: 'red' } } },
        },
      },
      { logger: silentLogger, defaultMetrics: false },
    )
    tokens.admin = await token({ sub: 'admin', role: 'admin', teams: ['red'] })
    tokens.alice = await token({ sub: 'alice', role: 'user', teams: ['blue'] })
    for (let i = 0; i < 100 && (await http(server.httpUrl, 'GET', '/status')).json.strict?.role !== 'primary'; i++) await new Promise((r) => setTimeout(r, 50))
  })
  afterAll(() => server?.close())

  it('REST: reads and writes of crdt documents follow the rules; a refused write is not applied; the collection-wide conflict list needs collection-wide read', async () => {
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/alice%2F1', { n: 1 }, as('alice'))).status).toBe(200)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/alice%2F1', undefined, as('alice'))).status).toBe(200)
    const refused = await http(server.httpUrl, 'PUT', '/v1/notes/bob%2F1', { n: 2 }, as('alice'))
    expect(refused.status).toBe(403)
    expect(refused.json.error).toEqual({ code: 'FORBIDDEN', message: 'alice may not put notes/bob/1' })
    expect((await http(server.httpUrl, 'GET', '/v1/notes/bob%2F1', undefined, as('admin'))).status).toBe(404)
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/bob%2F1', { n: 3 }, as('admin'))).status).toBe(200)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/bob%2F1', undefined, as('alice'))).status).toBe(403)
    expect((await http(server.httpUrl, 'DELETE', '/v1/notes/bob%2F1', undefined, as('alice'))).status).toBe(403)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/_conflicts', undefined, as('alice'))).status).toBe(403)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/_conflicts', undefined, as('admin'))).status).toBe(200)
  })

  it('REST: strict writes are allowed per operation; a batch with one forbidden op is refused whole', async () => {
    expect((await http(server.httpUrl, 'PUT', '/v1/accounts/alice', { balance: 10 }, as('alice'))).status).toBe(403)
    expect((await http(server.httpUrl, 'PUT', '/v1/accounts/alice', { balance: 10 }, as('admin'))).status).toBe(200)
    expect((await http(server.httpUrl, 'PATCH', '/v1/accounts/alice', { balance: 11 }, as('alice'))).status).toBe(200)
    expect((await http(server.httpUrl, 'PATCH', '/v1/accounts/bob', { balance: 1 }, as('alice'))).status).toBe(403)
    expect((await http(server.httpUrl, 'DELETE', '/v1/accounts/alice', undefined, as('alice'))).status).toBe(403)
    const batch = await http(server.httpUrl, 'POST', '/v1/accounts/_batch', { ops: [{ op: 'patch', id: 'alice', fields: { balance: 12 } }, { op: 'patch', id: 'bob', fields: { balance: 99 } }] }, as('alice'))
    expect(batch.status).toBe(403)
    expect((await http(server.httpUrl, 'GET', '/v1/accounts/alice', undefined, as('alice'))).json.value).toEqual({ balance: 11 })
  })

  it('/sync: a client is sent only the documents it may read; a forbidden write is refused alone, typed, rolled back, and applied nowhere', async () => {
    // Written in this order: if bob's secret were sent, it would arrive before the public note.
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/bob%2Fsecret', { s: 'hidden' }, as('admin'))).status).toBe(200)
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/alice%2Fmine', { m: 1 }, as('admin'))).status).toBe(200)
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/public%2Finfo', { p: 1 }, as('admin'))).status).toBe(200)
    const client = createNodeClient({ urls: [server.url], token: tokens.alice as string, minDelayMs: 20, maxDelayMs: 100 })
    try {
      const notes = client.lww<Record<string, unknown>>('notes')
      const seen: Record<string, unknown> = {}
      for (const id of ['bob/secret', 'alice/mine', 'public/info']) notes.subscribe(id, (doc) => (seen[id] = doc))
      await expect.poll(() => notes.get('public/info'), { timeout: 5_000 }).toEqual({ p: 1 })
      expect(notes.get('alice/mine')).toEqual({ m: 1 })
      expect(notes.get('bob/secret')).toBeNull()
      // A later change to the secret is not streamed either.
      expect((await http(server.httpUrl, 'PUT', '/v1/notes/bob%2Fsecret', { s: 'still hidden' }, as('admin'))).status).toBe(200)
      expect((await http(server.httpUrl, 'PUT', '/v1/notes/public%2Finfo', { p: 2 }, as('admin'))).status).toBe(200)
      await expect.poll(() => notes.get('public/info'), { timeout: 5_000 }).toEqual({ p: 2 })
      expect(notes.get('bob/secret')).toBeNull()
      expect(seen['bob/secret'] ?? null).toBeNull()

      // Three writes in one batch: the middle two are refused, each alone; the session goes on.
      const rejections: unknown[] = []
      client.onWriteRejected((error) => rejections.push([error.code, error.collection, error.docId]))
      const before = notes.put('alice/mine', { m: 2 })
      const forged = notes.put('bob/forged', { by: 'alice' })
      const defaced = notes.patch('public/info', { p: 'defaced' })
      const after = notes.put('alice/mine', { m: 3 })
      expect(notes.get('public/info')).toEqual({ p: 'defaced' })
      await expect(forged.durable).rejects.toMatchObject({ name: 'WriteRejectedError', code: 'FORBIDDEN', serverMessage: 'alice may not write notes/bob/forged' })
      await expect(defaced.durable).rejects.toMatchObject({ code: 'FORBIDDEN', docId: 'public/info' })
      await before.durable
      await after.durable
      expect(rejections).toEqual([
        ['FORBIDDEN', 'notes', 'bob/forged'],
        ['FORBIDDEN', 'notes', 'public/info'],
      ])
      // The writer's copies are back at the region's: a document it may read as it was, one it may not gone.
      expect(notes.get('public/info')).toEqual({ p: 2 })
      expect(notes.get('bob/forged')).toBeNull()
      expect(notes.get('alice/mine')).toEqual({ m: 3 })
      expect(client.error).toBeNull()
      expect(client.status).toBe('connected')
      expect((await http(server.httpUrl, 'GET', '/v1/notes/bob%2Fforged', undefined, as('admin'))).status).toBe(404)
      expect((await http(server.httpUrl, 'GET', '/v1/notes/public%2Finfo', undefined, as('admin'))).json.doc).toEqual({ p: 2 })
      expect((await http(server.httpUrl, 'GET', '/v1/notes/alice%2Fmine', undefined, as('admin'))).json.doc).toEqual({ m: 3 })
      const metrics = await http(server.httpUrl, 'GET', '/metrics', undefined, as('admin'))
      expect(String(metrics.json)).toMatch(/meridian_changes_refused_total\{code="FORBIDDEN"\} 2/)
    } finally {
      await client.close()
    }
  })

  it('/sync, strict: a forbidden strict write or read gets a typed FORBIDDEN answer, nothing is written, and the session goes on', async () => {
    const client = createNodeClient({ urls: [server.url], token: tokens.alice as string, minDelayMs: 20, maxDelayMs: 100 })
    try {
      const accounts = client.strict<{ balance: number }>('accounts')
      await expect(accounts.put('alice', { balance: 1_000 })).rejects.toMatchObject({ code: 'FORBIDDEN' })
      await expect(accounts.patch('bob', { balance: 5 })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('alice may not patch accounts/bob') })
      const ok = await accounts.patch('alice', { balance: 20 })
      expect(ok.status).toBe('acknowledged')
      expect((await accounts.get('alice'))?.value).toEqual({ balance: 20 })
      expect(client.error).toBeNull()
      expect((await http(server.httpUrl, 'GET', '/v1/accounts/bob', undefined, as('admin'))).status).toBe(404)
    } finally {
      await client.close()
    }
  })

  it('/yjs: a room needs read and write; refused with 4403', async () => {
    const outcome = (who: string) => foreignSocketOutcome(server.url, '/yjs/room-1', tokens[who] as string)
    expect(await outcome('alice')).toBe(4403)
    expect(await outcome('admin')).toBe('open')
  })
})

describe('the embedded authorize callback', () => {
  let server: MeridianServer
  beforeAll(async () => {
    server = await createServer(
      { nodeId: 'perm-2', region: 'test', port: 0, storage: 'memory', collections: { notes: { mode: 'crdt', type: 'lww' } } },
      {
        logger: silentLogger,
        defaultMetrics: false,
        authorize: (principal, action, collection, docId) => {
          if (docId === 'boom') throw new Error('the app failed')
          return action === 'read' ? docId?.startsWith('ok') === true : principal.id === 'anonymous' && collection === 'notes'
        },
      },
    )
  })
  afterAll(() => server?.close())

  it('replaces the rules; a callback that throws denies', async () => {
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/ok1', { a: 1 })).status).toBe(200)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/ok1')).status).toBe(200)
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/hidden', { a: 1 })).status).toBe(200)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/hidden')).status).toBe(403)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/boom')).status).toBe(403)
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/boom', { a: 1 })).status).toBe(403)
  })
})

/**
 * Conflict records over REST and the embedded server's hook (docs/server.md, "Conflicts"), in process: a
 * region write and an older concurrent client write to the same field make one record; it is listed per
 * collection with a cursor, resolved by REST (idempotent) or by the `onConflict` hook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MessageType } from '../../core/codec/index.js'
import { encodeLwwPayload } from '../../core/crdt/lww-payload.js'
import type { StoredConflict } from '../../core/crdt/index.js'
import { silentLogger } from '../../server/logger.js'
import { createServer, type MeridianServer } from '../../server/server.js'
import { waitFor } from '../helpers/cluster.js'
import { COLLECTIONS, acceptedClient, http, type RawClient } from './in-process.js'

let server: MeridianServer
let base: string
let writer: RawClient
let seq = 0
const heard: StoredConflict[] = []

beforeAll(async () => {
  server = await createServer(
    { nodeId: 'solo', region: 'test', port: 0, storage: 'memory', collections: COLLECTIONS, maxConflictsPerDocument: 3 },
    {
      logger: silentLogger,
      defaultMetrics: false,
      onConflict: async (record, { resolve }) => {
        heard.push(record)
        if (record.docId.startsWith('hook-throws')) throw new Error('app bug')
        if (record.docId.startsWith('auto-')) await resolve(`${String(record.winner.value)}|${String(record.loser.value)}`)
      },
    },
  )
  base = server.httpUrl
  writer = await acceptedClient(server.url, 'old-writer')
})
afterAll(async () => {
  writer?.ws.close()
  await server?.close()
})

/**
 * The region writes `field` now, then a client's write to it stamped an hour ago arrives: concurrent
 * (neither saw the other), it loses, and the region keeps a conflict record.
 */
async function makeConflict(docId: string, field = 'title'): Promise<StoredConflict> {
  const put = await http(base, 'PATCH', `/v1/notes/${docId}`, { [field]: 'region', keep: 1 })
  expect(put.status).toBe(200)
  seq += 1
  const payload = encodeLwwPayload({ kind: 'write', writes: [{ field, deleted: false, value: 'client', base: null }] })
  const hlc = { wallMs: Date.now() - 3_600_000, counter: 0, node: 'old-writer' }
  writer.send({ type: MessageType.ChangeBatch, changes: [{ origin: 'old-writer', seq, hlc, collection: 'notes', docId, docType: 'lww', payload }] })
  let found: StoredConflict | undefined
  await waitFor(async () => {
    const res = await http(base, 'GET', `/v1/notes/${docId}/_conflicts`)
    found = (res.json.conflicts as StoredConflict[]).find((r) => r.field === field && r.loser.hlc.wallMs === hlc.wallMs)
    return found !== undefined
  }, 3_000, `a conflict record for ${docId}`)
  return found as StoredConflict
}

describe('conflict records over REST', () => {
  it('lists a collection oldest first with cursors that grow, in pages', async () => {
    const first = await makeConflict('list-1')
    const second = await makeConflict('list-2')
    expect(first).toMatchObject({ collection: 'notes', docId: 'list-1', field: 'title', resolved: false, winner: { origin: 'solo', value: 'region' }, loser: { origin: 'old-writer', value: 'client' } })
    expect(second.cursor).toBeGreaterThan(first.cursor)
    const all = await http(base, 'GET', '/v1/notes/_conflicts')
    expect(all.status).toBe(200)
    expect(all.json.node).toBe('solo')
    const cursors = (all.json.conflicts as StoredConflict[]).map((r) => r.cursor)
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b))
    expect(all.json.next).toBe(cursors[cursors.length - 1])
    const page = await http(base, 'GET', `/v1/notes/_conflicts?after=${first.cursor - 1}&limit=1`)
    expect(page.json).toEqual({ node: 'solo', conflicts: [first], next: first.cursor })
    const rest = await http(base, 'GET', `/v1/notes/_conflicts?after=${page.json.next}&limit=1000`)
    expect((rest.json.conflicts as StoredConflict[])[0]).toEqual(second)
    // Past the end: nothing, and next stays where it was (poll with it).
    const end = await http(base, 'GET', `/v1/notes/_conflicts?after=${all.json.next}`)
    expect(end.json).toEqual({ node: 'solo', conflicts: [], next: all.json.next })
  })

  it('refuses a bad cursor, limit or flag with 400, an unknown collection with 404, other types clearly', async () => {
    for (const query of ['after=-1', 'after=abc', 'after=1.5', 'after=99999999999999999', 'limit=0', 'limit=1001', 'limit=x', 'unresolved=maybe']) {
      const res = await http(base, 'GET', `/v1/notes/_conflicts?${query}`)
      expect(res.status, query).toBe(400)
      expect(res.json.error.code, query).toBe('BAD_REQUEST')
    }
    const unknown = await http(base, 'GET', '/v1/nope/_conflicts')
    expect(unknown.status).toBe(404)
    expect(unknown.json.error.code).toBe('UNKNOWN_COLLECTION')
    const yjs = await http(base, 'GET', '/v1/docs/_conflicts')
    expect(yjs.status).toBe(400)
    expect(yjs.json.error).toMatchObject({ code: 'UNSUPPORTED_FOR_TYPE', message: expect.stringMatching(/only lww collections have conflict records/) })
    expect((await http(base, 'GET', '/v1/docs/d1/_conflicts')).json.error.code).toBe('UNSUPPORTED_FOR_TYPE')
    const strict = await http(base, 'GET', '/v1/accounts/_conflicts')
    expect(strict.status).toBe(400)
    expect(strict.json.error.message).toMatch(/strict collections have no conflicts/)
    expect((await http(base, 'POST', '/v1/accounts/a1/_conflicts/1/resolve', { value: 1 })).status).toBe(400)
  })

  it('resolves by REST: the value wins, the record shows resolved, a second call writes nothing', async () => {
    const record = await makeConflict('rest-1')
    const path = `/v1/notes/rest-1/_conflicts/${record.cursor}/resolve`
    const res = await http(base, 'POST', path, { value: { merged: ['region', 'client'] } })
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ alreadyResolved: false, ack: 'local', conflict: { cursor: record.cursor, resolved: true, resolution: { value: { merged: ['region', 'client'] }, deleted: false, origin: 'solo' } } })
    expect(res.headers.get('x-meridian-token')).toBe(res.json.token)
    expect((await http(base, 'GET', '/v1/notes/rest-1')).json.doc).toEqual({ title: { merged: ['region', 'client'] }, keep: 1 })
    const vector = server.node.mesh.vector.get('solo')
    const again = await http(base, 'POST', path, { value: 'something else' })
    expect(again.status).toBe(200)
    expect(again.json).toMatchObject({ alreadyResolved: true, ack: 'local', conflict: { resolved: true, resolution: { value: { merged: ['region', 'client'] } } } })
    expect(server.node.mesh.vector.get('solo')).toBe(vector)
    const listed = (await http(base, 'GET', '/v1/notes/_conflicts?limit=1000')).json.conflicts as StoredConflict[]
    expect(listed.find((r) => r.cursor === record.cursor)).toMatchObject({ resolved: true })
    const unresolved = (await http(base, 'GET', '/v1/notes/_conflicts?unresolved=1&limit=1000')).json.conflicts as StoredConflict[]
    expect(unresolved.map((r) => r.cursor)).not.toContain(record.cursor)
    expect((await http(base, 'GET', '/v1/notes/rest-1/_conflicts?unresolved=1')).json.conflicts).toEqual([])
  })

  it('resolves to a deletion with { "deleted": true }; refuses a bad body, an unknown cursor or another document', async () => {
    const record = await makeConflict('rest-2')
    const path = `/v1/notes/rest-2/_conflicts/${record.cursor}/resolve`
    for (const body of [{}, { value: 1, deleted: true }, { deleted: false }, { other: 1 }, '[1]', 'not json']) {
      const res = await http(base, 'POST', path, body)
      expect(res.status, JSON.stringify(body)).toBe(400)
    }
    expect((await http(base, 'POST', `/v1/notes/rest-2/_conflicts/abc/resolve`, { value: 1 })).status).toBe(400)
    expect((await http(base, 'POST', `/v1/notes/rest-2/_conflicts/999999/resolve`, { value: 1 })).status).toBe(404)
    expect((await http(base, 'POST', `/v1/notes/other-doc/_conflicts/${record.cursor}/resolve`, { value: 1 })).status).toBe(404)
    const tooDeep = await http(base, 'POST', path, { value: JSON.parse('['.repeat(80) + ']'.repeat(80)) })
    expect(tooDeep.status).toBe(400)
    expect(tooDeep.json.error.code).toBe('INVALID_VALUE')
    const res = await http(base, 'POST', `${path}?w=all`, { deleted: true })
    expect(res.json).toMatchObject({ ack: 'all', conflict: { resolved: true, resolution: { deleted: true, value: null } } })
    expect((await http(base, 'GET', '/v1/notes/rest-2')).json.doc).toEqual({ keep: 1 })
  })

  it('keeps at most maxConflictsPerDocument records of a document: the oldest go', async () => {
    for (let i = 0; i < 5; i++) await makeConflict('capped', `f${i}`)
    const records = (await http(base, 'GET', '/v1/notes/capped/_conflicts')).json.conflicts as StoredConflict[]
    expect(records.map((r) => r.field)).toEqual(['f2', 'f3', 'f4'])
  })
})

describe('the onConflict hook of an embedded server', () => {
  it('hears each record once it is durable and resolves it: the value wins, the record shows resolved', async () => {
    const record = await makeConflict('auto-1')
    await waitFor(async () => (await http(base, 'GET', '/v1/notes/auto-1')).json.doc?.title === 'region|client', 3_000, 'the hook resolution')
    const listed = (await http(base, 'GET', '/v1/notes/auto-1/_conflicts')).json.conflicts as StoredConflict[]
    expect(listed).toEqual([expect.objectContaining({ cursor: record.cursor, resolved: true, resolution: expect.objectContaining({ value: 'region|client' }) })])
    expect(heard.filter((r) => r.docId === 'auto-1').map((r) => r.cursor)).toEqual([record.cursor])
    // The resolution is a write of its own: it made no new record.
    expect(heard.some((r) => r.docId === 'auto-1' && r.cursor !== record.cursor)).toBe(false)
  })

  it('a hook that throws leaves the record unresolved and the node serving', async () => {
    const record = await makeConflict('hook-throws-1')
    await waitFor(() => heard.some((r) => r.cursor === record.cursor), 3_000, 'the hook call')
    const unresolved = (await http(base, 'GET', '/v1/notes/_conflicts?unresolved=true&limit=1000')).json.conflicts as StoredConflict[]
    expect(unresolved.map((r) => r.cursor)).toContain(record.cursor)
    expect((await http(base, 'GET', '/healthz')).status).toBe(200)
  })
})

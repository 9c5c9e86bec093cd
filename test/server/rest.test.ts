import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeVersionVector } from '../../core/clock/version-vector.js'
import type { MeridianServer } from '../../server/server.js'
import { http, startServer } from './in-process.js'

let server: MeridianServer
let base: string

beforeAll(async () => {
  server = await startServer({ nodeId: 'eu-1', maxBodyBytes: 1024 })
  base = server.httpUrl
})
afterAll(() => server.close())

function vectorOf(token: string): Map<string, number> {
  return decodeVersionVector(Buffer.from(token, 'base64url'))
}

describe('REST on lww collections', () => {
  it('PUT creates, GET reads, with a token that is the encoded version vector', async () => {
    const put = await http(base, 'PUT', '/v1/notes/n1', { title: 'hello', tags: ['a'], n: 1 })
    expect(put.status).toBe(200)
    expect(put.json).toMatchObject({ collection: 'notes', id: 'n1', doc: { title: 'hello', tags: ['a'], n: 1 }, ack: 'local' })
    expect(vectorOf(put.json.token).get('eu-1')).toBeGreaterThanOrEqual(1)
    const get = await http(base, 'GET', '/v1/notes/n1')
    expect(get.status).toBe(200)
    expect(get.json).toEqual({ collection: 'notes', id: 'n1', doc: { n: 1, tags: ['a'], title: 'hello' }, token: put.json.token })
  })

  it('PUT replaces the whole document', async () => {
    await http(base, 'PUT', '/v1/notes/n2', { a: 1, b: 2 })
    const put = await http(base, 'PUT', '/v1/notes/n2', { b: 3, c: null })
    expect(put.json.doc).toEqual({ b: 3, c: null })
    expect((await http(base, 'GET', '/v1/notes/n2')).json.doc).toEqual({ b: 3, c: null })
  })

  it('PATCH is a JSON merge patch: null deletes, nested objects merge, arrays replace', async () => {
    await http(base, 'PUT', '/v1/notes/n3', { title: 't', done: false, meta: { x: 1, y: 2 }, list: [1, 2] })
    const patch = await http(base, 'PATCH', '/v1/notes/n3', { done: true, title: null, meta: { y: null, z: 3 }, list: [3] })
    expect(patch.status).toBe(200)
    expect((await http(base, 'GET', '/v1/notes/n3')).json.doc).toEqual({ done: true, meta: { x: 1, z: 3 }, list: [3] })
    // A patch creates a missing document.
    await http(base, 'PATCH', '/v1/notes/fresh', { a: 1, gone: null })
    expect((await http(base, 'GET', '/v1/notes/fresh')).json.doc).toEqual({ a: 1 })
  })

  it('PATCH answers the fields it named as they are after the write (null: deleted), not the document', async () => {
    await http(base, 'PUT', '/v1/notes/n7', { title: 't', done: false, meta: { x: 1, y: 2 }, other: 'kept' })
    const patch = await http(base, 'PATCH', '/v1/notes/n7', { done: true, title: null, meta: { y: null, z: 3 }, never: null })
    expect(patch.json).toEqual({
      collection: 'notes',
      id: 'n7',
      fields: { done: true, title: null, meta: { x: 1, z: 3 }, never: null },
      token: patch.json.token,
      ack: 'local',
    })
    expect(vectorOf(patch.json.token).get('eu-1')).toBeGreaterThanOrEqual(1)
    expect((await http(base, 'GET', '/v1/notes/n7')).json.doc).toEqual({ done: true, meta: { x: 1, z: 3 }, other: 'kept' })
  })

  it('[IN1] a PATCH that would make the document larger than maxDocumentBytes is 400 INVALID_VALUE, and nothing is written', async () => {
    const small = await startServer({ nodeId: 'eu-2', values: { maxDocumentBytes: 200 } })
    try {
      expect((await http(small.httpUrl, 'PUT', '/v1/notes/big', { a: 'x'.repeat(90) })).status).toBe(200)
      const grow = await http(small.httpUrl, 'PATCH', '/v1/notes/big', { b: 'y'.repeat(90), c: 'z'.repeat(90) })
      expect(grow.status).toBe(400)
      expect(grow.json.error).toMatchObject({ code: 'INVALID_VALUE', rule: 'maxDocumentBytes', limit: 200, path: '$' })
      expect((await http(small.httpUrl, 'GET', '/v1/notes/big')).json.doc).toEqual({ a: 'x'.repeat(90) })
      // Replacing the big field instead fits.
      expect((await http(small.httpUrl, 'PATCH', '/v1/notes/big', { a: null, b: 'y'.repeat(90) })).status).toBe(200)
      const metrics = await http(small.httpUrl, 'GET', '/metrics')
      expect(metrics.json).toMatch(/meridian_invalid_values_total\{surface="rest"\} 1/)
    } finally {
      await small.close()
    }
  })

  it('DELETE removes the document; GET then answers NOT_FOUND', async () => {
    await http(base, 'PUT', '/v1/notes/n4', { a: 1 })
    const del = await http(base, 'DELETE', '/v1/notes/n4')
    expect(del.status).toBe(200)
    expect(del.json).toMatchObject({ collection: 'notes', id: 'n4', doc: null, ack: 'local' })
    const get = await http(base, 'GET', '/v1/notes/n4')
    expect(get.status).toBe(404)
    expect(get.json.error.code).toBe('NOT_FOUND')
  })

  it('a write after a delete brings the document back with only the new fields', async () => {
    await http(base, 'PUT', '/v1/notes/n5', { a: 1, b: 2 })
    await http(base, 'DELETE', '/v1/notes/n5')
    expect((await http(base, 'PATCH', '/v1/notes/n5', { c: 3 })).json.fields).toEqual({ c: 3 })
    expect((await http(base, 'GET', '/v1/notes/n5')).json.doc).toEqual({ c: 3 })
  })

  it('w=all on a single node resolves "all" (every member is this node)', async () => {
    expect((await http(base, 'PUT', '/v1/notes/n6?w=all', { a: 1 })).json.ack).toBe('all')
  })

  it('ids with reserved characters round-trip', async () => {
    const id = encodeURIComponent('a b/ü?')
    expect((await http(base, 'PUT', `/v1/notes/${id}`, { ok: true })).json.id).toBe('a b/ü?')
    expect((await http(base, 'GET', `/v1/notes/${id}`)).json.doc).toEqual({ ok: true })
  })

  it('lists conflict records, empty for an uncontended document', async () => {
    const res = await http(base, 'GET', '/v1/notes/n1/_conflicts')
    expect(res.status).toBe(200)
    expect(res.json).toEqual({ conflicts: [] })
  })
})

describe('REST errors', () => {
  const cases: [string, string, string, unknown, number, string][] = [
    ['unknown collection', 'GET', '/v1/nope/x', undefined, 404, 'UNKNOWN_COLLECTION'],
    ['unknown collection (write)', 'PUT', '/v1/nope/x', { a: 1 }, 404, 'UNKNOWN_COLLECTION'],
    ['prototype names are not collections', 'GET', '/v1/constructor/x', undefined, 404, 'UNKNOWN_COLLECTION'],
    ['missing document', 'GET', '/v1/notes/missing', undefined, 404, 'NOT_FOUND'],
    ['writes to a yjs collection', 'PUT', '/v1/docs/d1', { a: 1 }, 400, 'UNSUPPORTED_FOR_TYPE'],
    ['patch on a yjs collection', 'PATCH', '/v1/docs/d1', { a: 1 }, 400, 'UNSUPPORTED_FOR_TYPE'],
    ['a strict write concern that does not exist', 'PUT', '/v1/accounts/acc1?w=quorum', { balance: 1 }, 400, 'BAD_REQUEST'],
    ['a missing strict document', 'GET', '/v1/accounts/nobody', undefined, 404, 'NOT_FOUND'],
    ['a strict batch without ops', 'POST', '/v1/accounts/_batch', [], 400, 'BAD_REQUEST'],
    ['a strict read token that is not one', 'GET', '/v1/accounts/acc1?after=latest', undefined, 400, 'BAD_REQUEST'],
    ['invalid JSON', 'PUT', '/v1/notes/bad', '{"a":', 400, 'BAD_REQUEST'],
    ['an array body', 'PUT', '/v1/notes/bad', [1, 2], 400, 'BAD_REQUEST'],
    ['a null body', 'PATCH', '/v1/notes/bad', 'null', 400, 'BAD_REQUEST'],
    ['a bad write concern', 'PUT', '/v1/notes/bad?w=majority', { a: 1 }, 400, 'BAD_REQUEST'],
    ['a body above maxBodyBytes', 'PUT', '/v1/notes/big', { blob: 'x'.repeat(2000) }, 413, 'PAYLOAD_TOO_LARGE'],
    ['an unknown route', 'GET', '/v2/notes/x', undefined, 404, 'NOT_FOUND'],
  ]
  for (const [name, method, path, body, status, code] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const res = await http(base, method, path, body)
      expect(res.status).toBe(status)
      expect(res.json).toEqual({ error: { code, message: expect.any(String) } })
    })
  }

  it('a refused write changes nothing', async () => {
    await http(base, 'PUT', '/v1/notes/big', { blob: 'x'.repeat(5000) })
    expect((await http(base, 'GET', '/v1/notes/big')).status).toBe(404)
  })
})

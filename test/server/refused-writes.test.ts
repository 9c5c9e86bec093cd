import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { createNodeClient } from '../../client/node.js'
import type { WriteRejectedError } from '../../client/errors.js'
import { memoryClientStore, type ClientStore } from '../../client/store.js'
import type { MeridianServer } from '../../server/server.js'
import { http, startServer } from './in-process.js'

/**
 * Refused writes (docs/security.md, "Refused writes"): a region that will not log one crdt change — a
 * value it does not store, a document grown past `limits.maxDocumentBytes` — refuses that change alone,
 * typed; the writer's copy returns to the region's, its other writes go on, nothing of it is anywhere.
 */
describe('refused crdt writes on a running server', () => {
  let server: MeridianServer
  beforeAll(async () => {
    server = await startServer({
      collections: { notes: { mode: 'crdt', type: 'lww' }, docs: { mode: 'crdt', type: 'yjs' } },
      yjsRoomCollection: 'docs',
      // Tighter than the client's own checks, so the client sends what this region refuses.
      values: { maxStringBytes: 64 },
      limits: { maxDocumentBytes: 8 * 1024 },
    })
  })
  afterAll(async () => {
    await server.close()
  })

  const metric = async (pattern: RegExp): Promise<number> => {
    const text = String((await http(server.httpUrl, 'GET', '/metrics')).json)
    return Number(pattern.exec(text)?.[1] ?? 0)
  }

  it('INVALID_VALUE: a string the region does not store is refused alone; the field returns to the region\'s value', async () => {
    const client = createNodeClient({ urls: [server.url], minDelayMs: 20, maxDelayMs: 100 })
    try {
      const notes = client.lww<Record<string, unknown>>('notes')
      notes.subscribe('n1', () => undefined)
      await notes.put('n1', { title: 'short' }).durable
      const long = notes.patch('n1', { title: 'x'.repeat(100) })
      const other = notes.patch('n1', { done: true })
      expect(notes.get('n1')).toEqual({ title: 'x'.repeat(100), done: true })
      const error = (await long.durable.catch((e: unknown) => e)) as WriteRejectedError
      expect(error).toMatchObject({ name: 'WriteRejectedError', code: 'INVALID_VALUE', collection: 'notes', docId: 'n1', seq: long.seq })
      expect(error.serverMessage).toContain('maxStringBytes')
      await other.replicated
      expect(notes.get('n1')).toEqual({ title: 'short', done: true })
      expect((await http(server.httpUrl, 'GET', '/v1/notes/n1')).json.doc).toEqual({ title: 'short', done: true })
      expect(client.status).toBe('connected')
      expect(await metric(/meridian_changes_refused_total\{code="INVALID_VALUE"\} (\d+)/)).toBe(1)
    } finally {
      await client.close()
    }
  })

  it('TOO_LARGE: a Yjs edit that would grow the document past the limit is refused; open handles get the rebuilt document', async () => {
    const client = createNodeClient({ urls: [server.url], minDelayMs: 20, maxDelayMs: 100 })
    try {
      const docs = client.yjs('docs')
      const handle = docs.open('d1')
      const first: Y.Doc = handle.doc
      const replaced: Y.Doc[] = []
      handle.onReplaced((doc) => replaced.push(doc))
      await docs.edit('d1', (doc) => doc.getText('text').insert(0, 'hello')).durable
      const paste = docs.edit('d1', (doc) => doc.getText('text').insert(5, 'y'.repeat(10_000)))
      expect(first.getText('text').length).toBe(10_005)
      await expect(paste.durable).rejects.toMatchObject({ code: 'TOO_LARGE', docId: 'd1' })
      expect(replaced).toHaveLength(1)
      expect(handle.doc).toBe(replaced[0])
      expect(handle.doc.getText('text').toString()).toBe('hello')
      // The new document is bound: an edit to it is synced.
      handle.doc.getText('text').insert(5, ' world')
      await expect.poll(async () => (await http(server.httpUrl, 'GET', '/v1/docs/d1')).json.doc?.text, { timeout: 5_000 }).toBe('hello world')
      expect(await metric(/meridian_limit_refusals_total\{limit="documentBytes"\} (\d+)/)).toBe(1)
      expect(await metric(/meridian_changes_refused_total\{code="TOO_LARGE"\} (\d+)/)).toBe(1)
      handle.close()
    } finally {
      await client.close()
    }
  })

  it('TOO_LARGE on REST: a write that would grow a document past the limit is refused 413, nothing of it applied', async () => {
    const fields = (prefix: string, count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, 'v'.repeat(40)]))
    const big = fields('a', 100)
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/big', big)).status).toBe(200)
    const refused = await http(server.httpUrl, 'PATCH', '/v1/notes/big', fields('b', 100))
    expect(refused.status).toBe(413)
    expect(refused.json.error.code).toBe('TOO_LARGE')
    expect((await http(server.httpUrl, 'GET', '/v1/notes/big')).json.doc).toEqual(big)
  })

  it('TOO_LARGE on /yjs: an update that would grow the room past the limit closes the socket 4413, nothing of it applied', async () => {
    const doc = new Y.Doc()
    doc.getText('text').insert(0, 'q'.repeat(10_000))
    const frame = encoding.createEncoder()
    encoding.writeVarUint(frame, 0) // sync
    encoding.writeVarUint(frame, 2) // update
    encoding.writeVarUint8Array(frame, Y.encodeStateAsUpdate(doc))
    const ws = new WebSocket(`${server.url.replace(/\/sync$/, '')}/yjs/big-room`)
    ws.on('error', () => {})
    await new Promise((resolve) => ws.on('open', resolve))
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
    ws.send(encoding.toUint8Array(frame))
    expect(await closed).toBe(4413)
    const reply = await http(server.httpUrl, 'GET', '/v1/docs/big-room')
    expect(reply.status === 404 || reply.json.doc.text === '').toBe(true)
  })

  it('a restart, even right after a crash, never replays a refused write: the void entry replaced it in the store', async () => {
    const store = memoryClientStore()
    const clientId = 'c-restart'
    const first = createNodeClient({ urls: [server.url], clientId, store, minDelayMs: 20, maxDelayMs: 100 })
    const notes = first.lww<Record<string, unknown>>('notes')
    const refused = notes.put('n2', { title: 'z'.repeat(100) })
    await expect(refused.durable).rejects.toMatchObject({ code: 'INVALID_VALUE' })
    // What a crash now would leave: the store as it is, no last save.
    const changes = [...store.changes]
    const documents = store.loadDocuments()
    expect(changes.filter((change) => change.origin === clientId).every((change) => change.payload.length === 0)).toBe(true)
    const crashed: ClientStore = { load: () => changes, loadDocuments: () => documents, saveDocuments: () => undefined, dropChanges: () => undefined, append: () => undefined, close: () => undefined }
    await first.close()
    for (const kept of [crashed, store]) {
      const again = createNodeClient({ urls: [server.url], clientId, store: kept, minDelayMs: 20, maxDelayMs: 100 })
      try {
        expect(again.lww<Record<string, unknown>>('notes').get('n2')).toBeNull()
      } finally {
        await again.close()
      }
    }
  })
})

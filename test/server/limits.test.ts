import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CloseCode, MessageType } from '../../core/codec/index.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/index.js'
import { createNodeClient } from '../../client/node.js'
import type { ConnectionError } from '../../client/errors.js'
import { ConnectionsPerIp, TokenBucket } from '../../server/limits.js'
import type { MeridianServer } from '../../server/server.js'
import { acceptedClient, foreignSocketOutcome, http, startServer } from './in-process.js'

/** Per-client limits (docs/security.md, "Limits"): connections per IP and writes per second per connection. */

describe('limit primitives', () => {
  it('a token bucket allows bursts of twice the rate (at least minBurst) and refills at the rate', () => {
    const bucket = new TokenBucket(10)
    expect(bucket.take(20, 0)).toBe(true)
    expect(bucket.take(1, 0)).toBe(false)
    expect(bucket.take(5, 500)).toBe(true)
    expect(bucket.take(1, 500)).toBe(false)
    expect(new TokenBucket(10, 256).take(256, 0)).toBe(true)
    expect(new TokenBucket(0).take(1_000_000, 0)).toBe(true)
  })

  it('connections per IP are counted until released; 0 means no limit', () => {
    const perIp = new ConnectionsPerIp(2)
    expect([perIp.admit('a'), perIp.admit('a'), perIp.admit('a'), perIp.admit('b')]).toEqual([true, true, false, true])
    perIp.release('a')
    expect(perIp.admit('a')).toBe(true)
    expect(new ConnectionsPerIp(0).admit('x')).toBe(true)
  })
})

describe('limits on a running server', () => {
  let server: MeridianServer
  beforeAll(async () => {
    server = await startServer({
      collections: { notes: { mode: 'crdt', type: 'lww' }, rooms: { mode: 'crdt', type: 'yjs' } },
      yjsRoomCollection: 'rooms',
      limits: { maxConnectionsPerIp: 3, maxWritesPerSecond: 100, maxDocumentsPerConnection: 10 },
    })
  })
  afterAll(() => server?.close())

  const metric = async (limit: string): Promise<number> => {
    const text = (await http(server.httpUrl, 'GET', '/metrics')).json as string
    return Number(new RegExp(`^meridian_limit_refusals_total\\{limit="${limit}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
  }

  it('a fourth client socket from one address is refused (HTTP 429 on /sync, close 4503 on /yjs) until one closes', async () => {
    const open = [await acceptedClient(server.url, 'c-1'), await acceptedClient(server.url, 'c-2'), await acceptedClient(server.url, 'c-3')]
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(server.url)
      ws.on('error', (err) => resolve(err.message))
      ws.on('open', () => resolve('open'))
    })
    expect(refused).toMatch(/429/)
    expect(await foreignSocketOutcome(server.url, '/yjs/r1')).toBe(4503)
    expect(await metric('connectionsPerIp')).toBe(2)
    open[0]?.ws.close()
    await open[0]?.closed
    const again = await acceptedClient(server.url, 'c-4')
    for (const client of [...open.slice(1), again]) client.ws.terminate()
  })

  it('a connection sending more writes per second than allowed (beyond its burst) is closed OVERLOADED; nothing of the refused frame is applied', async () => {
    const client = await acceptedClient(server.url, 'c-fast')
    const batch = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        origin: 'c-fast',
        collection: 'notes',
        docType: 'lww' as const,
        seq: from + i,
        hlc: { wallMs: Date.now(), counter: from + i, node: 'c-fast' },
        docId: `fast-${from + i}`,
        payload: lwwPutPayload(new LwwReplica({ collection: 'notes', docId: `fast-${from + i}` }), { i: from + i }),
      }))
    const before = await metric('writesPerSecond')
    client.send({ type: MessageType.ChangeBatch, changes: batch(1, 200) })
    client.send({ type: MessageType.ChangeBatch, changes: batch(201, 200) })
    expect((await client.closed).code).toBe(CloseCode.OVERLOADED)
    expect(await metric('writesPerSecond')).toBe(before + 1)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/fast-200')).status).toBe(200)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/fast-201')).status).toBe(404)
  })

  it("Meridian's client writing faster than the limit is slowed, not failed: every write becomes durable", async () => {
    const errors: ConnectionError[] = []
    const client = createNodeClient({ urls: [server.url], minDelayMs: 50, maxDelayMs: 200 })
    client.onError((e) => errors.push(e))
    try {
      const notes = client.lww<{ n: number }>('notes')
      const handles = Array.from({ length: 700 }, (_, n) => notes.put(`slowed-${n}`, { n }))
      await Promise.all(handles.map((h) => h.durable))
      expect(errors.some((e) => e.code === 'OVERLOADED')).toBe(true)
      expect(client.error).toBeNull()
      expect((await http(server.httpUrl, 'GET', '/v1/notes/slowed-699')).json.doc).toEqual({ n: 699 })
    } finally {
      await client.close()
    }
  }, 30_000)

  it('a subscription to more single documents than allowed closes the connection FORBIDDEN; up to the limit is fine', async () => {
    const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ collection: 'notes', docId: `d${i}` }))
    const subscribe = (id: number, n: number) => ({ type: MessageType.Subscribe, id, collections: [], documents: refs(n), fetchCollections: [], fetchDocuments: [] }) as const
    const before = await metric('documentsPerConnection')
    const fine = await acceptedClient(server.url, 'c-docs-ok')
    fine.send(subscribe(1, 10))
    const over = await acceptedClient(server.url, 'c-docs-over')
    over.send(subscribe(1, 11))
    expect((await over.closed).code).toBe(CloseCode.FORBIDDEN)
    expect(await metric('documentsPerConnection')).toBe(before + 1)
    expect(fine.ws.readyState).toBe(WebSocket.OPEN)
    fine.ws.terminate()
  })
})

import { encodeLwwPayload } from '../../core/crdt/lww-payload.js'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { MessageType, type Message } from '../../core/codec/index.js'
import { silentLogger } from '../../server/logger.js'
import { createServer } from '../../server/server.js'
import { waitFor } from '../helpers/cluster.js'
import { acceptedClient, http, startCluster, type InProcessCluster } from './in-process.js'

const open: InProcessCluster[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})
afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

async function cluster(topology: 'mesh' | 'chain', extra: Record<string, unknown> = {}): Promise<InProcessCluster> {
  const c = await startCluster(['a', 'b', 'c'], topology, extra)
  open.push(c)
  await c.waitConnected()
  return c
}

async function eventually(base: string, path: string, expected: unknown, timeoutMs = 3_000): Promise<void> {
  await waitFor(async () => {
    const res = await http(base, 'GET', path)
    return res.status === 200 && JSON.stringify(res.json.doc) === JSON.stringify(expected)
  }, timeoutMs, `${path} = ${JSON.stringify(expected)} at ${base}`)
}

describe.each(['mesh', 'chain'] as const)('three in-process regions, %s', (topology) => {
  it('[CV2] a PUT at A is visible at C, and w=all resolves "all"', async () => {
    const c = await cluster(topology)
    const a = c.server('a').httpUrl
    const cUrl = c.server('c').httpUrl
    const put = await http(a, 'PUT', '/v1/notes/x?w=all', { from: 'a' })
    expect(put.json.ack).toBe('all')
    await eventually(cUrl, '/v1/notes/x', { from: 'a' })
    // Every region learns every region's durable vector, a chain included (acks are gossiped).
    await waitFor(async () => {
      for (const server of c.servers.values()) {
        const status = (await http(server.httpUrl, 'GET', '/status')).json
        if ((status.replicatedVector.a ?? 0) < 1) return false
        if (status.peers.some((p: { lagEntries: number }) => p.lagEntries !== 0)) return false
      }
      return true
    }, 3_000, 'replicated everywhere, no lag')
    const patch = await http(cUrl, 'PATCH', '/v1/notes/x?w=all', { from: null, by: 'c' })
    expect(patch.json.ack).toBe('all')
    await eventually(a, '/v1/notes/x', { by: 'c' })
  })
})

describe('three in-process regions', () => {
  it('tells a client when its own write is durable in every region (Replicated), naming only the client', async () => {
    const c = await cluster('chain')
    const client = await acceptedClient(c.server('c').url, 'client-1')
    // Streaming starts once the client has said what it holds.
    client.send({ type: MessageType.VersionVector, vector: new Map() })
    await http(c.server('a').httpUrl, 'PUT', '/v1/notes/r?w=all', { v: 1 })
    // The client receives the region's change itself …
    await client.next((m: Message) => m.type === MessageType.ChangeBatch && m.changes.some((ch) => ch.origin === 'a'))
    // … and for its own write, an Ack and a Replicated that carry its own entry and nothing else: their
    // size does not grow with the number of writers.
    const payload = encodeLwwPayload({ kind: 'write', writes: [{ field: 'v', deleted: false, value: 2, base: null }] })
    client.send({
      type: MessageType.ChangeBatch,
      changes: [{ origin: 'client-1', seq: 1, hlc: { wallMs: Date.now(), counter: 0, node: 'client-1' }, collection: 'notes', docId: 'mine', docType: 'lww', payload }],
    })
    const ack = (await client.next((m: Message) => m.type === MessageType.Ack && (m.durable.get('client-1') ?? 0) >= 1)) as Extract<Message, { type: typeof MessageType.Ack }>
    expect([...ack.durable.keys()]).toEqual(['client-1'])
    const replicated = (await client.next(
      (m: Message) => m.type === MessageType.Replicated && (m.vector.get('client-1') ?? 0) >= 1,
      5_000,
    )) as Extract<Message, { type: typeof MessageType.Replicated }>
    expect([...replicated.vector.keys()]).toEqual(['client-1'])
    client.ws.close()
  })

  it('[ST3] w=all answers "indeterminate" when a region is down, never failed', async () => {
    const c = await cluster('mesh', { ackTimeoutMs: 300 })
    await c.server('c').close()
    const put = await http(c.server('a').httpUrl, 'PUT', '/v1/notes/down?w=all', { v: 1 })
    expect(put.status).toBe(200)
    expect(put.json.ack).toBe('indeterminate')
    expect((await http(c.server('b').httpUrl, 'GET', '/v1/notes/down')).status).toBeOneOf([200, 404])
    await waitFor(() => c.server('a').peers.stateOf('c') === 'down' || c.server('a').peers.stateOf('c') === 'connecting', 2_000, 'c down at a')
  })

  it('a restarted region is redialled and caught up through version vectors', async () => {
    const c = await cluster('mesh')
    await http(c.server('a').httpUrl, 'PUT', '/v1/notes/before', { v: 1 })
    const old = c.server('c')
    await old.close()
    await http(c.server('a').httpUrl, 'PUT', '/v1/notes/during', { v: 2 })
    const fresh = await createServer(old.config, { logger: silentLogger, defaultMetrics: false })
    c.servers.set('c', fresh)
    await c.waitConnected()
    await eventually(fresh.httpUrl, '/v1/notes/before', { v: 1 })
    await eventually(fresh.httpUrl, '/v1/notes/during', { v: 2 })
  })
})

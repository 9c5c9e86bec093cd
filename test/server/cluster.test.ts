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
  it('sends Replicated to clients once a write is durable in every region', async () => {
    const c = await cluster('chain')
    const client = await acceptedClient(c.server('c').url, 'client-1')
    // Streaming starts once the client has said what it holds.
    client.send({ type: MessageType.VersionVector, vector: new Map() })
    await http(c.server('a').httpUrl, 'PUT', '/v1/notes/r?w=all', { v: 1 })
    const replicated = (await client.next(
      (m: Message) => m.type === MessageType.Replicated && (m.vector.get('a') ?? 0) >= 1,
    )) as Extract<Message, { type: typeof MessageType.Replicated }>
    expect(replicated.vector.get('a')).toBeGreaterThanOrEqual(1)
    // The client also receives the change itself.
    await client.next((m: Message) => m.type === MessageType.ChangeBatch && m.changes.some((ch) => ch.origin === 'a'))
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

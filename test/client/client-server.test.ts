import { freePort } from '../helpers/cluster.js'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { MeridianClient } from '../../client/client.js'
import { createNodeClient } from '../../client/node.js'
import { createServer, silentLogger, type MeridianServer, type ServerConfigInput } from '../../server/index.js'

/**
 * The client against real in-process regional servers: three nodes in a full mesh on loopback,
 * memory storage, clients connected through `meridian/client/node` (the `ws` WebSocket).
 */

const IDS = ['a-1', 'b-1', 'c-1'] as const
type Id = (typeof IDS)[number]

const COLLECTIONS = {
  notes: { mode: 'crdt', type: 'lww' },
  docs: { mode: 'crdt', type: 'yjs' },
  boards: { mode: 'crdt', type: 'automerge' },
} as const

interface Cluster {
  readonly configs: Map<Id, ServerConfigInput>
  readonly servers: Map<Id, MeridianServer>
  server(id: Id): MeridianServer
  url(id: Id): string
  start(id: Id): Promise<MeridianServer>
  stop(id: Id): Promise<void>
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})


async function startCluster(): Promise<Cluster> {
  const ports = new Map<Id, number>()
  for (const id of IDS) ports.set(id, await freePort())
  const configs = new Map<Id, ServerConfigInput>()
  for (const id of IDS) {
    configs.set(id, {
      nodeId: id,
      region: id.slice(0, 1),
      host: '127.0.0.1',
      port: ports.get(id) as number,
      storage: 'memory',
      collections: COLLECTIONS,
      peerSecret: 'test-secret',
      members: [...IDS],
      heartbeatIntervalMs: 500,
      reconnect: { minDelayMs: 20, maxDelayMs: 200 },
      peers: IDS.filter((other) => other !== id).map((other) => ({
        nodeId: other,
        region: other.slice(0, 1),
        url: `ws://127.0.0.1:${ports.get(other)}/peer`,
        httpUrl: `http://127.0.0.1:${ports.get(other)}`,
      })),
    })
  }
  const servers = new Map<Id, MeridianServer>()
  const cluster: Cluster = {
    configs,
    servers,
    server(id) {
      const server = servers.get(id)
      if (!server) throw new Error(`${id} is not running`)
      return server
    },
    url: (id) => `ws://127.0.0.1:${ports.get(id)}`,
    async start(id) {
      const server = await createServer(configs.get(id) as ServerConfigInput, { logger: silentLogger, defaultMetrics: false })
      servers.set(id, server)
      return server
    },
    async stop(id) {
      const server = servers.get(id)
      servers.delete(id)
      await server?.close()
    },
  }
  cleanups.push(async () => {
    await Promise.all([...servers.keys()].map((id) => cluster.stop(id)))
  })
  await Promise.all(IDS.map((id) => cluster.start(id)))
  await until(() => [...servers.values()].every((s) => s.peers.snapshot().every((p) => p.state === 'connected')), 5_000)
  return cluster
}

function client(urls: string[]): MeridianClient {
  const c = createNodeClient({ urls, minDelayMs: 20, maxDelayMs: 200, handshakeTimeoutMs: 2_000 })
  cleanups.push(() => c.close())
  return c
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  await vi.waitFor(() => expect(condition()).toBe(true), { timeout: timeoutMs, interval: 10 })
}

describe('client against real regional servers', () => {
  it('a write at region A reaches a client at region C; durable and replicated resolve', async () => {
    const cluster = await startCluster()
    const atA = client([cluster.url('a-1')])
    const atC = client([cluster.url('c-1')])
    const seen: unknown[] = []
    atC.lww('notes').subscribe('n1', (doc) => seen.push(doc))
    const w = atA.lww<{ title: string }>('notes').put('n1', { title: 'from A' })
    await w.durable
    await w.replicated
    await until(() => atC.lww('notes').get('n1') !== null)
    expect(atC.lww('notes').get('n1')).toEqual({ title: 'from A' })
    expect(seen).toEqual([{ title: 'from A' }])
    expect(atA.outboxSize).toBe(0)
    expect(atA.server?.nodeId).toBe('a-1')
    expect(atC.server?.nodeId).toBe('c-1')
    // Every region holds it: REST at B shows it too.
    const response = await fetch(`${cluster.server('b-1').httpUrl}/v1/notes/n1`)
    expect(await response.json()).toMatchObject({ doc: { title: 'from A' } })
  })

  it('when region A shuts down, its client moves to B and keeps syncing', async () => {
    const cluster = await startCluster()
    const mover = client([cluster.url('a-1'), cluster.url('b-1')])
    const watcher = client([cluster.url('c-1')])
    const errors: string[] = []
    mover.onError((e) => errors.push(e.code))
    const before = mover.lww('notes').put('before', { n: 1 })
    await before.replicated
    await cluster.stop('a-1')
    await until(() => mover.server?.nodeId === 'b-1')
    expect(errors[0]).toBe('SHUTTING_DOWN')
    const after = mover.lww('notes').put('after', { n: 2 })
    await after.durable
    await until(() => watcher.lww('notes').get('after') !== null)
    const reply = watcher.lww('notes').put('reply', { n: 3 })
    await reply.durable
    await until(() => mover.lww('notes').get('reply') !== null)
    expect(mover.stats.duplicates).toBe(0)
    expect(mover.outboxSize).toBe(0)
  })

  it('a client syncs what it uses: other collections and unopened documents never reach it; opening one fetches its state', async () => {
    const cluster = await startCluster()
    const writer = client([cluster.url('a-1')])
    const reader = client([cluster.url('c-1')])
    const notes = reader.lww<{ n: number }>('notes')
    const readerDocs = reader.yjs('docs')
    await until(() => writer.status === 'connected' && reader.status === 'connected')
    for (let i = 0; i < 40; i++) writer.automerge<{ n: number }>('boards').change(`b${i}`, (d) => void (d.n = i))
    writer.yjs('docs').edit('d1', (d) => d.getText('text').insert(0, 'one'))
    writer.yjs('docs').edit('d2', (d) => d.getText('text').insert(0, 'two'))
    const last = writer.lww<{ n: number }>('notes').put('x', { n: 1 })
    await last.replicated
    await until(() => notes.get('x')?.n === 1)
    // Its position moved over everything, but it was sent only the notes change.
    await until(() => reader.vector.get('a-1') === cluster.server('c-1').node.mesh.vector.get('a-1'))
    expect(reader.stats.applied).toBe(1)
    expect(reader.automerge('boards').ids()).toEqual([])
    expect(readerDocs.get('d2').text).toBe('')
    // Opening d2 fetches its state; d1 stays away.
    const d2 = readerDocs.open('d2')
    await until(() => d2.doc.getText('text').toString() === 'two')
    expect(readerDocs.get('d1').text).toBe('')
    writer.yjs('docs').edit('d2', (d) => d.getText('text').insert(3, '!'))
    await until(() => d2.doc.getText('text').toString() === 'two!')
  })

  it('[CV2] yjs and automerge docs edited at different regions converge, including edits made while a region was down', async () => {
    const cluster = await startCluster()
    const atA = client([cluster.url('a-1')])
    const atC = client([cluster.url('c-1')])
    type Board = { cards?: string[] }
    const a = atA.yjs('docs').open('d1')
    const c = atC.yjs('docs').open('d1')
    atA.automerge<Board>('boards').open('b1')
    atC.automerge<Board>('boards').open('b1')
    await until(() => atA.status === 'connected' && atC.status === 'connected')
    a.doc.getText('text').insert(0, 'shared')
    atA.automerge<Board>('boards').change('b1', (d) => {
      d.cards = ['a']
    })
    await until(() => c.doc.getText('text').toString() === 'shared' && atC.automerge<Board>('boards').get('b1').cards?.length === 1)

    // Region C goes down: its client edits offline while A's client keeps editing online.
    await cluster.stop('c-1')
    await until(() => atC.status !== 'connected')
    c.doc.getText('text').insert(0, 'C:')
    atC.automerge<Board>('boards').change('b1', (d) => {
      d.cards?.push('c-offline')
    })
    a.doc.getText('text').insert(a.doc.getText('text').length, ':A')
    const aWrite = atA.automerge<Board>('boards').change('b1', (d) => {
      d.cards?.unshift('a-online')
    })
    await aWrite.durable
    expect(atC.outboxSize).toBe(2)

    // C comes back (empty: memory storage), catches up from its peers and from its client.
    await cluster.start('c-1')
    await until(() => atC.status === 'connected' && atC.outboxSize === 0, 10_000)
    await until(
      () =>
        a.doc.getText('text').toString() === c.doc.getText('text').toString() &&
        a.doc.getText('text').toString().includes('C:') &&
        c.doc.getText('text').toString().includes(':A'),
    )
    expect(c.doc.getText('text').toString()).toBe('C:shared:A')
    await until(() => atA.automerge<Board>('boards').get('b1').cards?.length === 3 && atC.automerge<Board>('boards').get('b1').cards?.length === 3)
    expect(atA.automerge('boards').get('b1')).toEqual({ cards: ['a-online', 'a', 'c-offline'] })
    expect(atC.automerge('boards').get('b1')).toEqual(atA.automerge('boards').get('b1'))
    // And every region converged to the same documents.
    await until(() => {
      const views = [...cluster.servers.values()].map((s) => JSON.stringify(s.node.mesh.views().get('docs\u0000d1')))
      return views.length === 3 && views.every((v) => v === views[0])
    })
  })
})

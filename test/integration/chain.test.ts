/** Real server processes in a chain A–B–C: A and C are not neighbours, B forwards between them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

let cluster: ProcessCluster

beforeAll(async () => {
  cluster = await ProcessCluster.start({ ids: ['a', 'b', 'c'], topology: 'chain', storage: 'memory' })
  await cluster.waitConnected()
})
afterAll(() => cluster?.stop())

async function get(id: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.node(id).httpUrl}${path}`)
  return { status: res.status, body: await res.json() }
}

async function write(id: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${cluster.node(id).httpUrl}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  expect(res.status).toBe(200)
  return res.json()
}

describe('chain topology A–B–C, real processes', () => {
  it('only neighbours are linked', async () => {
    const a = (await get('a', '/status')).body
    const b = (await get('b', '/status')).body
    expect(a.peers.map((p: { nodeId: string }) => p.nodeId)).toEqual(['b'])
    expect(b.peers.map((p: { nodeId: string }) => p.nodeId).sort()).toEqual(['a', 'c'])
  })

  it('[CV2] converges: writes at both ends reach the other end through B; w=all waits for every member', async () => {
    expect((await write('a', 'PUT', '/v1/notes/ends?w=all', { a: 1 })).ack).toBe('all')
    expect((await write('c', 'PATCH', '/v1/notes/ends?w=all', { c: 1 })).ack).toBe('all')
    for (let i = 0; i < 20; i++) await write(i % 2 === 0 ? 'a' : 'c', 'PATCH', '/v1/notes/ends', { [`f${i}`]: i })
    await write('a', 'DELETE', '/v1/notes/gone')
    let docs: unknown[] = []
    await waitFor(
      async () => {
        docs = await Promise.all(['a', 'b', 'c'].map(async (id) => (await get(id, '/v1/notes/ends')).body.doc))
        return docs.every((doc) => JSON.stringify(doc) === JSON.stringify(docs[0])) && Object.keys(docs[0] as object).length === 22
      },
      3_000,
      'identical documents along the chain',
    )
    // Every region learns that A's and C's writes are durable everywhere, although A and C never talk.
    await waitFor(
      async () => {
        for (const id of ['a', 'b', 'c']) {
          const status = (await get(id, '/status')).body
          if (status.replicatedVector.a !== status.vector.a || status.replicatedVector.c !== status.vector.c) return false
        }
        return true
      },
      3_000,
      'replicated vectors along the chain',
    )
  })
})

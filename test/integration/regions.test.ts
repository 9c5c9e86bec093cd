/**
 * Real server processes (docs/design.md §9, Integration): three regions in a full mesh on loopback with file
 * storage; a region is SIGKILLed in the middle of a stream of writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, sleep, waitFor } from '../helpers/cluster.js'

let cluster: ProcessCluster

beforeAll(async () => {
  cluster = await ProcessCluster.start({ ids: ['a', 'b', 'c'], topology: 'mesh', storage: 'file' })
  await cluster.waitConnected()
})
afterAll(() => cluster?.stop())

interface Response {
  status: number
  body: any
}

async function request(base: string, method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method }
  if (body !== undefined) init.body = JSON.stringify(body)
  const res = await fetch(`${base}${path}`, init)
  return { status: res.status, body: await res.json() }
}

const url = (id: string) => cluster.node(id).httpUrl

describe('three regions, real processes', () => {
  it('[CV2] a write at A is visible at C within a second', async () => {
    const started = Date.now()
    const put = await request(url('a'), 'PUT', '/v1/notes/fast', { hello: 'from a' })
    expect(put.body.ack).toBe('local')
    await waitFor(async () => (await request(url('c'), 'GET', '/v1/notes/fast')).status === 200, 1_000, 'the write at C', 5)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect((await request(url('c'), 'GET', '/v1/notes/fast')).body.doc).toEqual({ hello: 'from a' })
    expect((await request(url('b'), 'PUT', '/v1/notes/all?w=all', { v: 1 })).body.ack).toBe('all')
  })

  it('[CV1][CV2] concurrent writers on the same fields in every region converge, and conflicts are readable', async () => {
    const writersPerRegion = 6
    const writesPerWriter = 8
    await Promise.all(
      ['a', 'b', 'c'].flatMap((region) =>
        Array.from({ length: writersPerRegion }, async (_, w) => {
          for (let i = 0; i < writesPerWriter; i++) {
            const res = await request(url(region), 'PATCH', '/v1/notes/hot', { title: `${region}-${w}-${i}`, [`by-${region}`]: i })
            expect(res.status).toBe(200)
          }
        }),
      ),
    )
    let docs: unknown[] = []
    await waitFor(
      async () => {
        docs = await Promise.all(['a', 'b', 'c'].map(async (id) => (await request(url(id), 'GET', '/v1/notes/hot')).body.doc))
        return docs.every((doc) => JSON.stringify(doc) === JSON.stringify(docs[0]))
      },
      5_000,
      'identical documents in every region',
    )
    expect(docs[0]).toMatchObject({ 'by-a': writesPerWriter - 1, 'by-b': writesPerWriter - 1, 'by-c': writesPerWriter - 1 })
    const conflicts = await Promise.all(['a', 'b', 'c'].map(async (id) => (await request(url(id), 'GET', '/v1/notes/hot/_conflicts')).body.conflicts))
    const all = conflicts.flat() as { collection: string; docId: string; field: string; winner: { origin: string }; loser: { origin: string } }[]
    expect(all.length).toBeGreaterThan(0)
    for (const record of all) {
      expect(record).toMatchObject({ collection: 'notes', docId: 'hot', field: expect.any(String) })
      expect(record.winner).toMatchObject({ origin: expect.any(String), hlc: { wallMs: expect.any(Number) }, deleted: false })
      expect(record.winner.origin).not.toBe(record.loser.origin)
    }
  })

  it('[SG1][CV2] writes acknowledged w=local before a SIGKILL survive the restart and reach every region', async () => {
    const acked: number[] = []
    let stop = false
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await request(url('a'), 'PUT', `/v1/notes/k-${i}`, { i })
          if (res.status === 200 && res.body.ack === 'local') acked.push(i)
        } catch {
          // the node is gone: this write is indeterminate, as is anything in flight
          await sleep(20)
        }
      }
    })()
    await waitFor(() => acked.length >= 40, 10_000, '40 acknowledged writes')
    await cluster.kill('a')
    const ackedBeforeKill = [...acked]
    stop = true
    await writer
    expect(ackedBeforeKill.length).toBeGreaterThanOrEqual(40)
    await cluster.launch('a')
    for (const i of ackedBeforeKill) {
      const res = await request(url('a'), 'GET', `/v1/notes/k-${i}`)
      expect(res.status, `k-${i} after restart`).toBe(200)
      expect(res.body.doc).toEqual({ i })
    }
    await cluster.waitConnected()
    await waitFor(
      async () => {
        for (const id of ['b', 'c']) {
          const status = (await (await fetch(`${url(id)}/status`)).json()) as { vector: Record<string, number> }
          const resA = (await (await fetch(`${url('a')}/status`)).json()) as { vector: Record<string, number> }
          if ((status.vector.a ?? 0) < (resA.vector.a ?? 0)) return false
        }
        return true
      },
      5_000,
      "a's changes everywhere",
    )
    for (const id of ['b', 'c']) {
      const missing: number[] = []
      for (const i of ackedBeforeKill) if ((await request(url(id), 'GET', `/v1/notes/k-${i}`)).status !== 200) missing.push(i)
      expect(missing, `acknowledged writes missing at ${id}`).toEqual([])
    }
    // The restarted region numbers new writes after its recovered ones (no reused seqs).
    const after = await request(url('a'), 'PUT', '/v1/notes/after-restart?w=all', { ok: true })
    expect(after.body.ack).toBe('all')
  })
})

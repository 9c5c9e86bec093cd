/**
 * Issue 9 against real server processes (file storage, as `npm start` runs): values a region must
 * not store are refused with 400 INVALID_VALUE on every node — the strict primary and a replica that
 * would forward — before anything is logged, and no process exits. Then the property: arbitrary
 * hostile JSON through REST and the client, to both modes, is stored identically in every region or
 * refused with the typed error (docs/server.md, "Value limits").
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeClient, type MeridianClient } from '../../client/node.js'
import { ProcessCluster, sleep, waitFor } from '../helpers/cluster.js'
import { valueRoundTripProperty } from '../helpers/value-roundtrip.js'

const IDS = ['a', 'b', 'c'] as const
const RUNS = Number(process.env.MERIDIAN_VALUE_RUNS ?? 100)

let cluster: ProcessCluster
const clients: MeridianClient[] = []

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    ids: IDS,
    storage: 'file',
    config: {
      collections: { notes: { mode: 'crdt', type: 'lww' }, accounts: { mode: 'strict' } },
      strict: { heartbeatIntervalMs: 50, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 500 },
    },
  })
  await cluster.waitConnected()
  for (const id of IDS) clients.push(createNodeClient({ urls: [cluster.node(id).url] }))
  await waitFor(() => clients.every((c) => c.status === 'connected'), 10_000, 'every client connected')
}, 60_000)

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await cluster?.stop()
})

async function primary(): Promise<string> {
  let found = ''
  await waitFor(async () => {
    for (const id of IDS) {
      const status = (await (await fetch(`${cluster.node(id).httpUrl}/status`)).json()) as { role: string }
      if (status.role === 'primary') found = id
    }
    return found !== ''
  }, 15_000, 'a strict primary')
  return found
}

async function send(id: string, method: string, path: string, body: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.node(id).httpUrl}${path}`, { method, ...(method === 'GET' ? {} : { body }), signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: await res.json() }
}

function expectAllRunning(): void {
  for (const id of IDS) expect(cluster.node(id).running, `${id} exited:\n${cluster.node(id).tail()}`).toBe(true)
}

const DEEP_101 = `{"a":${'['.repeat(100)}${']'.repeat(100)}}`
const DEEP_100K = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`

describe('[IN1] [IN2] values a region does not store (issue 9)', () => {
  it('the 206-byte reproduction and its relatives are 400 INVALID_VALUE at the primary and at a replica; no process exits', async () => {
    const leader = await primary()
    const replica = IDS.find((id) => id !== leader) as string
    for (const at of [leader, replica]) {
      const deep = await send(at, 'PUT', '/v1/accounts/deep?w=majority', DEEP_101)
      expect(deep.status, `${at}: ${JSON.stringify(deep.body)}`).toBe(400)
      expect(deep.body.error).toMatchObject({ code: 'INVALID_VALUE', rule: 'maxDepth', limit: 64 })
      expect(deep.body.error.path).toMatch(/^\$\.a(\[0\])+$/)
      expect((await send(at, 'PUT', '/v1/accounts/deeper?w=majority', DEEP_100K)).body.error).toMatchObject({ code: 'INVALID_VALUE', rule: 'maxDepth' })
      expect((await send(at, 'PATCH', '/v1/accounts/p?w=majority', DEEP_101)).body.error).toMatchObject({ code: 'INVALID_VALUE' })
      const batch = await send(at, 'POST', '/v1/accounts/_batch', `{"ops":[{"op":"put","id":"x","value":1},{"op":"put","id":"y","value":${DEEP_101}}]}`)
      expect(batch.status).toBe(400)
      expect(batch.body.error).toMatchObject({ code: 'INVALID_VALUE', path: expect.stringMatching(/^\$\.ops\[1\]\.value\.a/) })
      expect((await send(at, 'PUT', '/v1/accounts/inf?w=majority', '{"a":1e999}')).body.error).toMatchObject({ code: 'INVALID_VALUE', rule: 'finite-number', path: '$.a' })
      // crdt: stored as null before; now refused.
      const inf = await send(at, 'PUT', '/v1/notes/inf', '{"a":1e999}')
      expect(inf.status).toBe(400)
      expect(inf.body.error).toMatchObject({ code: 'INVALID_VALUE', rule: 'finite-number', path: '$.a' })
      expect((await send(at, 'PUT', '/v1/notes/deep', DEEP_100K)).body.error).toMatchObject({ code: 'INVALID_VALUE', rule: 'maxDepth' })
    }
    // Several replication rounds later every region is up, and nothing refused was written.
    await sleep(500)
    expectAllRunning()
    const ok = await send(leader, 'PUT', '/v1/accounts/after?w=all', '{"n":1}')
    expect(ok.body).toMatchObject({ status: 'acknowledged', level: 'all' })
    for (const id of IDS) {
      expect((await send(id, 'GET', '/v1/accounts/deep?read=nearest', '')).status).toBe(404)
      expect((await send(id, 'GET', '/v1/notes/inf', '')).status).toBe(404)
    }
  }, 60_000)

  it('a client is refused the same values with a typed error, before anything is sent', async () => {
    const accounts = clients[0]!.strict('accounts')
    await expect(accounts.put('c-deep', JSON.parse(DEEP_101))).rejects.toMatchObject({ name: 'StrictWriteRejected', code: 'INVALID_VALUE' })
    expect(() => clients[0]!.lww('notes').put('c-inf', { a: Infinity })).toThrow(/finite/)
    expectAllRunning()
  })

  it(`property: hostile JSON through REST and the client, to both modes, is stored identically everywhere or refused (${RUNS} runs)`, async () => {
    const stats = { stored: 0, refused: 0 }
    const target = { nodes: IDS.map((id) => ({ id, httpUrl: cluster.node(id).httpUrl })), clients, strict: 'accounts', lww: 'notes' }
    await fc.assert(valueRoundTripProperty(target, stats), { numRuns: RUNS })
    expectAllRunning()
    // Both sides of the property were exercised.
    expect(stats.stored).toBeGreaterThan(0)
    expect(stats.refused).toBeGreaterThan(0)
    console.log(`values property: ${stats.stored} stored, ${stats.refused} refused, in ${RUNS} runs`)
  }, 300_000)
})

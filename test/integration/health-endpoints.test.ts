import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

/**
 * Load-balancer health checks (docs/server.md, "Health checks for load balancers") on real server
 * processes: /primary, /replica?lag=<ms> and /read-only answer 200 exactly where HAProxy should send
 * traffic, before and after the primary is SIGKILLed; a node without strict collections is never a
 * primary nor a replica, but serves reads.
 */

const IDS = ['a', 'b', 'c'] as const
let cluster: ProcessCluster

async function code(id: string, path: string): Promise<number> {
  try {
    return (await fetch(`${cluster.node(id).httpUrl}${path}`)).status
  } catch {
    return 0 // not listening
  }
}

async function codes(path: string, ids: readonly string[] = IDS): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const id of ids) out[id] = await code(id, path)
  return out
}

/** The node whose /primary answers 200, once exactly one among `ids` does. */
async function primaryAmong(ids: readonly string[]): Promise<string> {
  let found: string[] = []
  await waitFor(async () => {
    const answers = await codes('/primary', ids)
    found = ids.filter((id) => answers[id] === 200)
    return found.length === 1
  }, 20_000, `exactly one of ${ids.join(', ')} answering /primary 200`)
  return found[0] as string
}

beforeAll(async () => {
  // Elections take 2.5–3 s here, so that stopping the primary for 600 ms (below) never starts one, even
  // on a loaded machine.
  cluster = await ProcessCluster.start({
    ids: IDS,
    storage: 'file',
    config: { collections: { accounts: { mode: 'strict' } }, strict: { electionTimeoutMinMs: 2500, electionTimeoutMaxMs: 3000 } },
  })
  await cluster.waitConnected()
}, 60_000)

afterAll(() => cluster?.stop())

describe('health checks for load balancers', () => {
  it('/primary is 200 on the primary alone, /replica on the replicas alone, /read-only on all three; a lag bound is honoured; a bad one is 400', async () => {
    const primary = await primaryAmong(IDS)
    const replicas = IDS.filter((id) => id !== primary)
    expect(await codes('/primary')).toEqual(Object.fromEntries(IDS.map((id) => [id, id === primary ? 200 : 503])))
    await waitFor(async () => Object.values(await codes('/replica', replicas)).every((c) => c === 200), 10_000, 'both replicas answering /replica 200')
    expect(await code(primary, '/replica')).toBe(503)
    expect(await codes('/read-only')).toEqual({ a: 200, b: 200, c: 200 })

    // A caught-up replica is within a generous bound; the body says what the check saw.
    await fetch(`${cluster.node(primary).httpUrl}/v1/accounts/x?w=all`, { method: 'PUT', body: '{"balance":1}', headers: { 'content-type': 'application/json' } })
    await waitFor(async () => Object.values(await codes('/replica?lag=5000', replicas)).every((c) => c === 200), 10_000, 'replicas within lag=5000')
    const body = (await (await fetch(`${cluster.node(replicas[0] as string).httpUrl}/replica?lag=5000`)).json()) as Record<string, unknown>
    expect(body).toMatchObject({ role: 'replica', ready: true, primary, stalenessMs: expect.any(Number) })
    const refused = await fetch(`${cluster.node(primary).httpUrl}/replica`)
    expect(((await refused.json()) as { reason: string }).reason).toMatch(/primary/)

    // A primary that stops reporting (SIGSTOP, shorter than an election timeout) makes the replicas'
    // reads grow stale: a tight bound refuses them, a loose one still takes them.
    const pid = cluster.node(primary).child?.pid as number
    process.kill(pid, 'SIGSTOP')
    try {
      await new Promise((resolve) => setTimeout(resolve, 600))
      expect(await codes('/replica?lag=300', replicas)).toEqual(Object.fromEntries(replicas.map((id) => [id, 503])))
      expect(await codes('/replica?lag=60000', replicas)).toEqual(Object.fromEntries(replicas.map((id) => [id, 200])))
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    await waitFor(async () => Object.values(await codes('/replica?lag=300', replicas)).every((c) => c === 200), 10_000, 'replicas fresh again')

    for (const bad of ['-1', 'abc', '', 'Infinity']) {
      const reply = await fetch(`${cluster.node(replicas[0] as string).httpUrl}/replica?lag=${bad}`)
      expect(reply.status).toBe(400)
      expect(((await reply.json()) as { error: { code: string } }).error.code).toBe('INVALID_REQUEST')
    }
  })

  it('after a SIGKILL of the primary, another node answers /primary 200 and the old one, restarted, answers /replica 200', async () => {
    const old = await primaryAmong(IDS)
    await cluster.kill(old)
    const survivors = IDS.filter((id) => id !== old)
    const elected = await primaryAmong(survivors)
    expect(elected).not.toBe(old)
    await cluster.launch(old)
    await waitFor(async () => (await code(old, '/replica')) === 200, 20_000, `${old} answering /replica 200 after its restart`)
    expect(await code(old, '/primary')).toBe(503)
    expect(await primaryAmong(IDS)).toBe(elected)
  })
})

describe('health checks on a node without strict collections', () => {
  let crdt: ProcessCluster
  beforeAll(async () => {
    crdt = await ProcessCluster.start({ ids: ['solo'] })
  }, 30_000)
  afterAll(() => crdt?.stop())

  it('is never a primary nor a replica, and serves reads', async () => {
    const base = crdt.node('solo').httpUrl
    expect((await fetch(`${base}/primary`)).status).toBe(503)
    expect((await fetch(`${base}/replica`)).status).toBe(503)
    const readOnly = await fetch(`${base}/read-only`)
    expect(readOnly.status).toBe(200)
    expect(await readOnly.json()).toMatchObject({ role: 'crdt', ready: true })
  })
})

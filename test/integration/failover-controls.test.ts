import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, sleep, waitFor } from '../helpers/cluster.js'
import { nodeStatus, waitStrictPrimary } from '../helpers/strict-status.js'

/**
 * [FO3] Failover controls with real server processes (docs/strict-mode.md, "Failover controls"): a
 * noFailover replica never takes over when the primary is SIGKILLed, a switchover under write load
 * hands the primary role to the named node without losing an acknowledged write, and a switchover to
 * the noFailover node is refused. Default strict timings. Prints failover and switchover times
 * (min/median/max over several runs); timings are never asserted.
 */

const IDS = ['a', 'b', 'c'] as const
const ELIGIBLE = ['a', 'b'] as const
const ADMIN = { authorization: 'Bearer admin', 'content-type': 'application/json' }
const RUNS = 5

async function put(cluster: ProcessCluster, id: string, key: string, value: unknown): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(`${cluster.node(id).httpUrl}/v1/accounts/${key}?w=majority`, { method: 'PUT', body: JSON.stringify(value), signal: AbortSignal.timeout(8000) })
    return { status: res.status, body: await res.json() }
  } catch (err) {
    return { status: 0, body: String(err) }
  }
}

async function switchover(cluster: ProcessCluster, on: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.node(on).httpUrl}/admin/switchover`, { method: 'POST', headers: ADMIN, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) })
  return { status: res.status, body: await res.json() }
}

const epochOf = (token: string): number => Number(String(token).split(':')[0])

/**
 * Majority writes round robin over the running nodes (replicas forward), recording every acknowledged one
 * and when the first acknowledgement of an epoch above `sinceEpoch` arrived.
 */
function writeLoad(cluster: ProcessCluster, prefix: string) {
  const acked = new Map<string, { token: string; n: number }>()
  const state = { stop: false, sinceEpoch: Number.POSITIVE_INFINITY, firstNewEpochAckMs: 0, seq: 0 }
  const writer = async (w: number) => {
    while (!state.stop) {
      const n = state.seq++
      const key = `${prefix}-${w}-${n}`
      const alive = IDS.filter((id) => cluster.node(id).running)
      const res = await put(cluster, alive[n % alive.length] as string, key, { n })
      if (res.status === 200) {
        acked.set(key, { token: res.body.token, n })
        if (state.firstNewEpochAckMs === 0 && epochOf(res.body.token) > state.sinceEpoch) state.firstNewEpochAckMs = performance.now()
      } else if (res.status === 0) await sleep(20)
    }
  }
  const writers = [0, 1, 2].map((w) => writer(w))
  return {
    acked,
    state,
    /** Watch for the first acknowledgement of a later epoch than `epoch`. */
    expectNewEpoch(epoch: number) {
      state.sinceEpoch = epoch
      state.firstNewEpochAckMs = 0
    },
    async stop() {
      state.stop = true
      await Promise.all(writers)
    },
  }
}

/** Every acknowledged write is readable on `id` at (or after) its token, with its value. */
async function expectAllPresent(cluster: ProcessCluster, id: string, acked: Map<string, { token: string; n: number }>) {
  for (const [key, { token, n }] of acked) {
    const res = await fetch(`${cluster.node(id).httpUrl}/v1/accounts/${key}?read=nearest&after=${token}&timeoutMs=5000`)
    expect(res.status, `${key} (${token}) on ${id}`).toBe(200)
    expect(((await res.json()) as { value: unknown }).value).toEqual({ n })
  }
}

function summary(values: readonly number[]): string {
  const s = [...values].sort((x, y) => x - y)
  return `min ${Math.round(s[0] ?? NaN)} / median ${Math.round(s[Math.floor(s.length / 2)] ?? NaN)} / max ${Math.round(s[s.length - 1] ?? NaN)} ms (${s.length} runs: ${s.map(Math.round).join(', ')})`
}

describe('[FO3] failover controls with real processes', () => {
  let cluster: ProcessCluster
  beforeAll(async () => {
    cluster = await ProcessCluster.start({
      ids: IDS,
      storage: 'file',
      config: { collections: { accounts: { mode: 'strict' } }, adminToken: 'admin', strict: { priorities: { a: 2, b: 1 }, noFailover: ['c'] } },
    })
    await cluster.waitConnected()
  }, 60_000)
  afterAll(() => cluster?.stop())

  it('[FO3] SIGKILL of the primary where c is noFailover: the other eligible replica becomes primary, never c; no acknowledged write lost', async () => {
    const times: number[] = []
    const byPromoted: Record<string, number[]> = { a: [], b: [] }
    const load = writeLoad(cluster, 'kill')
    for (let run = 0; run < RUNS; run++) {
      const first = await waitStrictPrimary(cluster, IDS)
      expect(first.id).not.toBe('c')
      await sleep(500)
      load.expectNewEpoch(first.epoch)
      const killedAt = performance.now()
      await cluster.kill(first.id)
      const survivor = ELIGIBLE.find((id) => id !== first.id) as string
      const second = await waitStrictPrimary(cluster, ['b', 'c', 'a'].filter((id) => id !== first.id))
      expect(second.id).toBe(survivor)
      await waitFor(() => load.state.firstNewEpochAckMs > 0, 15_000, 'an acknowledged write on the new primary')
      const ms = load.state.firstNewEpochAckMs - killedAt
      times.push(ms)
      byPromoted[survivor]?.push(ms)
      expect((await nodeStatus(cluster, 'c'))?.role).toBe('replica')
      await cluster.launch(first.id)
      await cluster.waitConnected()
    }
    await load.stop()
    console.log(`[FO3 failover] SIGKILL → new primary accepting writes (priorities a:2 b:1, c noFailover): ${summary(times)}`)
    for (const [id, list] of Object.entries(byPromoted)) if (list.length > 0) console.log(`[FO3 failover]   ${id} (priority ${id === 'a' ? 2 : 1}) took over: ${summary(list)}`)
    console.log(`[FO3 failover] ${load.acked.size} majority writes acknowledged across ${RUNS} kills`)
    expect(load.acked.size).toBeGreaterThan(0)
    for (const id of IDS) await expectAllPresent(cluster, id, load.acked)
  }, 180_000)

  it('[FO3] switchover to a named node under write load: it becomes primary, answered with { primary, elapsedMs }, no acknowledged write lost', async () => {
    const answered: number[] = []
    const accepting: number[] = []
    const load = writeLoad(cluster, 'switch')
    await sleep(500)
    for (let run = 0; run < RUNS; run++) {
      const from = await waitStrictPrimary(cluster, IDS)
      const to = from.id === 'a' ? 'b' : 'a'
      await sleep(300)
      load.expectNewEpoch(from.epoch)
      const started = performance.now()
      const res = await switchover(cluster, from.id, { to, timeoutMs: 10_000 })
      answered.push(performance.now() - started)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      expect(res.body.primary).toBe(to)
      expect(typeof res.body.elapsedMs).toBe('number')
      expect((await nodeStatus(cluster, to))?.role).toBe('primary')
      await waitFor(() => load.state.firstNewEpochAckMs > 0, 15_000, 'an acknowledged write on the new primary')
      accepting.push(load.state.firstNewEpochAckMs - started)
    }
    await load.stop()
    console.log(`[FO3 switchover] request → answered: ${summary(answered)}`)
    console.log(`[FO3 switchover] request → new primary acknowledged a write: ${summary(accepting)}`)
    console.log(`[FO3 switchover] ${load.acked.size} majority writes acknowledged across ${RUNS} switchovers`)
    expect(load.acked.size).toBeGreaterThan(0)
    for (const id of IDS) await expectAllPresent(cluster, id, load.acked)
  }, 180_000)

  it('[FO3] switchover errors: to the noFailover node 409, unknown node 404, on a replica 409 naming the primary, bad body 400, a stopped target 504 (the primary then takes writes again); promote on c 409', async () => {
    const primary = await waitStrictPrimary(cluster, IDS)
    const toC = await switchover(cluster, primary.id, { to: 'c' })
    expect(toC.status).toBe(409)
    expect(toC.body.error.code).toBe('TARGET_NO_FAILOVER')
    const unknown = await switchover(cluster, primary.id, { to: 'zz' })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('UNKNOWN_NODE')
    const replica = ELIGIBLE.find((id) => id !== primary.id) as string
    const notPrimary = await switchover(cluster, replica, { to: replica })
    expect(notPrimary.status).toBe(409)
    expect(notPrimary.body.error).toMatchObject({ code: 'NOT_PRIMARY', primary: primary.id })
    const bad = await switchover(cluster, primary.id, { to: 'b', timeoutMs: -1 })
    expect(bad.status).toBe(400)
    const statusC = (await (await fetch(`${cluster.node('c').httpUrl}/status`)).json()) as { strict: { failover: { priority: number } } }
    expect(statusC.strict.failover.priority).toBe(0)
    const promoteC = await fetch(`${cluster.node('c').httpUrl}/admin/promote`, { method: 'POST', headers: ADMIN })
    expect(promoteC.status).toBe(409)
    // A target that cannot catch up (its process stopped): 504 after timeoutMs, and the old primary takes writes again.
    const pid = cluster.node(replica).child?.pid as number
    process.kill(pid, 'SIGSTOP')
    try {
      // Written with c while the target is stopped: the target is behind, so timeout-now is never sent.
      expect((await put(cluster, primary.id, 'while-stopped', { n: 3 })).status).toBe(200)
      const stuck = await switchover(cluster, primary.id, { to: replica, timeoutMs: 800 })
      expect(stuck.status, JSON.stringify(stuck.body)).toBe(504)
      expect(stuck.body.error.code).toBe('SWITCHOVER_TIMEOUT')
      const resumed = await put(cluster, primary.id, 'after-timeout', { n: 2 })
      expect(resumed.status, JSON.stringify(resumed.body)).toBe(200)
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    // The refused switchovers did not stop the primary taking writes.
    const res = await put(cluster, primary.id, 'after-refused', { n: 1 })
    expect(res.status).toBe(200)
    expect((await waitStrictPrimary(cluster, IDS)).id).toBe(primary.id)
  }, 60_000)
})

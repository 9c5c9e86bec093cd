import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, sleep, waitFor } from '../helpers/cluster.js'
import { type AckedWrites, expectAllPresent as expectAll, strictPut, strictWriteLoad, timingSummary } from '../helpers/strict-load.js'
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

async function switchover(cluster: ProcessCluster, on: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.node(on).httpUrl}/admin/switchover`, { method: 'POST', headers: ADMIN, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) })
  return { status: res.status, body: await res.json() }
}

const put = (cluster: ProcessCluster, id: string, key: string, value: unknown) => strictPut(cluster, id, 'accounts', key, value)
const writeLoad = (cluster: ProcessCluster, prefix: string) => strictWriteLoad(cluster, IDS, 'accounts', prefix)
const expectAllPresent = (cluster: ProcessCluster, id: string, acked: AckedWrites) => expectAll(cluster, id, 'accounts', acked)
const summary = timingSummary

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

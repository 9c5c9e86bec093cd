import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, sleep, waitFor } from '../helpers/cluster.js'
import { expectAllPresent, strictPut, strictWriteLoad, timingSummary } from '../helpers/strict-load.js'
import { nodeStatus, type StrictStatusBody, waitStrictPrimary } from '../helpers/strict-status.js'

/**
 * Cascading replicas with real server processes (docs/strict-mode.md, "Cascading replicas"): a chain
 * p → a → b (`replicateFrom: { b: 'a' }`), the middle node SIGKILLed under majority write load. b falls
 * back to the primary, writes go on, nothing acknowledged is lost, and when a returns b streams from it
 * again. Prints the write-acknowledgement gap around each kill and the cost of relaying acknowledgements
 * (`all` writes, which wait for b through a); timings are never asserted.
 */

const IDS = ['p', 'a', 'b'] as const
const ADMIN = { authorization: 'Bearer admin', 'content-type': 'application/json' }
const RUNS = 3

interface CascadeStatus extends StrictStatusBody {
  strict: {
    upstream: string | null
    downstream: { nodeId: string; matchLsn: number; durableLsn: number; lag: { entries: number; ms: number | null } }[]
    replicas: { nodeId: string; via: string | null; durableLsn: number }[]
    lastLsn: number
  }
}

const status = (cluster: ProcessCluster, id: string) => nodeStatus<CascadeStatus>(cluster, id)

/** Waits until `b` streams from `from` as both b and the primary p see it. */
async function waitChain(cluster: ProcessCluster, from: 'a' | 'p', timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      const [b, p] = await Promise.all([status(cluster, 'b'), status(cluster, 'p')])
      const via = p?.strict.replicas.find((r) => r.nodeId === 'b')?.via
      return b?.strict.upstream === from && via === (from === 'a' ? 'a' : null)
    },
    timeoutMs,
    `b streaming from ${from}`,
  )
}

/** Median latency of sequential writes to the primary per concern, the concerns alternating so both see the same conditions. */
async function medianWriteMs(cluster: ProcessCluster, concerns: readonly string[], rounds: number): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(concerns.map((c) => [c, []]))
  for (let i = 0; i < rounds; i++) {
    for (const concern of concerns) {
      const started = performance.now()
      const res = await strictPut(cluster, 'p', 'accounts', `lat-${concern}-${i}`, { n: i }, concern)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      times[concern]?.push(performance.now() - started)
    }
  }
  return Object.fromEntries(concerns.map((c) => [c, [...(times[c] as number[])].sort((x, y) => x - y)[Math.floor(rounds / 2)] as number]))
}

/** The longest time without an acknowledged write in `[fromMs, toMs]` (the edges count as acknowledgements). */
function longestAckGap(ackTimes: readonly number[], fromMs: number, toMs: number): number {
  const inside = [fromMs, ...ackTimes.filter((t) => t > fromMs && t < toMs).sort((x, y) => x - y), toMs]
  let gap = 0
  for (let i = 1; i < inside.length; i++) gap = Math.max(gap, (inside[i] as number) - (inside[i - 1] as number))
  return gap
}

describe('cascading replicas with real processes', () => {
  let cluster: ProcessCluster
  beforeAll(async () => {
    cluster = await ProcessCluster.start({
      ids: IDS,
      storage: 'file',
      // p is preferred, and b never stands, so the chain p → a → b is what the test sees.
      config: { collections: { accounts: { mode: 'strict' } }, adminToken: 'admin', strict: { priorities: { p: 3, a: 2 }, noFailover: ['b'], replicateFrom: { b: 'a' } } },
    })
    await cluster.waitConnected()
    const first = await waitStrictPrimary(cluster, IDS)
    if (first.id !== 'p') {
      const res = await fetch(`${cluster.node(first.id).httpUrl}/admin/switchover`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ to: 'p', timeoutMs: 10_000 }) })
      expect(res.status).toBe(200)
    }
    expect((await waitStrictPrimary(cluster, IDS)).id).toBe('p')
  }, 60_000)
  afterAll(() => cluster?.stop())

  it('b streams from a: the primary shows b via a, a shows its downstream hop with its lag, and `all` writes are acknowledged through the chain', async () => {
    await waitChain(cluster, 'a')
    const { majority = Number.NaN, all = Number.NaN } = await medianWriteMs(cluster, ['majority', 'all'], 60)
    console.log(`[cascade] median write latency on the primary: majority ${majority.toFixed(1)} ms (p + a), all ${all.toFixed(1)} ms (b's acknowledgement relayed by a): ratio ${(all / majority).toFixed(2)}`)
    const [p, a, b] = await Promise.all(IDS.map((id) => status(cluster, id)))
    expect(p?.strict.replicas.find((r) => r.nodeId === 'b')).toMatchObject({ via: 'a' })
    expect(p?.strict.replicas.find((r) => r.nodeId === 'a')).toMatchObject({ via: null })
    expect(a?.strict.upstream).toBe('p')
    expect(b?.strict.upstream).toBe('a')
    const hop = a?.strict.downstream.find((d) => d.nodeId === 'b')
    expect(hop, JSON.stringify(a?.strict)).toBeDefined()
    expect(hop?.durableLsn).toBeGreaterThan(0)
    expect(typeof hop?.lag.entries).toBe('number')
    expect(p?.strict.downstream).toEqual([])
  }, 60_000)

  it('SIGKILL of the middle node a under majority writes: b falls back to the primary, writes go on, nothing acknowledged is lost; a returns and b streams from it again', async () => {
    const gaps: number[] = []
    const fallbacks: number[] = []
    const load = strictWriteLoad(cluster, IDS, 'accounts', 'cascade-kill')
    for (let run = 0; run < RUNS; run++) {
      await waitChain(cluster, 'a')
      await sleep(500)
      const killedAt = performance.now()
      await cluster.kill('a')
      await waitChain(cluster, 'p')
      fallbacks.push(performance.now() - killedAt)
      // Writes go on with p and b (a majority of 3) while a is down.
      const ackedBefore = load.acked.size
      await waitFor(() => load.acked.size > ackedBefore + 20, 15_000, 'majority writes acknowledged without a')
      await sleep(Math.max(0, killedAt + 3000 - performance.now()))
      gaps.push(longestAckGap(load.ackTimes, killedAt, killedAt + 3000))
      expect((await waitStrictPrimary(cluster, IDS)).id).toBe('p')
      await cluster.launch('a')
      await cluster.waitConnected()
    }
    await waitChain(cluster, 'a')
    await load.stop()
    console.log(`[cascade] SIGKILL of the relay a → b streams from the primary (both sides say so): ${timingSummary(fallbacks)}`)
    console.log(`[cascade] SIGKILL of the relay a → longest pause in majority acknowledgements within 3 s: ${timingSummary(gaps)}`)
    console.log(`[cascade] ${load.acked.size} majority writes acknowledged across ${RUNS} kills of the relay`)
    expect(load.acked.size).toBeGreaterThan(0)
    for (const id of IDS) await expectAllPresent(cluster, id, 'accounts', load.acked)
    // Back to the chain: an `all` write needs b's acknowledgement through a again.
    const res = await strictPut(cluster, 'p', 'accounts', 'after-chain', { n: 1 }, 'all')
    expect(res.status, JSON.stringify(res.body)).toBe(200)
  }, 180_000)
})

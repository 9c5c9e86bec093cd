import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/cluster.js'
import { FAST_STRICT, http, primaryOf, startCluster, type InProcessCluster } from './in-process.js'

/**
 * Cascading replicas in `/status` and `/metrics` (docs/strict-mode.md, "Cascading replicas"), in-process:
 * a chain a → b → c (`replicateFrom: { c: 'b' }`). b and c are noFailover so a is the primary and the
 * chain is the one configured. The relay's SIGKILL and fallback are in test/integration/cascade.test.ts.
 */
describe('cascading replicas in /status and /metrics (in-process cluster of 3)', () => {
  let cluster: InProcessCluster
  const base = (id: string) => cluster.server(id).httpUrl
  const status = async (id: string) => (await http(base(id), 'GET', '/status')).json

  beforeAll(async () => {
    cluster = await startCluster(['a', 'b', 'c'], 'mesh', {
      ...FAST_STRICT,
      strict: { ...FAST_STRICT.strict, replicateFrom: { c: 'b' }, noFailover: ['b', 'c'] },
    })
    await cluster.waitConnected()
    expect(await primaryOf(cluster)).toBe('a')
  })
  afterAll(() => cluster.close())

  it('the primary shows c via b, b shows c downstream with the hop’s LSNs and lag, c streams from b', async () => {
    let lsn = 0
    for (let i = 0; i < 5; i++) {
      const put = await http(base('a'), 'PUT', `/v1/accounts/cascade-${i}?w=all`, { i })
      expect(put.status, JSON.stringify(put.json)).toBe(200)
      lsn = Number(String(put.json.token).split(':')[1])
    }
    // `all` waited for c's acknowledgement; wait until every view agrees the chain carries it.
    await waitFor(
      async () => {
        const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(status))
        return (
          a.strict.replicas.find((r: { nodeId: string }) => r.nodeId === 'c')?.via === 'b' &&
          b.strict.downstream.some((d: { nodeId: string; durableLsn: number }) => d.nodeId === 'c' && d.durableLsn >= lsn) &&
          c.strict.upstream === 'b'
        )
      },
      5_000,
      'c streaming from b in every /status',
    )
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(status))

    // The primary: replicas keep their fields and gain `via`; it has no upstream and no downstream.
    expect(a.strict.replicas.find((r: { nodeId: string }) => r.nodeId === 'b')).toMatchObject({ via: null, link: expect.any(String), durableLsn: expect.any(Number) })
    expect(a.strict.replicas.find((r: { nodeId: string }) => r.nodeId === 'c')).toMatchObject({ via: 'b', syncRole: expect.any(String), lag: { entries: expect.any(Number) } })
    expect(a.strict.upstream).toBeNull()
    expect(a.strict.downstream).toEqual([])

    // The relay: its upstream is the primary; one hop to c, its lag against b's own log.
    expect(b.strict.upstream).toBe('a')
    expect(b.strict.downstream).toHaveLength(1)
    const hop = b.strict.downstream[0]
    expect(Object.keys(hop).sort()).toEqual(['appliedLsn', 'durableLsn', 'lag', 'lastReplyMs', 'matchLsn', 'nodeId', 'sentLsn'])
    expect(hop).toMatchObject({ nodeId: 'c', appliedLsn: expect.any(Number), lastReplyMs: expect.any(Number) })
    // Per hop: the entries of b's own log that c does not hold durably (same snapshot, so exact).
    expect(hop.lag.entries).toBe(Math.max(0, b.strict.lastLsn - hop.durableLsn))
    if (hop.lag.entries === 0) expect(hop.lag).toEqual({ entries: 0, bytes: 0, ms: null })
    expect(hop.durableLsn).toBeGreaterThanOrEqual(lsn)
    expect(hop.matchLsn).toBeGreaterThanOrEqual(lsn)
    expect(hop.sentLsn).toBeGreaterThanOrEqual(hop.matchLsn)

    // The cascaded replica: streams from b, relays to no one.
    expect(c.strict.upstream).toBe('b')
    expect(c.strict.downstream).toEqual([])

    // /metrics on the relay has the hop; the primary's replica gauges are unchanged.
    const metrics = String((await http(base('b'), 'GET', '/metrics')).json)
    expect(metrics).toMatch(/meridian_strict_downstream_durable_lsn\{replica="c"\} \d+/)
    expect(metrics).toMatch(/meridian_strict_downstream_lag_entries\{replica="c"\} \d+/)
    expect(String((await http(base('a'), 'GET', '/metrics')).json)).not.toMatch(/meridian_strict_downstream_lag_entries\{/)
  })

  it('a hop whose member is silent shows that hop’s lag on the relay, counted from when the entries reached the relay', async () => {
    // c drops everything it is sent (noFailover: it never stands), so b's relayed appends go unanswered.
    const host = cluster.server('c').strict
    if (host === null) throw new Error('c has no strict host')
    const receive = host.node.receive
    host.node.receive = () => {}
    try {
      const startedMs = performance.now()
      for (let i = 0; i < 3; i++) {
        const put = await http(base('a'), 'PUT', `/v1/accounts/silent-${i}?w=majority`, { i, pad: 'x'.repeat(100) })
        expect(put.status, JSON.stringify(put.json)).toBe(200)
      }
      let hop: { lag: { entries: number; bytes: number | null; ms: number | null }; durableLsn: number } | undefined
      await waitFor(
        async () => {
          const b = await status('b')
          hop = b.strict.downstream.find((d: { nodeId: string }) => d.nodeId === 'c')
          return hop !== undefined && hop.lag.entries >= 3 && hop.lag.ms !== null && hop.lag.ms >= 30
        },
        5_000,
        'b reporting c behind by the three writes',
      )
      expect(hop?.lag.bytes).toBeGreaterThan(300)
      // The age counts from the entries' arrival at b, which is after this test began.
      expect(hop?.lag.ms).toBeLessThanOrEqual(performance.now() - startedMs + 5)
    } finally {
      host.node.receive = receive
    }
    await waitFor(
      async () => (await status('b')).strict.downstream.find((d: { nodeId: string }) => d.nodeId === 'c')?.lag.entries === 0,
      5_000,
      'c caught up through b',
    )
  })
})

import { describe, expect, it } from 'vitest'
import { tinyCluster } from './tiny-cluster.js'
import { failoverPriority, priorityRank, standingProblem, StrictNode, type StrictMessage } from '../../../core/strict/index.js'

const put = (id: string, n: number) => ({ kind: 'put', collection: 'acc', id, value: { n } }) as const

/** Ticks every node (except `down`) to `ms`, delivering messages in between. */
function tickAll(c: ReturnType<typeof tinyCluster>, ids: string[], ms: number, down: Set<string> = new Set()) {
  for (const id of ids) if (!down.has(id)) c.node(id).tick(ms)
  c.durable()
  c.deliver(down)
  c.durable()
  c.deliver(down)
}

/** Elects `id` by promotion and commits its no-op. */
function elect(c: ReturnType<typeof tinyCluster>, ids: string[], id: string, atMs: number) {
  for (const n of ids) c.node(n).tick(atMs)
  c.node(id).promote()
  c.deliver()
  c.durable()
  c.deliver()
  expect(c.node(id).currentRole).toBe('primary')
}

describe('[FO3] failover controls (pure helpers)', () => {
  it('priority defaults to 1, noFailover means 0, rank counts distinct higher priorities', () => {
    const controls = { priorities: { a: 3, b: 2, d: 2 }, noFailover: ['e'] }
    expect(failoverPriority(controls, 'c')).toBe(1)
    expect(failoverPriority(controls, 'e')).toBe(0)
    const members = ['a', 'b', 'c', 'd', 'e']
    expect(members.map((m) => priorityRank(controls, members, m))).toEqual([0, 1, 2, 1, 3])
    expect(standingProblem(controls, 'e', 10, 10)).toBe('no-failover')
    expect(standingProblem({ maxLagOnFailover: 5 }, 'a', 10, 15)).toBeNull()
    expect(standingProblem({ maxLagOnFailover: 5 }, 'a', 10, 16)).toBe('lagging')
  })

  it('rejects controls naming non-members or negative priorities', () => {
    const base = { id: 'a', members: ['a', 'b', 'c'], random: () => 0.5, send: () => {} }
    expect(() => new StrictNode({ ...base, failover: { priorities: { z: 1 } } })).toThrow(/not a member/)
    expect(() => new StrictNode({ ...base, failover: { priorities: { b: -1 } } })).toThrow(/>= 0/)
    expect(() => new StrictNode({ ...base, failover: { noFailover: ['z'] } })).toThrow(/not a member/)
    expect(() => new StrictNode({ ...base, failover: { maxLagOnFailover: 1.5 } })).toThrow(/maxLagOnFailover/)
  })
})

describe('[FO3] failover controls in the node', () => {
  const ids = ['a', 'b', 'c']

  it('a noFailover node never stands, ignores timeout-now and refuses promote, but still votes and acknowledges', () => {
    const sent: StrictMessage[] = []
    const c = tinyCluster(ids, (id) => ({ failover: { noFailover: ['c'] }, ...(id === 'c' ? { send: (_to: string, m: StrictMessage) => sent.push(m) } : {}) }))
    for (let ms = 0; ms <= 20_000; ms += 50) c.node('c').tick(ms)
    expect(sent.filter((m) => m.type === 'pre-vote' || m.type === 'request-vote')).toEqual([])
    expect(c.node('c').promote()).toBe(false)
    c.node('c').receive({ type: 'timeout-now', epoch: c.node('c').currentEpoch, from: 'a' })
    expect(c.node('c').currentRole).toBe('follower')
    expect(sent).toEqual([])
    // It votes: with b down, a needs c's vote to win, and c's acknowledgement to commit.
    const c2 = tinyCluster(ids, () => ({ failover: { noFailover: ['c'] } }))
    for (const n of ids) c2.node(n).tick(0)
    c2.node('a').promote()
    c2.deliver(new Set(['b']))
    expect(c2.node('a').currentRole).toBe('primary')
    c2.node('a').write(put('x', 1))
    c2.durable()
    c2.deliver(new Set(['b']))
    c2.durable()
    c2.deliver(new Set(['b']))
    expect(c2.outcomes.at(-1)).toMatchObject({ status: 'acknowledged', level: 'majority' })
  })

  it('with equal logs, the higher-priority replica stands first and becomes primary', () => {
    for (const preferred of ['a', 'b', 'c']) {
      const c = tinyCluster(ids, () => ({ failover: { priorities: { [preferred]: 5 } } }))
      let ms = 0
      while (ids.every((id) => c.node(id).currentRole !== 'primary') && ms < 10_000) tickAll(c, ids, (ms += 10))
      expect(c.node(preferred).currentRole).toBe('primary')
    }
  })

  it('priority never lets a less up-to-date node win: a preferred replica that is behind loses to the one that holds every committed write', () => {
    const c = tinyCluster(ids, () => ({ failover: { priorities: { a: 9 } } }))
    elect(c, ids, 'b', 0)
    // a misses the writes; b and c commit them.
    const cutA = new Set(['a'])
    for (let i = 0; i < 5; i++) c.node('b').write(put(`k${i}`, i))
    c.durable()
    c.deliver(cutA)
    c.durable()
    c.deliver(cutA)
    const committed = c.node('b').commit
    expect(c.node('c').lastPosition.lsn).toBeGreaterThanOrEqual(committed)
    expect(c.node('a').lastPosition.lsn).toBeLessThan(committed)
    // b dies; a (preferred) stands first and loses, c wins in the end.
    const down = new Set(['b'])
    let ms = 100
    while (ids.every((id) => id === 'b' || c.node(id).currentRole !== 'primary') && ms < 20_000) tickAll(c, ids, (ms += 10), down)
    expect(c.node('c').currentRole).toBe('primary')
    expect(c.node('a').currentRole).not.toBe('primary')
    expect(c.node('c').lastPosition.lsn).toBeGreaterThanOrEqual(committed)
  })

  it('a replica more than maxLagOnFailover entries behind the commit index it heard of does not stand', () => {
    const sent: StrictMessage[] = []
    const c = tinyCluster(ids, (id) => ({ failover: { maxLagOnFailover: 2 }, ...(id === 'c' ? { send: (to: string, m: StrictMessage) => sent.push(m) } : {}) }))
    elect(c, ids, 'a', 0)
    // c receives every append but never makes anything durable: its durable log lags the commit index.
    for (let i = 0; i < 6; i++) c.node('a').write(put(`k${i}`, i))
    const durableExceptC = () => {
      c.node('a').markDurable(c.node('a').lastPosition.lsn)
      c.node('b').markDurable(c.node('b').lastPosition.lsn)
    }
    durableExceptC()
    c.deliver()
    durableExceptC()
    c.deliver()
    c.node('a').tick(60) // a heartbeat carries the final commit index
    c.deliver()
    expect(c.node('a').commit).toBeGreaterThan(c.node('c').durable + 2)
    sent.length = 0
    for (let ms = 100; ms <= 5_000; ms += 50) c.node('c').tick(ms)
    expect(sent.filter((m) => m.type === 'pre-vote' || m.type === 'request-vote')).toEqual([])
    // Once durable, it stands again.
    c.node('c').markDurable(c.node('c').lastPosition.lsn)
    for (let ms = 5_000; ms <= 6_000; ms += 50) c.node('c').tick(ms)
    expect(sent.some((m) => m.type === 'pre-vote')).toBe(true)
  })

  it('a noFailover replica holding writes the eligible one lacks lends them, so the eligible one still takes over with every write', () => {
    const c = tinyCluster(ids, () => ({ failover: { noFailover: ['c'] } }))
    elect(c, ids, 'a', 0)
    // a's last writes reach c (and commit with it), not b.
    const cutB = new Set(['b'])
    for (let i = 0; i < 5; i++) c.node('a').write(put(`k${i}`, i))
    c.durable()
    c.deliver(cutB)
    c.durable()
    c.deliver(cutB)
    const committed = c.node('a').commit
    expect(c.node('b').lastPosition.lsn).toBeLessThan(committed)
    expect(c.node('c').lastPosition.lsn).toBeGreaterThanOrEqual(committed)
    // a dies: b alone may stand, c alone has the writes.
    const down = new Set(['a'])
    let ms = 100
    while (c.node('b').currentRole !== 'primary' && ms < 20_000) tickAll(c, ids, (ms += 10), down)
    expect(c.node('b').currentRole).toBe('primary')
    expect(c.node('c').currentRole).toBe('follower')
    for (let i = 0; i < 5; i++) expect(c.node('b').entryAt(committed - 4 + i)?.op).toMatchObject({ kind: 'put', id: `k${i}` })
  })

  it('step-down never hands over to a noFailover replica, even the most caught up', () => {
    const c = tinyCluster(ids, () => ({ failover: { noFailover: ['c'] } }))
    elect(c, ids, 'a', 0)
    c.node('a').write(put('x', 1))
    c.durable()
    c.deliver(new Set(['b'])) // c is ahead of b
    c.queue.length = 0
    c.node('a').stepDown()
    const timeoutNow = c.queue.filter((q) => q.message.type === 'timeout-now')
    expect(timeoutNow.map((q) => q.to)).toEqual(['b'])
  })

  it('switchover refuses writes, hands over once the target is durable to the last LSN, and the target becomes primary', () => {
    const c = tinyCluster(ids, () => ({ failover: { noFailover: ['c'] } }))
    elect(c, ids, 'a', 0)
    expect(c.node('a').switchover('zz', 1000)).toBe('unknown-member')
    expect(c.node('a').switchover('c', 1000)).toBe('no-failover')
    expect(c.node('b').switchover('a', 1000)).toBe('not-primary')
    c.node('a').write(put('x', 1))
    expect(c.node('a').switchover('b', 1000)).toBe('started')
    expect(c.node('a').write(put('y', 1))).toMatchObject({ status: 'rejected', error: { code: 'NOT_PRIMARY' } })
    expect(c.node('a').barrier()).toMatchObject({ status: 'rejected' })
    // timeout-now leaves only after b is durable at a's last LSN.
    expect(c.queue.some((q) => q.message.type === 'timeout-now')).toBe(false)
    for (let i = 0; i < 4; i++) {
      c.durable()
      c.deliver()
    }
    expect(c.node('b').currentRole).toBe('primary')
    expect(c.node('a').currentRole).toBe('follower')
    expect(c.node('a').switchoverTarget).toBeNull()
    expect(c.node('b').read('acc', 'x')).toMatchObject({ status: 'ok', document: { value: { n: 1 } } })
  })

  it('a switchover whose target does not catch up in time ends at its deadline and the primary takes writes again', () => {
    const c = tinyCluster(ids)
    elect(c, ids, 'a', 0)
    c.node('a').write(put('x', 1))
    expect(c.node('a').switchover('b', 500)).toBe('started')
    const cutB = new Set(['b'])
    for (let ms = 10; ms < 500; ms += 40) tickAll(c, ids, ms, cutB)
    expect(c.node('a').switchoverTarget).toBe('b')
    expect(c.node('a').write(put('y', 1)).status).toBe('rejected')
    tickAll(c, ids, 520, cutB)
    expect(c.node('a').currentRole).toBe('primary')
    expect(c.node('a').switchoverTarget).toBeNull()
    expect(c.node('a').write(put('y', 1)).status).toBe('accepted')
  })
})

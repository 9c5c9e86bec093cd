import { describe, expect, it } from 'vitest'
import { tinyCluster } from './tiny-cluster.js'
import {
  checkPreconditions,
  DocumentState,
  isAtLeastAsUpToDate,
  mayGrantVote,
  reachedLevel,
  StrictLog,
  StrictNode,
  StrictAckTracker,
  type WriteOutcome,
} from '../../../core/strict/index.js'

const put = (id: string, n: number, precondition?: { expectVersion?: number; exists?: boolean }) =>
  ({ kind: 'put', collection: 'acc', id, value: { n }, ...(precondition ? { precondition } : {}) }) as const

describe('StrictLog', () => {
  it('[ST5] truncates a divergent suffix and keeps the epoch history for log matching', () => {
    const log = new StrictLog()
    log.append({ epoch: 1, lsn: 1, op: { kind: 'noop' } })
    log.append({ epoch: 1, lsn: 2, op: put('a', 1) })
    log.append({ epoch: 2, lsn: 3, op: put('a', 2) })
    expect(log.epochAt(3)).toBe(2)
    expect(log.epochStartOf(3)).toBe(3)
    const removed = log.truncateFrom(3)
    expect(removed.map((e) => e.lsn)).toEqual([3])
    expect(log.last).toEqual({ epoch: 1, lsn: 2 })
    log.pruneTo(2)
    expect(log.entry(2)).toBeUndefined()
    expect(log.epochAt(2)).toBe(1) // still answers below the pruned prefix [ST6]
    expect(() => log.truncateFrom(2)).toThrow()
  })

  it('[FO1] compares logs by last epoch, then length', () => {
    expect(isAtLeastAsUpToDate({ epoch: 2, lsn: 1 }, { epoch: 1, lsn: 9 })).toBe(true)
    expect(isAtLeastAsUpToDate({ epoch: 1, lsn: 9 }, { epoch: 2, lsn: 1 })).toBe(false)
    expect(isAtLeastAsUpToDate({ epoch: 2, lsn: 4 }, { epoch: 2, lsn: 5 })).toBe(false)
    expect(mayGrantVote({ epoch: 3, candidate: 'b', last: { epoch: 2, lsn: 5 } }, 3, null, { epoch: 2, lsn: 5 })).toBe(true)
    expect(mayGrantVote({ epoch: 3, candidate: 'b', last: { epoch: 2, lsn: 5 } }, 3, 'c', { epoch: 2, lsn: 5 })).toBe(false)
    expect(mayGrantVote({ epoch: 3, candidate: 'b', last: { epoch: 2, lsn: 4 } }, 3, null, { epoch: 2, lsn: 5 })).toBe(false)
  })
})

describe('preconditions and state', () => {
  it('rejects a whole batch when one precondition fails, seeing earlier ops of the same batch', () => {
    const state = new DocumentState()
    state.apply({ epoch: 1, lsn: 1, op: put('a', 1) })
    const lookup = (key: string) => state.get(key)
    expect(checkPreconditions({ kind: 'batch', ops: [put('a', 2, { expectVersion: 1 }), put('b', 1, { exists: false })] }, lookup)).toBeNull()
    const failed = checkPreconditions({ kind: 'batch', ops: [put('b', 1, { exists: false }), put('b', 2, { exists: false })] }, lookup)
    expect(failed).toMatchObject({ code: 'PRECONDITION_FAILED', key: 'acc/b', opIndex: 1 })
    expect(checkPreconditions(put('a', 3, { expectVersion: 0 }), lookup)).toMatchObject({ actualVersion: 1 })
  })

  it('[ST4] the digest depends on content, not on the order documents were written', () => {
    const x = new DocumentState()
    const y = new DocumentState()
    x.apply({ epoch: 1, lsn: 1, op: { kind: 'batch', ops: [put('a', 1), put('b', 2)] } })
    y.apply({ epoch: 1, lsn: 1, op: { kind: 'batch', ops: [put('b', 2), put('a', 1)] } })
    expect(x.digest()).toBe(y.digest())
    y.apply({ epoch: 1, lsn: 2, op: { kind: 'delete', collection: 'acc', id: 'b' } })
    expect(x.digest()).not.toBe(y.digest())
  })
})

describe('write-concern accounting', () => {
  it('reports the level an entry reached', () => {
    expect(reachedLevel(5, { ownDurableLsn: 4, replicaDurableLsns: [0, 0], commitLsn: 0 })).toBeNull()
    expect(reachedLevel(5, { ownDurableLsn: 5, replicaDurableLsns: [0, 0, 0, 0], commitLsn: 0 })).toBe('local')
    expect(reachedLevel(5, { ownDurableLsn: 5, replicaDurableLsns: [5, 0, 0, 0], commitLsn: 0 })).toBe('one')
    expect(reachedLevel(5, { ownDurableLsn: 5, replicaDurableLsns: [5, 5, 0, 0], commitLsn: 5 })).toBe('majority')
    expect(reachedLevel(5, { ownDurableLsn: 5, replicaDurableLsns: [5, 5, 6, 5], commitLsn: 5 })).toBe('all')
  })

  it('[ST3] semi-sync falls back to local after its timeout, then times out others as indeterminate', () => {
    const outcomes: WriteOutcome[] = []
    const tracker = new StrictAckTracker({ semiSyncTimeoutMs: 100, onOutcome: (o) => outcomes.push(o) })
    tracker.add(1, { epoch: 1, lsn: 2 }, 'one', 0, 1_000)
    tracker.add(2, { epoch: 1, lsn: 3 }, 'majority', 0, 1_000)
    const progress = { ownDurableLsn: 3, replicaDurableLsns: [0, 0], commitLsn: 1 }
    tracker.evaluate(progress, 50)
    expect(outcomes).toEqual([])
    tracker.evaluate(progress, 100)
    expect(outcomes[0]).toMatchObject({ status: 'acknowledged', level: 'local', degraded: true })
    expect(tracker.degraded).toBe(true)
    tracker.evaluate(progress, 1_000)
    expect(outcomes[1]).toMatchObject({ status: 'indeterminate', reason: 'timeout', reached: 'local' })
    tracker.evaluate({ ownDurableLsn: 3, replicaDurableLsns: [2, 0], commitLsn: 2 }, 1_001)
    expect(tracker.degraded).toBe(false) // a replica caught up
  })
})

/** A tiny synchronous cluster for node-level unit tests, recording rollbacks as `node@epoch:lsn`. */
function cluster(ids: string[]) {
  const rollbacks: string[] = []
  const c = tinyCluster(ids, (id) => ({ onRollback: (removed) => rollbacks.push(...removed.map((e) => `${id}@${e.epoch}:${e.lsn}`)) }))
  return { ...c, rollbacks }
}

describe('StrictNode', () => {
  it('flow control: at most maxInflightBytes of entries go to a replica before it answers; its answers let the rest follow, in order', () => {
    const sent = new Map<string, number>()
    const c = tinyCluster(['a', 'b', 'c'], () => ({ maxAppendBytes: 10_000, maxInflightBytes: 10_000 }))
    c.node('a').promote()
    c.deliver()
    c.durable()
    c.deliver()
    const big = 'x'.repeat(3_000)
    for (let i = 0; i < 30; i++) c.node('a').write({ kind: 'put', collection: 'accounts', id: `d${i}`, value: { big } })
    c.node('a').flushAppends()
    // Nothing delivered yet: what left for b is bounded by the window.
    for (const { to, message } of c.queue) {
      if (message.type === 'append') sent.set(to, (sent.get(to) ?? 0) + message.entries.reduce((n, e) => n + JSON.stringify(e.op).length, 0))
    }
    expect(sent.get('b')).toBeGreaterThan(0)
    expect(sent.get('b')).toBeLessThanOrEqual(10_000)
    for (let round = 0; round < 40; round++) {
      c.deliver()
      c.durable()
      c.deliver()
    }
    for (const id of ['b', 'c']) expect(c.node(id).lastPosition.lsn).toBe(c.node('a').lastPosition.lsn)
    expect(c.node('a').status().commitLsn).toBe(c.node('a').lastPosition.lsn)
  })

  it('[ST2] pre-vote: a node cut off for a long time does not raise its epoch, and its return does not depose the primary', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.deliver()
    const epoch = c.node('a').currentEpoch
    // c hears nothing for many election timeouts while a and b keep heartbeating.
    for (let t = 0; t <= 5_000; t += 50) {
      for (const id of ['a', 'b', 'c']) c.node(id).tick(t)
      c.deliver(new Set(['c']))
      c.durable()
    }
    expect(c.node('c').currentEpoch).toBe(epoch)
    expect(c.node('c').currentRole).toBe('follower')
    // Healed: c's pre-votes are refused (a and b hear their primary), a stays primary in the same epoch.
    for (let t = 5_050; t <= 6_000; t += 50) {
      for (const id of ['a', 'b', 'c']) c.node(id).tick(t)
      c.deliver()
    }
    expect(c.node('a').currentRole).toBe('primary')
    expect(c.node('a').currentEpoch).toBe(epoch)
    expect(c.node('c').status().primaryHint).toBe('a')
  })

  it('[FO1] pre-vote: the node with the best log but the oldest epoch learns the epoch from refusals and is elected', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.deliver()
    c.durable()
    c.deliver()
    c.node('a').write(put('x', 1))
    c.deliver()
    c.durable()
    c.deliver()
    // b and c run elections among themselves they cannot win (a is down): their epochs climb.
    c.node('b').promote()
    c.deliver(new Set(['a', 'c']))
    c.node('c').promote()
    c.node('c').promote()
    c.deliver(new Set(['a', 'b']))
    // Now only pre-votes, everyone connected, no primary: someone must win.
    for (let t = 10_000; t <= 20_000 && ![...'abc'].some((id) => c.node(id).currentRole === 'primary'); t += 50) {
      for (const id of ['a', 'b', 'c']) c.node(id).tick(t)
      c.deliver()
      c.durable()
      c.deliver()
    }
    expect([...'abc'].filter((id) => c.node(id).currentRole === 'primary')).toHaveLength(1)
  })

  it('[FO1][ST1] elects a primary, acknowledges a majority write once durable, rejects with typed errors', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.deliver()
    expect(c.node('a').currentRole).toBe('primary')
    const rejected = c.node('b').write(put('x', 1))
    expect(rejected).toMatchObject({ status: 'rejected', error: { code: 'NOT_PRIMARY', primaryHint: 'a' } })
    const w = c.node('a').write(put('x', 1, { exists: false }), { concern: 'majority' })
    expect(w.status).toBe('accepted')
    // The second write conflicts with the first, still pending: never two conflicting writes.
    expect(c.node('a').write(put('x', 2, { exists: false }))).toMatchObject({ status: 'rejected', error: { code: 'PRECONDITION_FAILED' } })
    c.deliver()
    expect(c.outcomes).toEqual([])
    c.durable()
    c.deliver()
    expect(c.outcomes[0]).toMatchObject({ status: 'acknowledged', level: 'majority' })
    c.node('a').tick(60) // a heartbeat carries the commit index
    c.deliver()
    expect(c.node('b').read('acc', 'x', { after: w.status === 'accepted' ? w.token : { epoch: 0, lsn: 0 } })).toMatchObject({ status: 'ok', document: { value: { n: 1 } } })
  })

  it('[ST2] a replica rejects a stale epoch; [ST5] a former primary truncates and reports its divergent suffix; [RD1] not-yet', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.deliver()
    c.durable()
    c.deliver()
    // a is cut off and accepts a write nobody else sees.
    const lost = c.node('a').write(put('x', 1))
    c.queue.length = 0
    c.node('b').promote()
    c.deliver(new Set(['a']))
    expect(c.node('b').currentRole).toBe('primary')
    const kept = c.node('b').write(put('y', 1))
    c.deliver(new Set(['a']))
    c.durable()
    c.deliver(new Set(['a']))
    // a still believes it is primary; its stale heartbeat is refused by c and that fences a.
    c.node('a').tick(60)
    c.deliver()
    expect(c.node('a').currentRole).toBe('follower')
    expect(c.node('a').currentEpoch).toBe(c.node('b').currentEpoch)
    c.node('b').tick(60)
    c.deliver()
    expect(c.rollbacks).toEqual([`a@${lost.status === 'accepted' ? `${lost.token.epoch}:${lost.token.lsn}` : ''}`])
    expect(c.outcomes.some((o) => o.status === 'indeterminate' && o.reason === 'stepped-down')).toBe(true)
    expect(c.node('c').read('acc', 'x', { after: { epoch: 99, lsn: 99 } })).toMatchObject({ status: 'not-yet' })
    if (kept.status === 'accepted') expect(c.node('a').epochAt(kept.token.lsn)).toBe(kept.token.epoch)
  })

  it('[RD3] a replica that hears only from a deposed primary grows stale: staleness counts rounds a majority confirmed', () => {
    const ids = ['a', 'b', 'c', 'd', 'e']
    const c = tinyCluster(ids)
    const side = new Map<string, number>(ids.map((id) => [id, 0]))
    const step = (t: number) => {
      for (const id of ids) c.node(id).tick(t)
      for (let i = 0; i < 6; i++) {
        // Delivered only within a side of the partition (everyone is on side 0 until it is cut).
        for (const { to, message } of c.queue.splice(0)) if (side.get(to) === side.get(message.from)) c.node(to).receive(message)
        c.durable()
      }
    }
    c.node('a').promote()
    for (let t = 0; t <= 500; t += 50) step(t)
    expect(c.node('a').currentRole).toBe('primary')
    // Healthy: a round is confirmed by the append after the majority's answers, so about one or two heartbeats.
    expect(c.node('b').status().stalenessMs).toBeLessThanOrEqual(100)
    // a and b are cut off; an operator promotes c on the majority side, whose no-op commits at once.
    for (const id of ['c', 'd', 'e']) side.set(id, 1)
    c.node('c').promote()
    step(500)
    expect(c.node('c').currentRole).toBe('primary')
    const missing = c.node('c').commit
    // a does not know yet (check-quorum takes an election timeout) and keeps heartbeating b.
    step(550)
    step(600)
    expect(c.node('a').currentRole).toBe('primary')
    expect(c.node('b').applied).toBeLessThan(missing)
    // b lacks what c committed at t=500, so it must not claim to be fresher than that.
    expect(c.node('b').status().stalenessMs).toBeGreaterThanOrEqual(100)
    expect(c.node('b').read('acc', 'x')).toMatchObject({ status: 'ok', stalenessMs: c.node('b').status().stalenessMs })
  })

  it('[ST6] a replica behind a pruned log bootstraps from a snapshot', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.deliver()
    for (let i = 0; i < 5; i++) c.node('a').write(put(`k${i}`, i))
    c.deliver(new Set(['c']))
    c.durable()
    c.deliver(new Set(['c']))
    c.node('a').tick(10)
    c.deliver(new Set(['c']))
    expect(c.node('a').compact(c.node('a').applied)).not.toBeNull()
    c.node('a').tick(100)
    c.deliver()
    c.durable()
    c.deliver()
    expect(c.node('c').applied).toBe(c.node('a').applied)
    expect(c.node('c').digest()).toBe(c.node('a').digest())
  })
})

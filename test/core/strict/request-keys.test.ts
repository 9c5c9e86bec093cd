import { describe, expect, it } from 'vitest'
import { tinyCluster } from './tiny-cluster.js'
import {
  DocumentState,
  RequestKeyTable,
  StrictNode,
  StrictAckTracker,
  type LogEntry,
  type StrictSnapshot,
  type WriteOutcome,
  type WriteSubmission,
} from '../../../core/strict/index.js'

const put = (id: string, n: number, precondition?: { exists?: boolean }) =>
  ({ kind: 'put', collection: 'acc', id, value: { n }, ...(precondition ? { precondition } : {}) }) as const

const accepted = (w: WriteSubmission) => {
  if (w.status !== 'accepted') throw new Error(`write rejected: ${JSON.stringify(w)}`)
  return w
}

/** A tiny synchronous cluster (as in strict-units.test.ts), keeping what each node appended. */
function cluster(ids: string[]) {
  const snapshots = new Map<string, StrictSnapshot>()
  const appended = new Map<string, LogEntry[]>(ids.map((id) => [id, []]))
  const { node, queue, deliver, durable, outcomes } = tinyCluster(ids, (id) => ({
    onSnapshot: (s) => snapshots.set(id, s),
    onAppend: (entries) => appended.get(id)?.push(...entries),
  }))
  /** Replicates, makes everything durable and spreads the commit index. */
  const settle = (blocked: Set<string> = new Set(), now = 10) => {
    deliver(blocked)
    durable()
    deliver(blocked)
    for (const id of ids) if (!blocked.has(id)) node(id).tick(now)
    deliver(blocked)
  }
  /** The entries of `id`'s log that carry `key`. */
  const carrying = (id: string, key: string) => {
    const out: LogEntry[] = []
    for (let lsn = 1; lsn <= node(id).lastPosition.lsn; lsn++) if (node(id).entryAt(lsn)?.requestKey === key) out.push(node(id).entryAt(lsn) as LogEntry)
    return out
  }
  return { node, queue, deliver, durable, settle, outcomes, snapshots, appended, carrying }
}

describe('at-most-once writes with a request key', () => {
  it('a resend while the original is pending, or after it committed, appends nothing and answers with the original token', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.settle()
    const first = accepted(c.node('a').write(put('x', 1, { exists: false }), { concern: 'majority', requestKey: 'k1' }))
    expect(first.duplicate).toBeUndefined()
    expect(c.node('a').entryAt(first.token.lsn)?.requestKey).toBe('k1')
    // Pending: found in the primary's unapplied entries. Its precondition would fail now (x exists in
    // the pending log) but is not checked again: the original was accepted.
    const again = accepted(c.node('a').write(put('x', 1, { exists: false }), { concern: 'majority', requestKey: 'k1' }))
    expect(again).toMatchObject({ duplicate: true, token: first.token })
    expect(again.writeId).not.toBe(first.writeId)
    expect(c.node('a').lastPosition.lsn).toBe(first.token.lsn)
    expect(c.outcomes).toEqual([])
    c.settle()
    // Both are acknowledged when the one entry commits, each with the original token.
    expect(c.outcomes.filter((o) => o.status === 'acknowledged').map((o) => [o.writeId, o.token])).toEqual([
      [first.writeId, first.token],
      [again.writeId, first.token],
    ])
    // After commit: found in the applied state's table; acknowledged at the next progress or tick.
    c.outcomes.length = 0
    const late = accepted(c.node('a').write(put('x', 9), { concern: 'all', requestKey: 'k1' }))
    expect(late).toMatchObject({ duplicate: true, token: first.token })
    expect(c.outcomes).toEqual([])
    c.node('a').tick(20)
    expect(c.outcomes).toEqual([expect.objectContaining({ status: 'acknowledged', writeId: late.writeId, token: first.token, level: 'all' })])
    // The document was written once.
    expect(c.node('a').read('acc', 'x')).toMatchObject({ status: 'ok', document: { value: { n: 1 }, version: first.token.lsn } })
    expect(c.carrying('a', 'k1')).toHaveLength(1)
  })

  it('a duplicate is acknowledged behind earlier pending writes of its concern in LSN order, not after them', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.settle()
    const first = accepted(c.node('a').write(put('x', 1), { concern: 'majority', requestKey: 'k' }))
    const later = accepted(c.node('a').write(put('y', 1), { concern: 'majority' }))
    const dup = accepted(c.node('a').write(put('x', 1), { concern: 'majority', requestKey: 'k' }))
    // Replicate only the first entry to a majority: the duplicate must not wait for `later`.
    c.deliver()
    c.node('a').markDurable(first.token.lsn)
    c.node('b').markDurable(first.token.lsn)
    c.deliver()
    expect(c.outcomes.map((o) => o.writeId).sort()).toEqual([first.writeId, dup.writeId].sort())
    expect(later.token.lsn).toBeGreaterThan(first.token.lsn)
  })

  it('a key whose entry was rolled back is written anew by the next primary; the log ends with it once', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.settle()
    // a is cut off with a keyed write nobody else sees.
    const lost = accepted(c.node('a').write(put('x', 1), { requestKey: 'k2' }))
    c.queue.length = 0
    c.node('b').promote()
    c.deliver(new Set(['a']))
    expect(c.node('b').currentRole).toBe('primary')
    const resent = accepted(c.node('b').write(put('x', 1), { requestKey: 'k2' }))
    expect(resent.duplicate).toBeUndefined()
    expect(resent.token.epoch).toBeGreaterThan(lost.token.epoch)
    c.settle(new Set(['a']))
    // a returns, is fenced, truncates its entry and takes b's.
    c.node('a').tick(60)
    c.deliver()
    c.node('b').tick(120)
    c.settle()
    for (const id of ['a', 'b', 'c']) expect(c.carrying(id, 'k2').map((e) => `${e.epoch}:${e.lsn}`)).toEqual([`${resent.token.epoch}:${resent.token.lsn}`])
    // And b remembers it: a further resend is a duplicate of the new entry.
    expect(c.node('b').write(put('x', 1), { requestKey: 'k2' })).toMatchObject({ duplicate: true, token: resent.token })
  })

  it('a new primary finds a key in entries of the old epoch it has not applied yet', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.settle()
    const original = accepted(c.node('a').write(put('x', 1), { requestKey: 'k3' }))
    // The entry reaches b and c but a fails before committing it.
    c.deliver()
    c.durable()
    c.queue.length = 0
    c.node('b').promote()
    c.deliver(new Set(['a']))
    expect(c.node('b').currentRole).toBe('primary')
    expect(c.node('b').applied).toBeLessThan(original.token.lsn)
    expect(c.node('b').write(put('x', 1), { requestKey: 'k3' })).toMatchObject({ status: 'accepted', duplicate: true, token: original.token })
  })

  it('keys survive a snapshot install and a restart from snapshot and log', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.settle()
    const keyed = accepted(c.node('a').write(put('k', 1), { requestKey: 'snap' }))
    c.settle(new Set(['c']))
    const snapshot = c.node('a').compact(c.node('a').applied)
    expect(snapshot?.requestKeys).toEqual([['snap', keyed.token]])
    // c catches up from the snapshot, then is elected: it knows the key.
    c.node('a').tick(100)
    c.settle()
    expect(c.snapshots.get('c')?.requestKeys).toEqual([['snap', keyed.token]])
    c.node('c').promote()
    c.deliver()
    expect(c.node('c').currentRole).toBe('primary')
    expect(c.node('c').write(put('k', 2), { requestKey: 'snap' })).toMatchObject({ duplicate: true, token: keyed.token })

    // Restart: a fresh node from a's snapshot plus a later keyed entry in its log, alone in its cluster.
    const after: LogEntry = { epoch: keyed.token.epoch, lsn: (snapshot as StrictSnapshot).lsn + 1, op: put('m', 1), requestKey: 'wal' }
    const restarted = new StrictNode({
      id: 'a',
      members: ['a'],
      random: () => 0.5,
      send: () => undefined,
      restore: { hardState: { epoch: keyed.token.epoch, votedFor: 'a' }, snapshot, entries: [after] },
    })
    expect(restarted.write(put('k', 3), { requestKey: 'snap' })).toMatchObject({ status: 'rejected' }) // not primary yet
    restarted.promote()
    expect(restarted.write(put('k', 3), { requestKey: 'snap' })).toMatchObject({ duplicate: true, token: keyed.token })
    expect(restarted.write(put('m', 2), { requestKey: 'wal' })).toMatchObject({ duplicate: true, token: { epoch: after.epoch, lsn: after.lsn } })
  })

  it('writes without a key are unchanged: no key in entries or snapshots; an empty key is refused', () => {
    const c = cluster(['a', 'b', 'c'])
    c.node('a').promote()
    c.settle()
    const w = accepted(c.node('a').write(put('x', 1)))
    expect(Object.keys(w).sort()).toEqual(['status', 'token', 'writeId'])
    expect(Object.keys(c.node('a').entryAt(w.token.lsn) as object)).toEqual(['epoch', 'lsn', 'op'])
    accepted(c.node('a').write(put('y', 1), { requestKey: null }))
    c.settle()
    expect(c.node('a').compact(c.node('a').applied)).not.toHaveProperty('requestKeys')
    expect(c.node('a').write(put('x', 2), { requestKey: '' })).toMatchObject({ status: 'rejected', error: { code: 'INVALID_OP' } })
  })
})

describe('the request key table', () => {
  it('remembers applied keys first in, first out, bounded by requestKeyRetention, and outside the digest', () => {
    const table = new RequestKeyTable(2)
    for (let lsn = 1; lsn <= 3; lsn++) table.apply({ epoch: 1, lsn, op: put('x', lsn), requestKey: `k${lsn}` })
    expect([...table.entries()]).toEqual([
      ['k2', { epoch: 1, lsn: 2 }],
      ['k3', { epoch: 1, lsn: 3 }],
    ])
    table.reset([['a', { epoch: 1, lsn: 1 }], ['b', { epoch: 1, lsn: 2 }], ['c', { epoch: 1, lsn: 3 }]])
    expect([...table.entries()].map(([k]) => k)).toEqual(['b', 'c'])

    const keyed = new DocumentState({ requestKeyRetention: 10 })
    const plain = new DocumentState()
    keyed.apply({ epoch: 1, lsn: 1, op: put('x', 1), requestKey: 'k' })
    plain.apply({ epoch: 1, lsn: 1, op: put('x', 1) })
    expect(keyed.requestKeyPosition('k')).toEqual({ epoch: 1, lsn: 1 })
    expect(keyed.digest()).toBe(plain.digest())
    keyed.reset([])
    expect(keyed.requestKeyPosition('k')).toBeUndefined()
  })

  it('StrictAckTracker keeps each concern in LSN order when a duplicate names an earlier entry', () => {
    const outcomes: WriteOutcome[] = []
    const tracker = new StrictAckTracker({ semiSyncTimeoutMs: 100, onOutcome: (o) => outcomes.push(o) })
    tracker.add(1, { epoch: 1, lsn: 5 }, 'majority', 0, 1_000)
    tracker.add(2, { epoch: 1, lsn: 3 }, 'majority', 0, 1_000)
    // Progress without timeouts stops at the first write still waiting: the duplicate at 3 comes first.
    tracker.evaluate({ ownDurableLsn: 5, replicaDurableLsns: [3, 3], commitLsn: 3 }, 1, false)
    expect(outcomes.map((o) => o.writeId)).toEqual([2])
  })
})

import { describe, expect, it } from 'vitest'
import { tinyCluster } from './tiny-cluster.js'
import { checkReplicateFrom, downstreamOf, replicateFromCycle, StrictNode, upstreamOf, type StrictMessage } from '../../../core/strict/index.js'

/**
 * Cascading replicas (docs/strict-mode.md, "Cascading replicas"): a replica streams the log from
 * another replica; acknowledgements travel back up the chain to the primary, which counts them; the
 * primary streams to a cascaded replica itself while its relay is silent.
 */

const put = (id: string, n: number) => ({ kind: 'put', collection: 'acc', id, value: { n } }) as const

type Cluster = ReturnType<typeof tinyCluster>

/** Ticks every node (except `down`) to `ms`, delivering and making logs durable in between. */
function tickAll(c: Cluster, ids: string[], ms: number, down: Set<string> = new Set()) {
  for (const id of ids) if (!down.has(id)) c.node(id).tick(ms)
  for (let i = 0; i < 3; i++) {
    c.durable()
    c.deliver(down)
  }
}

/** Elects `id` by promotion and lets its no-op reach everyone reachable. */
function elect(c: Cluster, ids: string[], id: string, atMs: number) {
  for (const n of ids) c.node(n).tick(atMs)
  c.node(id).promote()
  tickAll(c, ids, atMs)
  expect(c.node(id).currentRole).toBe('primary')
}

/** Appends that carry entries (heartbeats carry none). */
const carriesEntries = (m: StrictMessage): boolean => (m.type === 'append' || m.type === 'relayed-append') && m.entries.length > 0

/** Records every message sent, as `from→to type` (from: the sending node, not the message's `from`). */
function recordSends(ids: string[], replicateFrom: Record<string, string>, cascadeFallbackMs?: number) {
  const sent: { sender: string; to: string; message: StrictMessage }[] = []
  let c: Cluster | null = null
  c = tinyCluster(ids, (id) => ({
    replicateFrom,
    ...(cascadeFallbackMs === undefined ? {} : { cascadeFallbackMs }),
    send: (to, message) => {
      sent.push({ sender: id, to, message })
      ;(c as Cluster).queue.push({ to, message })
    },
  }))
  return { c, sent }
}

describe('cascading replicas: the replicateFrom map', () => {
  it('accepts chains and fan-outs, refuses non-members, self-references and cycles', () => {
    const members = ['a', 'b', 'c', 'd']
    expect(() => checkReplicateFrom({ c: 'b', d: 'b' }, members)).not.toThrow()
    expect(() => checkReplicateFrom({ c: 'b', b: 'a' }, members)).not.toThrow()
    expect(() => checkReplicateFrom({ z: 'a' }, members)).toThrow(/z, not a member/)
    expect(() => checkReplicateFrom({ a: 'z' }, members)).toThrow(/names z, not a member/)
    expect(() => checkReplicateFrom({ a: 'a' }, members)).toThrow(/itself/)
    expect(() => checkReplicateFrom({ a: 'b', b: 'c', c: 'a' }, members)).toThrow(/cycle: a → b → c → a/)
    expect(replicateFromCycle({ d: 'a', a: 'b', b: 'a' })).toEqual(['a', 'b', 'a'])
    expect(downstreamOf({ c: 'b', d: 'b', b: 'a' }, 'b')).toEqual(['c', 'd'])
    expect(upstreamOf({ c: 'b' }, 'c')).toBe('b')
    expect(upstreamOf({ c: 'b' }, 'b')).toBeNull()
    const base = { id: 'a', members: ['a', 'b', 'c'], random: () => 0.5, send: () => {} }
    expect(() => new StrictNode({ ...base, replicateFrom: { b: 'c', c: 'b' } })).toThrow(/cycle/)
  })
})

describe('cascading replicas in the node', () => {
  it('a chain primary → b → c: the primary sends c only heartbeats, c acknowledges through b, and an `all` write is acknowledged', () => {
    const ids = ['a', 'b', 'c']
    const { c, sent } = recordSends(ids, { c: 'b' })
    elect(c, ids, 'a', 1_000)
    sent.length = 0
    const w = c.node('a').write(put('x', 1), { concern: 'all' })
    expect(w.status).toBe('accepted')
    for (let t = 1_010; t <= 1_200; t += 10) tickAll(c, ids, t)
    expect(c.outcomes.at(-1)).toMatchObject({ status: 'acknowledged', level: 'all' })
    expect(c.node('c').read('acc', 'x')).toMatchObject({ status: 'ok', document: { value: { n: 1 } } })
    // No entry from the primary to c (only heartbeats, which keep c's election timer quiet); c's
    // entries came relayed by b, its answers to them went to b and on to a.
    expect(sent.filter((s) => s.sender === 'a' && s.to === 'c' && carriesEntries(s.message))).toEqual([])
    expect(sent.some((s) => s.sender === 'a' && s.to === 'c' && s.message.type === 'append')).toBe(true)
    expect(sent.some((s) => s.sender === 'b' && s.to === 'c' && s.message.type === 'relayed-append' && s.message.from === 'a')).toBe(true)
    expect(sent.some((s) => s.sender === 'c' && s.to === 'b' && s.message.type === 'relayed-reply')).toBe(true)
    expect(sent.some((s) => s.sender === 'b' && s.to === 'a' && s.message.type === 'relayed-reply' && s.message.from === 'c')).toBe(true)
    expect(sent.filter((s) => s.sender === 'c' && s.to === 'a' && s.message.type !== 'append-reply')).toEqual([])
    const last = c.node('a').lastPosition.lsn
    expect(c.node('a').status().replicas.find((r) => r.id === 'c')).toMatchObject({ via: 'b', durableLsn: last })
    expect(c.node('a').status().replicas.find((r) => r.id === 'b')).toMatchObject({ via: null })
    expect(c.node('c').status()).toMatchObject({ upstream: 'b', primaryHint: 'a', appliedLsn: last })
    expect(c.node('b').status().downstream).toEqual([expect.objectContaining({ id: 'c', matchLsn: last, durableLsn: last })])
    // [RD3] c knows how fresh it is through the relay too.
    expect(c.node('c').status().stalenessMs).not.toBeNull()
  })

  it('a chain of four (a → b → c → d): acknowledgements climb two relays', () => {
    const ids = ['a', 'b', 'c', 'd']
    const { c, sent } = recordSends(ids, { c: 'b', d: 'c' })
    elect(c, ids, 'a', 1_000)
    sent.length = 0
    c.node('a').write(put('x', 2), { concern: 'all' })
    for (let t = 1_010; t <= 1_200; t += 10) tickAll(c, ids, t)
    expect(c.outcomes.at(-1)).toMatchObject({ status: 'acknowledged', level: 'all' })
    expect(c.node('d').read('acc', 'x')).toMatchObject({ status: 'ok', document: { value: { n: 2 } } })
    expect(sent.filter((s) => s.sender === 'a' && (s.to === 'c' || s.to === 'd') && carriesEntries(s.message))).toEqual([])
    expect(c.node('a').status().replicas.find((r) => r.id === 'd')).toMatchObject({ via: 'c' })
  })

  it('when the relay dies the primary streams to the cascaded replica itself, and hands it back when the relay returns', () => {
    const ids = ['a', 'b', 'c']
    const { c, sent } = recordSends(ids, { c: 'b' })
    elect(c, ids, 'a', 1_000)
    const down = new Set(['b'])
    sent.length = 0
    // b is gone: a majority write needs c, which no relay feeds now.
    c.node('a').write(put('y', 1), { concern: 'majority' })
    let t = 1_000
    while (t < 1_400) tickAll(c, ids, (t += 10), down)
    expect(c.outcomes.at(-1)).toMatchObject({ status: 'acknowledged', level: 'majority' })
    expect(sent.some((s) => s.sender === 'a' && s.to === 'c' && carriesEntries(s.message))).toBe(true)
    expect(c.node('c').status().upstream).toBe('a')
    expect(c.node('a').status().replicas.find((r) => r.id === 'c')?.via).toBeNull()
    expect(c.node('c').currentRole).toBe('follower')
    // b returns: the primary stops streaming to c once c's answers come through b again.
    while (t < 1_600) tickAll(c, ids, (t += 10))
    sent.length = 0
    c.node('a').write(put('y', 2), { concern: 'all' })
    while (t < 1_800) tickAll(c, ids, (t += 10))
    expect(c.outcomes.at(-1)).toMatchObject({ status: 'acknowledged', level: 'all' })
    expect(sent.filter((s) => s.sender === 'a' && s.to === 'c' && carriesEntries(s.message))).toEqual([])
    expect(sent.some((s) => s.sender === 'b' && s.to === 'c' && carriesEntries(s.message))).toBe(true)
    expect(c.node('c').status().upstream).toBe('b')
    expect(c.node('a').status().replicas.find((r) => r.id === 'c')?.via).toBe('b')
  })

  it('a relay that pruned what its downstream replica needs sends its own snapshot', () => {
    const ids = ['a', 'b', 'c']
    const { c, sent } = recordSends(ids, { c: 'b' }, 60_000)
    elect(c, ids, 'a', 1_000)
    const down = new Set(['c'])
    let t = 1_000
    for (let i = 0; i < 5; i++) {
      c.node('a').write(put(`k${i}`, i), { concern: 'majority' })
      tickAll(c, ids, (t += 10), down)
    }
    expect(c.node('b').compact()).not.toBeNull()
    sent.length = 0
    while (t < 1_300) tickAll(c, ids, (t += 10))
    expect(sent.some((s) => s.sender === 'b' && s.to === 'c' && s.message.type === 'relayed-snapshot')).toBe(true)
    expect(c.node('c').applied).toBe(c.node('a').lastPosition.lsn)
    expect(c.node('c').digest()).toBe(c.node('a').digest())
  })

  it('where the relay is the primary itself, it streams directly', () => {
    const ids = ['a', 'b', 'c']
    const { c, sent } = recordSends(ids, { c: 'b' })
    elect(c, ids, 'b', 1_000)
    sent.length = 0
    c.node('b').write(put('z', 1), { concern: 'all' })
    for (let t = 1_010; t <= 1_100; t += 10) tickAll(c, ids, t)
    expect(c.outcomes.at(-1)).toMatchObject({ status: 'acknowledged', level: 'all' })
    expect(sent.some((s) => s.sender === 'b' && s.to === 'c' && s.message.type === 'append')).toBe(true)
    expect(sent.filter((s) => s.message.type.startsWith('relayed-'))).toEqual([])
  })
})

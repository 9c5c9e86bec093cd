import { describe, expect, it } from 'vitest'
import { decodeMessage } from '../../../core/codec/index.js'
import { MessageType } from '../../../core/codec/messages.js'
import { MeshHarness, RecordingReplica } from '../../helpers/mesh-harness.js'

const applied = (h: MeshHarness, id: string): string[] =>
  (h.node(id).replica('c', 'doc', 'lww') as RecordingReplica).applied

describe('MeshNode', () => {
  it('[CV2] two peers exchange exactly what the other lacks on connect', () => {
    const h = new MeshHarness()
    h.add('a')
    h.add('b')
    h.write('a')
    h.write('a')
    h.write('b')
    h.link('a', 'b')
    h.pump()
    expect(Object.fromEntries(h.node('a').vector)).toEqual({ a: 2, b: 1 })
    expect(Object.fromEntries(h.node('b').vector)).toEqual({ a: 2, b: 1 })
    expect(h.node('a').stats.sentChanges).toBe(2)
    expect(h.node('b').stats.sentChanges).toBe(1)
  })

  it('[CV2] a chain forwards what the middle node learnt', () => {
    const h = new MeshHarness()
    for (const id of ['a', 'b', 'c']) h.add(id)
    h.link('a', 'b')
    h.link('b', 'c')
    h.pump()
    h.write('a')
    h.write('c')
    h.pump()
    for (const id of ['a', 'b', 'c']) expect(Object.fromEntries(h.node(id).vector)).toEqual({ a: 1, c: 1 })
  })

  it('keeps own changes until they are durable, then streams them', () => {
    const h = new MeshHarness()
    const a = h.add('a')
    h.add('b')
    h.link('a', 'b')
    h.pump()
    a.commit('c', 'doc', 'lww', new Uint8Array([1]))
    h.pump()
    expect(h.node('b').vector.get('a')).toBeUndefined()
    a.markDurable(new Map(a.vector))
    h.pump()
    expect(h.node('b').vector.get('a')).toBe(1)
    expect(h.node('a').durableOf('b')?.get('a')).toBeUndefined()
    h.node('b').markDurable(new Map(h.node('b').vector))
    h.pump()
    expect(h.node('a').durableOf('b')?.get('a')).toBe(1)
  })

  it('[CV4] with deferred propagation, own changes released by markDurable leave at once, before its Ack', () => {
    const h = new MeshHarness()
    const a = h.add('a', { deferPropagation: true })
    h.add('b')
    h.link('a', 'b')
    h.pump()
    a.commit('c', 'doc', 'lww', new Uint8Array([1]))
    a.propagate()
    expect(h.inFlight.filter((m) => m.from === 'a')).toHaveLength(0)
    a.markDurable(new Map(a.vector))
    // No propagate() from the shell: the released change is already out, ahead of the Ack.
    const sent = h.inFlight.filter((m) => m.from === 'a').map((m) => decodeMessage(m.bytes).type)
    expect(sent).toEqual([MessageType.ChangeBatch, MessageType.Ack])
  })

  it('[PF1] a member never gets news of its own changes back, even from a peer that heard them first from another', () => {
    const h = new MeshHarness()
    const members = new Set(['a', 'b', 'c'])
    for (const id of members) h.add(id, { ackGossipMembers: members })
    h.link('a', 'b')
    h.link('a', 'c')
    h.link('b', 'c')
    h.pump()
    h.write('a')
    // c hears of a:1 from b before a's own copy arrives.
    const direct = h.inFlight.findIndex((m) => m.to === 'c' && decodeMessage(m.bytes).type === MessageType.ChangeBatch)
    const [late] = h.inFlight.splice(direct, 1)
    let echoes = 0
    const deliver = (): void => {
      while (h.inFlight.length > 0) {
        const next = h.inFlight[0] as (typeof h.inFlight)[number]
        const message = decodeMessage(next.bytes)
        if (next.to === 'a' && message.type === MessageType.ChangeBatch) echoes += message.changes.filter((c) => c.origin === 'a').length
        h.pump(1)
      }
    }
    deliver()
    if (late) h.inFlight.push(late)
    deliver()
    expect(echoes).toBe(0)
    for (const id of members) expect(h.node(id).vector.get('a')).toBe(1)
  })

  it('[CV3] applies each origin in seq order, buffering early changes and ignoring duplicates', () => {
    const h = new MeshHarness()
    h.add('a')
    h.add('b')
    h.link('a', 'b')
    h.pump()
    h.write('a')
    h.write('a')
    h.write('a')
    // Deliver the three single-change batches backwards, each twice.
    const batches = h.inFlight.splice(0).filter((m) => decodeMessage(m.bytes).type === MessageType.ChangeBatch)
    expect(batches).toHaveLength(3)
    h.inFlight.push(...[...batches].reverse(), ...batches)
    h.pump()
    expect(applied(h, 'b')).toEqual(['a:1', 'a:2', 'a:3'])
    expect(h.node('b').stats.buffered).toBe(2)
    expect(h.node('b').stats.duplicates).toBeGreaterThanOrEqual(3)
    expect(h.node('b').stats.applied).toBe(3)
  })

  it('[CV2] resends after the peer lost what it was sent (crash before fsync)', () => {
    const h = new MeshHarness()
    h.add('a')
    h.add('b')
    h.link('a', 'b')
    h.pump()
    h.write('a')
    h.write('a')
    h.pump()
    // b restarts empty: it lost both changes before making them durable.
    h.nodes.delete('b')
    h.add('b')
    h.node('a').disconnect('b')
    h.link('a', 'b')
    h.pump()
    expect(applied(h, 'b')).toEqual(['a:1', 'a:2'])
  })

  it('[PF4] a full gap buffer drops, counts, and anti-entropy recovers', () => {
    const h = new MeshHarness()
    h.add('a')
    h.add('b', { maxBufferedChanges: 1 })
    h.link('a', 'b')
    h.pump()
    for (let i = 0; i < 4; i++) h.write('a')
    const [first, ...rest] = h.inFlight.splice(0)
    h.inFlight.push(...rest)
    h.pump() // a:2 buffered, a:3 and a:4 overflow; the gap makes b re-announce its vector
    expect(h.node('b').stats.bufferOverflows).toBe(2)
    expect(first).toBeDefined()
    h.pump()
    h.node('b').antiEntropy()
    h.pump()
    expect(applied(h, 'b')).toEqual(['a:1', 'a:2', 'a:3', 'a:4'])
  })

  it('[HLC3] clamps and counts a timestamp from too far in the future, and still applies the change', () => {
    const h = new MeshHarness()
    h.add('fast', { wallOffsetMs: 10 * 60_000 })
    const slow = h.add('slow')
    h.link('fast', 'slow')
    h.pump()
    h.write('fast')
    h.pump()
    expect(slow.stats.clampedTimestamps).toBe(1)
    expect(applied(h, 'slow')).toEqual(['fast:1'])
    const next = h.write('slow')
    expect(next.hlc.wallMs).toBeLessThanOrEqual(h.wallMs + 60_000)
  })

  it('[HLC1] restores from durable changes and continues numbering and timestamps after them', () => {
    const h = new MeshHarness()
    const a = h.add('a')
    const first = h.write('a')
    h.write('a')
    const saved = [...a.changes()]
    h.nodes.delete('a')
    h.wallMs -= 5 * 60_000 // the wall clock stepped back across the restart, beyond the skew bound
    const again = h.add('a')
    again.restore(saved)
    const next = h.write('a')
    expect(next.seq).toBe(3)
    expect(next.hlc.wallMs).toBeGreaterThanOrEqual(saved[1]?.hlc.wallMs ?? Infinity)
    expect(again.stats.clampedTimestamps).toBe(0)
    expect(again.durableVector.get('a')).toBe(3)
  })
  it('passes members\' acks along a chain, so the ends learn each other\'s durable vectors', () => {
    const h = new MeshHarness()
    const members = new Set(['a', 'b', 'c'])
    for (const id of members) h.add(id, { ackGossipMembers: members })
    h.add('client')
    h.link('a', 'b')
    h.link('b', 'c')
    h.link('client', 'c')
    h.pump()
    h.write('client')
    h.pump()
    // c releases the change only once it is durable there; then a and b get it and store it.
    for (let round = 0; round < 2; round++) {
      for (const id of members) h.node(id).markDurable(new Map(h.node(id).vector))
      h.pump()
    }
    // c logged the client's write under its own origin, with the client as author.
    expect(h.node('a').durableOf('c')?.get('c')).toBe(1)
    expect(h.node('c').durableOf('a')?.get('c')).toBe(1)
    // A client speaks for itself only: it cannot claim durability on behalf of a member.
    h.node('a').receive('b', { type: 5, node: 'b', durable: new Map([['client', 1]]) })
    const forged = h.add('mallory')
    h.link('mallory', 'c')
    h.pump()
    forged.markDurable(new Map([['x', 99]]))
    h.pump()
    h.node('c').receive('mallory', { type: 5, node: 'a', durable: new Map([['x', 99]]) })
    expect(h.node('c').durableOf('a')?.get('x')).toBeUndefined()
    expect(h.node('c').durableOf('mallory')?.get('x')).toBe(99)
  })
  it('[CV1] skips a change its document type refuses, keeps it in the log and forwards it, and goes on', () => {
    const h = new MeshHarness()
    const refusing = {
      createReplica: () => {
        const replica = new RecordingReplica('lww')
        const apply = replica.apply.bind(replica)
        replica.apply = (change) => {
          if (change.payload[0] === 0xff) throw new Error('unreadable payload')
          return apply(change)
        }
        return replica
      },
    }
    const a = h.add('a')
    h.add('b', refusing)
    h.add('c', refusing)
    h.link('a', 'b')
    h.link('b', 'c')
    h.pump()
    a.commit('c', 'doc', 'lww', new Uint8Array([0xff]))
    a.commit('c', 'doc', 'lww', new Uint8Array([1]))
    a.markDurable(new Map(a.vector))
    h.pump()
    for (const id of ['b', 'c']) {
      expect(h.node(id).vector.get('a')).toBe(2)
      expect(h.node(id).stats.rejectedPayloads).toBe(1)
      expect(applied(h, id)).toEqual(['a:2'])
    }
  })
})

import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../core/codec/index.js'
import { createReplica, LwwReplica, lwwPutPayload } from '../../../core/crdt/index.js'
import { AuthorTable } from '../../../core/mesh/author-table.js'
import type { MeshNode } from '../../../core/mesh/index.js'
import { MessageType } from '../../../core/codec/messages.js'
import type { Change, VersionVector } from '../../../core/types.js'
import { clientWrite, flushMembers, MeshHarness } from '../../helpers/mesh-harness.js'

const REGIONS = new Set(['eu', 'us', 'ap'])

/** Regions eu, us, ap in a triangle with real lww replicas; clients are added by the test. */
function cluster(): MeshHarness {
  const h = new MeshHarness()
  for (const id of REGIONS) h.add(id, { ackGossipMembers: REGIONS, createReplica })
  h.link('eu', 'us')
  h.link('us', 'ap')
  h.link('ap', 'eu')
  return h
}

function addClient(h: MeshHarness, id: string): MeshNode {
  return h.add(id, { ackGossipMembers: REGIONS, createReplica, ownChangesOnly: true, sendsStateTransfers: false })
}

/** The client puts `{ n }` into document `docId` and makes it durable in its own store. */
const put = (client: MeshNode, docId: string, n: number): Change => clientWrite(client, docId, { n })

/** Every region makes what it holds durable. */
const flushRegions = (h: MeshHarness): void => flushMembers(h, REGIONS)

/** The client's own entry in the last Ack `region` sent it. */
function ackedOwn(h: MeshHarness, client: MeshNode, region: string): number {
  return client.durableOf(region)?.get(client.id) ?? 0
}

function disconnect(h: MeshHarness, a: string, b: string): void {
  h.node(a).disconnect(b)
  h.node(b).disconnect(a)
  h.inFlight.splice(0, h.inFlight.length, ...h.inFlight.filter((m) => !(m.from === a && m.to === b) && !(m.from === b && m.to === a)))
}

/** A cluster where client c1, linked to eu, wrote `{ n: 1 }` to document a (durable in every region unless `flush` is false). */
function clientWroteAtEu(flush = true): { h: MeshHarness; c1: MeshNode } {
  const h = cluster()
  const c1 = addClient(h, 'c1')
  h.link('c1', 'eu')
  h.pump()
  put(c1, 'a', 1)
  h.pump()
  if (flush) flushRegions(h)
  return { h, c1 }
}

const views = (node: MeshNode): string => JSON.stringify([...node.views()])

describe('[AU1] [AU2] a region logs a client\'s changes under its own origin, with the client as author', () => {
  it('positions name regions only: a client\'s write is eu:1 with author c1:1 everywhere, and the client\'s Ack says its own seq', () => {
    const { h, c1 } = clientWroteAtEu()
    for (const id of REGIONS) {
      const node = h.node(id)
      expect([...node.vector.keys()].sort()).toEqual(['eu'])
      expect(node.changeAt('eu', 1)?.author).toEqual({ origin: 'c1', seq: 1 })
      expect(node.acceptedFrom('c1')).toBe(1)
      expect(node.existingReplica('notes', 'a')?.view()).toEqual({ n: 1 })
    }
    expect(ackedOwn(h, c1, 'eu')).toBe(1)
    // The client's position: its own entry and one per region.
    expect([...c1.vector.keys()].sort()).toEqual(['c1', 'eu'])
  })

  it('never sends the writer its own change back: its position moves over it as a Skipped run', () => {
    const { c1 } = clientWroteAtEu()
    expect([...c1.changes()].filter((change) => change.origin === 'eu')).toEqual([])
    expect(c1.stats.applied).toBe(1) // its own write, once
    expect(c1.existingReplica('notes', 'a')?.view()).toEqual({ n: 1 })
    expect(c1.vector.get('eu')).toBe(1)
  })

  it('drops a resend to another region that learnt the change; logs it twice when it had not, and every replica shows the same', () => {
    const { h, c1 } = clientWroteAtEu()
    // The client moves to us, which learnt c1:1 from eu's log: nothing is logged again.
    disconnect(h, 'c1', 'eu')
    h.link('c1', 'us')
    h.pump()
    expect(h.node('us').vector.get('us') ?? 0).toBe(0)
    // Now eu is cut off before it can pass on c1:2; the client moves on to us and resends it there.
    disconnect(h, 'eu', 'us')
    disconnect(h, 'eu', 'ap')
    disconnect(h, 'c1', 'us')
    h.link('c1', 'eu')
    h.pump()
    put(c1, 'b', 2)
    h.pump()
    h.node('eu').markDurable(new Map(h.node('eu').vector))
    disconnect(h, 'c1', 'eu')
    h.link('c1', 'us')
    h.pump()
    expect(h.node('us').changeAt('us', 1)?.author).toEqual({ origin: 'c1', seq: 2 })
    h.link('eu', 'us')
    h.link('eu', 'ap')
    h.pump()
    flushRegions(h)
    // Two copies of c1:2 (eu:2 and us:1): same author, stamp and payload, one effect.
    const reference = views(h.node('eu'))
    for (const id of [...REGIONS, 'c1']) expect(views(h.node(id))).toBe(reference)
    expect(h.node('ap').existingReplica('notes', 'b')?.view()).toEqual({ n: 2 })
    expect(h.node('ap').acceptedFrom('c1')).toBe(2)
  })

  it('acknowledges a client\'s write durable at a region that did not log it, once its copy is durable there', () => {
    const { h, c1 } = clientWroteAtEu(false)
    h.node('eu').markDurable(new Map(h.node('eu').vector))
    h.pump()
    disconnect(h, 'c1', 'eu')
    h.link('c1', 'us')
    h.pump()
    expect(ackedOwn(h, c1, 'us')).toBe(0) // us holds the copy, not yet durably
    h.node('us').markDurable(new Map(h.node('us').vector))
    h.pump()
    expect(ackedOwn(h, c1, 'us')).toBe(1)
  })

  it('a client\'s resume position and a peer\'s announcement stay small after 10 000 distinct clients wrote', () => {
    const h = cluster()
    const eu = h.node('eu')
    h.pump()
    for (let i = 0; i < 10_000; i++) {
      const id = `client-${String(i).padStart(5, '0')}-${'x'.repeat(16)}`
      eu.connect(id)
      const payload = lwwPutPayload(new LwwReplica({ collection: 'notes', docId: `d${i}` }), { i })
      const change: Change = { origin: id, seq: 1, hlc: { wallMs: h.wallMs, counter: i, node: id }, collection: 'notes', docId: `d${i}`, docType: 'lww', payload }
      eu.receive(id, { type: MessageType.ChangeBatch, changes: [change] })
      eu.disconnect(id)
    }
    h.inFlight.length = 0
    eu.markDurable(new Map(eu.vector))
    h.pump()
    flushRegions(h)
    expect(h.node('ap').acceptedFrom('client-09999-xxxxxxxxxxxxxxxx')).toBe(1)
    const late = addClient(h, 'late-reader')
    h.link('late-reader', 'us')
    h.pump()
    const resume = encodeMessage({ type: MessageType.VersionVector, vector: late.vector as VersionVector }).length
    const peer = encodeMessage({ type: MessageType.VersionVector, vector: h.node('ap').vector }).length
    console.log(`after 10 000 writers: client resume position ${resume} B, peer announcement ${peer} B`)
    expect(resume).toBeLessThanOrEqual(1024)
    expect(peer).toBeLessThanOrEqual(4096)
    expect(late.vector.get('eu')).toBe(10_000)
  })
})

describe('AuthorTable', () => {
  const copy = (author: string, seq: number, origin: string, originSeq: number): Change => ({
    origin,
    seq: originSeq,
    hlc: { wallMs: 1, counter: seq, node: author },
    collection: 'c',
    docId: 'd',
    docType: 'lww',
    payload: new Uint8Array(),
    author: { origin: author, seq },
  })

  it('moves an author\'s replicated seq only over contiguous copies every member holds, and forgets settled authors past its bound', () => {
    const table = new AuthorTable(2)
    table.learn(copy('a', 1, 'eu', 1))
    table.learn(copy('a', 2, 'us', 1))
    table.learn(copy('a', 3, 'eu', 2))
    expect(table.durableUpTo('a', new Map([['eu', 2]]))).toBe(1) // a:2 is at us, not durable here
    expect(table.settle(new Map([['eu', 2]]))).toEqual(['a'])
    expect(table.replicated('a')).toBe(1)
    table.settle(new Map([['eu', 2], ['us', 1]]))
    expect(table.replicated('a')).toBe(3)
    table.learn(copy('b', 1, 'eu', 3))
    table.learn(copy('c', 1, 'eu', 4))
    table.settle(new Map([['eu', 4], ['us', 1]]))
    expect(table.size).toBe(2)
    expect(table.accepted('a')).toBe(0) // the oldest settled author went; a resend is all it costs
  })

  it('merges records from a state transfer or storage: the max of seqs, the union of copies', () => {
    const table = new AuthorTable()
    table.learn(copy('a', 1, 'eu', 1))
    table.merge([{ author: 'a', accepted: 4, replicated: 2, copies: [{ seq: 3, at: { origin: 'us', seq: 7 } }, { seq: 4, at: { origin: 'ap', seq: 1 } }] }])
    expect(table.accepted('a')).toBe(4)
    expect(table.replicated('a')).toBe(2)
    expect(table.durableUpTo('a', new Map([['us', 7]]))).toBe(3)
    table.raiseFloor('a', 4)
    expect(table.replicated('a')).toBe(4)
    expect(table.records()).toEqual([{ author: 'a', accepted: 4, replicated: 4, copies: [] }])
  })
})

import { describe, expect, it } from 'vitest'
import { decodeMessage } from '../../../core/codec/index.js'
import { MessageType } from '../../../core/codec/messages.js'
import { createReplica, lwwPatchPayload, type LwwReplica } from '../../../core/crdt/index.js'
import type { MeshNode, MeshNodeOptions } from '../../../core/mesh/index.js'
import { MeshHarness } from '../../helpers/mesh-harness.js'

const MEMBERS = new Set(['a', 'b', 'c'])
const lww: Partial<MeshNodeOptions> = { createReplica: (docType, context) => createReplica(docType, context), ackGossipMembers: MEMBERS }

function patch(node: MeshNode, docId: string, fields: Record<string, unknown>, durable = true): void {
  const replica = node.replica('notes', docId, 'lww') as LwwReplica
  node.commit('notes', docId, 'lww', lwwPatchPayload(replica, fields))
  if (durable) node.markDurable(new Map(node.vector))
}

const views = (node: MeshNode): unknown => Object.fromEntries(node.views())
const types = (h: MeshHarness): number[] => h.inFlight.map((m) => decodeMessage(m.bytes).type)

describe('[SG3] compaction and state transfer', () => {
  it('prunes only what every member holds durably and the stored state covers', () => {
    const h = new MeshHarness()
    const a = h.add('a', lww)
    const b = h.add('b', lww)
    h.add('c', lww)
    h.link('a', 'b')
    h.pump()
    for (let i = 0; i < 5; i++) patch(a, 'n1', { title: `v${i}` })
    h.pump()
    b.markDurable(new Map(b.vector))
    h.pump()
    // c never reported: nothing of anyone may go.
    expect(a.prunePoint(new Map(a.vector)).size).toBe(0)
    h.link('a', 'c')
    h.pump()
    h.node('c').markDurable(new Map(h.node('c').vector))
    h.pump()
    // Everyone holds a:1..5 durably; the stored state covers only 3.
    expect(Object.fromEntries(a.prunePoint(new Map([['a', 3]])))).toEqual({ a: 3 })
    expect(a.compact(new Map([['a', 3]]))).toBe(3)
    expect(a.changeCount).toBe(2)
    expect(a.logBase('a')).toBe(3)
    expect(a.changeAt('a', 3)).toBeUndefined()
    expect(a.changeAt('a', 4)?.seq).toBe(4)
  })

  it('a peer behind the log gets the documents, then the changes after them, and converges', () => {
    const h = new MeshHarness()
    const a = h.add('a', lww)
    for (let i = 0; i < 20; i++) patch(a, `n${i % 4}`, { n: i, [`f${i % 3}`]: i })
    a.compact(new Map(a.vector))
    expect(a.changeCount).toBe(0)
    patch(a, 'n9', { late: true })
    const b = h.add('b', lww)
    h.link('a', 'b')
    h.pump()
    expect(b.stats.stateTransfersReceived).toBe(1)
    expect(a.stats.stateTransfersSent).toBe(1)
    expect(Object.fromEntries(b.vector)).toEqual(Object.fromEntries(a.vector))
    expect(views(b)).toEqual(views(a))
    // Changes after the transfer stream as changes.
    patch(a, 'n9', { later: true })
    h.pump()
    expect(b.changeAt('a', 22)?.docId).toBe('n9')
    expect(b.changeAt('a', 21)).toBeUndefined()
    // b now holds a:1..20 as state only: a third node behind b is served by state transfer from b.
    const c = h.add('c', lww)
    h.link('b', 'c')
    h.pump()
    expect(views(c)).toEqual(views(a))
    expect(b.stats.stateTransfersSent).toBe(1)
  })

  it('[CV4] a state transfer waits until the own changes in it are durable', () => {
    const h = new MeshHarness()
    const a = h.add('a', lww)
    patch(a, 'n1', { x: 1 })
    a.compact(new Map(a.vector))
    patch(a, 'n1', { x: 2 }, false)
    const b = h.add('b', lww)
    // b announces an empty vector: it needs a:1, which only the documents hold, and they contain a:2.
    h.link('a', 'b')
    h.pump()
    expect(b.vector.get('a')).toBeUndefined()
    expect(types(h)).not.toContain(MessageType.StateCovered)
    a.markDurable(new Map(a.vector))
    h.pump()
    expect(b.vector.get('a')).toBe(2)
    expect(views(b)).toEqual(views(a))
  })

  it('a transfer cut short claims nothing; the next announcement completes it', () => {
    const h = new MeshHarness()
    const a = h.add('a', lww)
    for (let i = 0; i < 3; i++) patch(a, `n${i}`, { i })
    a.compact(new Map(a.vector))
    const b = h.add('b', lww)
    h.link('a', 'b')
    // Deliver everything except the StateCovered.
    for (let guard = 0; guard < 100 && h.inFlight.length > 0; guard++) {
      const next = h.inFlight.shift()
      if (next && decodeMessage(next.bytes).type !== MessageType.StateCovered) h.node(next.to).receive(next.from, decodeMessage(next.bytes))
    }
    expect(b.vector.get('a')).toBeUndefined()
    b.disconnect('a')
    a.disconnect('b')
    h.link('a', 'b')
    h.pump()
    expect(b.vector.get('a')).toBe(3)
    expect(views(b)).toEqual(views(a))
  })

  it('[CV4][HLC1] an own change found only in a stored document is never numbered again', () => {
    const h = new MeshHarness()
    const a = h.add('a', lww)
    patch(a, 'n1', { x: 1 })
    patch(a, 'n1', { x: 2 })
    const stored = a.storedDocument('notes\u0000n1')
    expect(stored?.ownSeq).toBe(2)
    // Restart with that document but a log (and covered vector) that only reached a:1.
    const again = h.add('a2', { ...lww, id: 'a' })
    again.restoreDocuments([stored!], new Map([['a', 1]]))
    again.restore([...a.changes()].filter((c) => c.seq === 1))
    const replica = again.replica('notes', 'n1', 'lww') as LwwReplica
    const next = again.commit('notes', 'n1', 'lww', lwwPatchPayload(replica, { x: 3 }))
    expect(next.seq).toBe(3)
    expect(next.hlc.wallMs >= (stored?.ownHlc?.wallMs ?? 0)).toBe(true)
    expect(replica.view()).toEqual({ x: 3 })
  })

  it('a region forgets what a client reported durable once the client is gone (memory follows live connections)', () => {
    const h = new MeshHarness()
    const a = h.add('a', lww)
    const client = h.add('client-1', { createReplica: (docType, context) => createReplica(docType, context) })
    h.link('a', 'client-1')
    h.pump()
    patch(client, 'n1', { x: 1 })
    h.pump()
    expect(a.durableOf('client-1')?.get('client-1')).toBe(1)
    a.disconnect('client-1')
    expect(a.durableOf('client-1')).toBeUndefined()
  })
})

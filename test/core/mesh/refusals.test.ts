import { describe, expect, it } from 'vitest'
import { createReplica, lwwPatchPayload, type LwwReplica } from '../../../core/crdt/index.js'
import { decodeLwwPayload } from '../../../core/crdt/lww-payload.js'
import { MessageType, type RejectedMessage } from '../../../core/codec/messages.js'
import { decodeMessage } from '../../../core/codec/index.js'
import type { ChangeRefusal, MeshNode } from '../../../core/mesh/index.js'
import { PendingRefusals } from '../../../core/mesh/refusal.js'
import type { Change } from '../../../core/types.js'
import { clientWrite, flushMembers, MeshHarness } from '../../helpers/mesh-harness.js'

const REGIONS = new Set(['eu', 'us', 'ap'])

/**
 * docs/security.md, "Refused writes": a region refuses a client's change that writes the field
 * `secret`, logs a void change in its place, and tells the client, which rolls its copy back.
 */
function refuseSecrets(_client: string, change: Change): ChangeRefusal | null {
  const writes = decodeLwwPayload(change.payload).writes
  return writes.some((write) => write.field === 'secret') ? { code: 'FORBIDDEN', message: `may not write secret of ${change.docId}` } : null
}

interface Setup {
  readonly h: MeshHarness
  readonly c1: MeshNode
  readonly refused: RejectedMessage[]
  readonly voided: (readonly Change[])[]
}

function setup(): Setup {
  const h = new MeshHarness()
  for (const id of REGIONS) h.add(id, { ackGossipMembers: REGIONS, createReplica, admitClientChange: refuseSecrets })
  h.link('eu', 'us')
  h.link('us', 'ap')
  h.link('ap', 'eu')
  const refused: RejectedMessage[] = []
  const voided: (readonly Change[])[] = []
  const c1 = h.add('c1', {
    ackGossipMembers: REGIONS,
    createReplica,
    ownChangesOnly: true,
    sendsStateTransfers: false,
    onChangeRefused: (message, entry) => {
      refused.push(message)
      voided.push(entry)
    },
  })
  h.link('c1', 'eu')
  h.pump()
  return { h, c1, refused, voided }
}

/** Sets the fields of `value` in document `docId` (a patch), durable in the client's store. */
const put = (client: MeshNode, docId: string, value: Record<string, unknown>): Change => clientWrite(client, docId, value, 'patch')

const flushRegions = (h: MeshHarness): void => flushMembers(h, REGIONS)

describe('a refused client change: void everywhere, rejected to its writer, rolled back there', () => {
  it('applies nothing of it anywhere, keeps the writer\'s seqs dense, and acknowledges its later writes', () => {
    const { h, c1, refused, voided } = setup()
    put(c1, 'a', { n: 1 })
    put(c1, 'b', { secret: 'x' })
    put(c1, 'a', { n: 2 })
    h.pump()
    flushRegions(h)
    expect(refused.map((m) => [m.seqs, m.code, m.collection, m.docId])).toEqual([[[2], 'FORBIDDEN', 'notes', 'b']])
    expect(voided[0]?.map((entry) => entry.payload.length)).toEqual([0])
    for (const id of REGIONS) {
      const node = h.node(id)
      expect(node.existingReplica('notes', 'b')).toBeUndefined()
      expect(node.existingReplica('notes', 'a')?.view()).toEqual({ n: 2 })
      expect(node.acceptedFrom('c1')).toBe(3)
      expect(node.stats.refusedChanges).toBe(id === 'eu' ? 1 : 0)
    }
    // The writer's copy: the document it may not write is gone again; its later write stands.
    expect(c1.existingReplica('notes', 'b')).toBeUndefined()
    expect(c1.existingReplica('notes', 'a')?.view()).toEqual({ n: 2 })
    expect(c1.changeAt('c1', 2)?.payload.length).toBe(0)
    // Every seq, the refused one included, is durable and replicated: nothing waits on the hole.
    expect(c1.durableOf('eu')?.get('c1')).toBe(3)
  })

  it('a burst of refused writes to one document is told in one Rejected, with one copy of the document', () => {
    const { h, c1, refused, voided } = setup()
    put(c1, 'd', { title: 'A' })
    h.pump()
    flushRegions(h)
    for (let i = 0; i < 5; i++) put(c1, 'd', { secret: i })
    h.pump()
    flushRegions(h)
    expect(refused.map((m) => [m.seqs, m.docId, m.state === null])).toEqual([[[2, 3, 4, 5, 6], 'd', false]])
    expect(voided[0]).toHaveLength(5)
    expect(c1.existingReplica('notes', 'd')?.view()).toEqual({ title: 'A' })
  })

  it('returns the writer\'s copy to the region\'s state and re-applies its own later writes to that document', () => {
    const { h, c1, refused } = setup()
    put(c1, 'd', { title: 'A' })
    h.pump()
    flushRegions(h)
    // Three writes before any answer: the middle one is refused.
    put(c1, 'd', { title: 'B' })
    put(c1, 'd', { secret: 's', title: 'C' })
    put(c1, 'd', { done: true })
    expect(c1.existingReplica('notes', 'd')?.view()).toEqual({ title: 'C', secret: 's', done: true })
    h.pump()
    flushRegions(h)
    expect(refused.map((m) => m.seqs)).toEqual([[3]])
    expect(refused[0]?.state?.docType).toBe('lww')
    const expected = { title: 'B', done: true }
    expect(c1.existingReplica('notes', 'd')?.view()).toEqual(expected)
    for (const id of REGIONS) expect(h.node(id).existingReplica('notes', 'd')?.view()).toEqual(expected)
  })

  it('a resend of the void entry to a region that never saw the refusal logs nothing and applies nothing', () => {
    const { h, c1, refused, voided } = setup()
    // eu is cut off from the others, so only it knows of the refusal.
    for (const other of ['us', 'ap']) {
      h.node('eu').disconnect(other)
      h.node(other).disconnect('eu')
    }
    put(c1, 'b', { secret: 'x' })
    h.pump()
    // The client is told where its stream reaches the void entry: once eu made it durable.
    expect(refused).toHaveLength(0)
    h.node('eu').markDurable(new Map(h.node('eu').vector))
    h.pump()
    expect(refused).toHaveLength(1)
    h.node('c1').disconnect('eu')
    h.node('eu').disconnect('c1')
    h.link('c1', 'us')
    h.pump()
    flushRegions(h)
    for (const id of ['us', 'ap']) {
      expect(h.node(id).acceptedFrom('c1')).toBe(1)
      expect(h.node(id).existingReplica('notes', 'b')).toBeUndefined()
    }
    // us took the void entry without refusing it (nothing to refuse) and acknowledged it; where its
    // stream reached the entry, it told the client again, without the reason it never knew.
    expect(refused.map((m) => m.code)).toEqual(['FORBIDDEN', 'REFUSED'])
    expect(voided[1]).toEqual([])
    expect(c1.durableOf('us')?.get('c1')).toBe(1)
  })

  it('a refusal whose answer was lost is told after the region restarts from a snapshot that compacted the void entry away', () => {
    // Simulator seed yjs:mesh:65396601: the region remembered refusals only from its log, so one whose
    // void entry a snapshot round had compacted away was forgotten at a restart, and the client kept
    // showing its refused write. Without the stored refusal records, the client here is never told.
    for (const keepRefusals of [true, false]) {
      const { h, c1, refused } = setup()
      put(c1, 'b', { secret: 'x' })
      h.pump()
      // eu logged the void entry; the client is told once eu made it durable, which it never sees:
      // the connection ends first, and the answer is lost with it.
      expect(refused).toHaveLength(0)
      for (const [a, b] of [['c1', 'eu'], ['eu', 'us'], ['eu', 'ap']] as const) {
        h.node(a).disconnect(b)
        h.node(b).disconnect(a)
      }
      const eu = h.node('eu')
      eu.markDurable(new Map(eu.vector))
      h.pump()
      // A snapshot round, then the log compacted up to it: the void entry is gone from the log.
      const documents = eu.takeChangedDocuments().map((key) => eu.storedDocument(key)).filter((d) => d !== undefined)
      const vector = new Map(eu.vector)
      const authors = eu.authors.records()
      const refusals = eu.refusalRecords()
      eu.compact(vector)
      expect(refusals.map((r) => [r.client, r.seq, r.docId])).toEqual([['c1', 1, 'b']])
      // The restart: only the snapshot is left.
      const revived = h.add('eu', { ackGossipMembers: REGIONS, createReplica, admitClientChange: refuseSecrets })
      revived.restoreDocuments(documents, vector, authors, eu.clockHighWater, keepRefusals ? refusals : [])
      revived.finishRestore()
      h.link('c1', 'eu')
      h.pump()
      expect(refused.map((m) => [m.seqs, m.code, m.docId])).toEqual(keepRefusals ? [[[1], 'REFUSED', 'b']] : [])
      expect(c1.existingReplica('notes', 'b') === undefined).toBe(keepRefusals)
    }
  })

  it('a member learns refusals with a state transfer; a client is sent none', () => {
    const { h, c1 } = setup()
    put(c1, 'b', { secret: 'x' })
    h.pump()
    flushRegions(h)
    // eu's log no longer holds the void entry: a newcomer gets a state transfer instead of the change.
    h.node('eu').compact(new Map(h.node('eu').vector))
    // ap comes back with an empty store (a new disk), and a new client connects.
    for (const other of ['eu', 'us']) h.node(other).disconnect('ap')
    const late = h.add('ap', { ackGossipMembers: REGIONS, createReplica })
    const c2 = h.add('c2', { ackGossipMembers: REGIONS, createReplica, ownChangesOnly: true, sendsStateTransfers: false })
    h.link('ap', 'eu')
    h.link('c2', 'eu')
    const refusalsSentTo = new Map<string, unknown[]>()
    while (h.inFlight.length > 0) {
      const next = h.inFlight.shift() as (typeof h.inFlight)[number]
      const message = decodeMessage(next.bytes)
      if (message.type === MessageType.StateCovered) refusalsSentTo.set(next.to, [...message.refusals])
      h.node(next.to).receive(next.from, message)
    }
    expect(refusalsSentTo.get('ap')).toHaveLength(1)
    expect(late.changeAt('eu', 1)).toBeUndefined()
    expect(late.refusalRecords().map((r) => [r.client, r.seq, r.docId])).toEqual([['c1', 1, 'b']])
    expect(refusalsSentTo.get('c2')).toEqual([])
  })


  it('does not send the writer a copy holding the region\'s own change before that change is durable', () => {
    // Simulator seed yjs:mesh:21: the copy in a Rejected held a region's write its crash then lost, and
    // the client kept showing it.
    const { h, c1, refused } = setup()
    put(c1, 'd', { title: 'A' })
    h.pump()
    flushRegions(h)
    put(c1, 'd', { secret: 's' })
    h.pump()
    const eu = h.node('eu')
    const voidAt = eu.vector.get('eu') ?? 0
    // eu's own write to the same document, after the void entry, not yet durable.
    eu.commit('notes', 'd', 'lww', lwwPatchPayload(eu.replica('notes', 'd', 'lww') as LwwReplica, { owner: 'eu' }))
    eu.markDurable(new Map([['eu', voidAt]]))
    h.pump()
    c1.antiEntropy()
    h.pump()
    expect(refused).toHaveLength(0)
    // Once it is durable, the next announcement tells, with it in the copy.
    eu.markDurable(new Map(eu.vector))
    h.pump()
    c1.antiEntropy()
    h.pump()
    expect(refused.map((m) => m.seqs)).toEqual([[2]])
    expect(c1.existingReplica('notes', 'd')?.view()).toEqual({ title: 'A', owner: 'eu' })
  })

  it('a refusal told on a connection that then ended is told again on the next, wherever the position is', () => {
    const refusals = new PendingRefusals()
    const at = { origin: 'eu', seq: 5 }
    refusals.remember('c1', { seq: 2, collection: 'notes', docId: 'b', refusal: { code: 'FORBIDDEN', message: 'no' }, at })
    const past = new Map([['eu', 9]])
    // Told at an announcement in session 1; the connection ends before the answer arrives.
    expect(refusals.unknownTo('c1', past, 1).map((p) => p.seq)).toEqual([2])
    refusals.tell('c1', 2, 1)
    // Session 2: the position passed the entry (learnt elsewhere), but the answer of session 1 proves nothing.
    expect(refusals.unknownTo('c1', past, 2).map((p) => p.seq)).toEqual([2])
    expect(refusals.tell('c1', 2, 2).code).toBe('FORBIDDEN')
    // The next announcement of session 2, past the entry: heard.
    expect(refusals.unknownTo('c1', past, 2)).toEqual([])
    expect(refusals.records()).toEqual([])
  })
})

import { describe, expect, it } from 'vitest'
import { createReplica } from '../../../core/crdt/index.js'
import { decodeLwwPayload } from '../../../core/crdt/lww-payload.js'
import type { RejectedMessage } from '../../../core/codec/messages.js'
import type { ChangeRefusal, MeshNode } from '../../../core/mesh/index.js'
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
})

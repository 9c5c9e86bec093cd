import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeChange, MessageType } from '../../../core/codec/index.js'
import { createReplica, LwwReplica, lwwPutPayload } from '../../../core/crdt/index.js'
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_CLIENT_GAP_BYTES, type MeshNode } from '../../../core/mesh/index.js'
import { MeshHarness } from '../../helpers/mesh-harness.js'

/** [limits] What one client may make a region hold, and what Meridian's client sends (docs/security.md, "Limits"). */

const REGIONS = new Set(['eu', 'us'])
/** About 600 kB: two strings under maxStringBytes, the whole under maxDocumentBytes. */
const LARGE = { a: 'x'.repeat(300_000), b: 'y'.repeat(300_000) }

function setup(gapFull: string[] = []): { h: MeshHarness; client: MeshNode } {
  const h = new MeshHarness()
  h.add('eu', { ackGossipMembers: REGIONS, createReplica, onClientGapFull: (client) => gapFull.push(client) })
  h.add('us', { ackGossipMembers: REGIONS, createReplica })
  const client = h.add('c1', { ackGossipMembers: REGIONS, createReplica, ownChangesOnly: true, sendsStateTransfers: false })
  h.link('eu', 'us')
  h.link('c1', 'eu')
  h.pump()
  return { h, client }
}

/** Whether `node` holds document `docId` with the large value (compared by length: no 600 kB diffs). */
const holdsLarge = (node: MeshNode, docId: string): boolean => JSON.stringify(node.existingReplica('notes', docId)?.view() ?? null).length === JSON.stringify(LARGE).length

function putLarge(client: MeshNode, docId: string): void {
  const change = client.commit('notes', docId, 'lww', lwwPutPayload(client.replica('notes', docId, 'lww') as LwwReplica, LARGE))
  client.markDurable(new Map([[client.id, change.seq]]))
}

/** Encoded bytes of every change in a ChangeBatch frame, or null for another frame. */
function batchBytes(bytes: Uint8Array): number[] | null {
  const message = decodeMessage(bytes)
  return message.type === MessageType.ChangeBatch ? message.changes.map((c) => encodeChange(c).byteLength) : null
}

describe('[limits] a ChangeBatch holds at most maxBatchBytes of changes (a larger change alone)', () => {
  it("a client's large writes leave in frames under a region's client frame limit, and all arrive", () => {
    const { h, client } = setup()
    for (let i = 0; i < 12; i++) putLarge(client, `big-${i}`)
    const batches = h.inFlight.filter((m) => m.from === 'c1').map((m) => ({ frame: m.bytes.length, changes: batchBytes(m.bytes) }))
    const changeBatches = batches.filter((b) => b.changes !== null)
    expect(changeBatches.length).toBe(12)
    for (const b of changeBatches) {
      const sum = (b.changes as number[]).reduce((x, y) => x + y, 0)
      expect(sum <= DEFAULT_MAX_BATCH_BYTES || b.changes?.length === 1).toBe(true)
      expect(b.frame).toBeLessThan(4 * 1024 * 1024)
    }
    h.pump()
    for (let i = 0; i < 12; i++) expect(holdsLarge(h.node('eu'), `big-${i}`)).toBe(true)
  })

  it('small changes still go 256 to a frame; a region forwards large ones to its peers under the same budget', () => {
    const { h, client } = setup()
    for (let i = 0; i < 300; i++) {
      const change = client.commit('notes', `s-${i}`, 'lww', lwwPutPayload(client.replica('notes', `s-${i}`, 'lww') as LwwReplica, { i }))
      client.markDurable(new Map([[client.id, change.seq]]))
    }
    for (let i = 0; i < 6; i++) putLarge(client, `big-${i}`)
    h.pump()
    const eu = h.node('eu')
    eu.markDurable(new Map(eu.vector))
    // What eu sends us, in one propagation, of 306 changes with 6 of 600 kB.
    const toUs = h.inFlight.filter((m) => m.from === 'eu' && m.to === 'us').map((m) => batchBytes(m.bytes)).filter((b) => b !== null)
    expect(toUs.length).toBeGreaterThanOrEqual(6)
    expect(toUs.some((b) => b.length >= 256)).toBe(true)
    for (const b of toUs) expect(b.reduce((x, y) => x + y, 0) <= DEFAULT_MAX_BATCH_BYTES || b.length === 1).toBe(true)
    h.pump()
    expect(holdsLarge(h.node('us'), 'big-5')).toBe(true)
    expect(h.node('us').existingReplica('notes', 's-299')?.view()).toEqual({ i: 299 })
  })
})

describe("[limits] a region holds at most maxClientGapBytes of one client's out-of-order changes", () => {
  it('past the budget an out-of-order change is dropped and counted; the client resends it and nothing is lost', () => {
    const gapFull: string[] = []
    const { h, client } = setup(gapFull)
    for (let i = 0; i < 12; i++) putLarge(client, `gap-${i}`)
    // Seq 1 is lost on the way: the other eleven (6.6 MB) arrive ahead of it.
    const first = h.inFlight.findIndex((m) => m.from === 'c1' && batchBytes(m.bytes) !== null)
    h.inFlight.splice(first, 1)
    const eu = h.node('eu')
    const gap = () => (eu as unknown as { peers: Map<string, { clientGapBytes: number; clientGap: Map<number, unknown> }> }).peers.get('c1')
    let most = 0
    while (h.inFlight.some((m) => m.from === 'c1' && m.to === 'eu')) {
      h.pump(1)
      most = Math.max(most, gap()?.clientGapBytes ?? 0)
    }
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(DEFAULT_MAX_CLIENT_GAP_BYTES)
    expect(gapFull.length).toBeGreaterThan(0)
    expect(gapFull.every((c) => c === 'c1')).toBe(true)
    // The region's gap announcement makes the client resend from seq 1; every write is logged once.
    h.pump()
    eu.antiEntropy()
    h.pump()
    expect(eu.acceptedFrom('c1')).toBe(12)
    expect(gap()?.clientGapBytes).toBe(0)
    expect(gap()?.clientGap.size).toBe(0)
    for (let i = 0; i < 12; i++) expect(holdsLarge(eu, `gap-${i}`)).toBe(true)
  })

  it('Infinity turns the byte budget off (the count bound stays)', () => {
    const h = new MeshHarness()
    const eu = h.add('eu', { ackGossipMembers: REGIONS, createReplica, maxClientGapBytes: Infinity })
    const client = h.add('c1', { ackGossipMembers: REGIONS, createReplica, ownChangesOnly: true, sendsStateTransfers: false })
    h.link('c1', 'eu')
    h.pump()
    for (let i = 0; i < 10; i++) putLarge(client, `off-${i}`)
    const first = h.inFlight.findIndex((m) => m.from === 'c1' && batchBytes(m.bytes) !== null)
    h.inFlight.splice(first, 1)
    while (h.inFlight.some((m) => m.from === 'c1' && m.to === 'eu')) h.pump(1)
    expect(eu.stats.bufferOverflows).toBe(0)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage } from '../../../core/codec/index.js'
import { MessageType, type DocumentRef, type SubscribeMessage } from '../../../core/codec/messages.js'
import { createReplica, LwwReplica, lwwPutPayload } from '../../../core/crdt/index.js'
import { MeshNode } from '../../../core/mesh/index.js'
import { HastyFetchMesh } from '../../sim/mutants.js'
import { MeshHarness } from '../../helpers/mesh-harness.js'

const REGIONS = new Set(['eu', 'us'])

interface Interest {
  collections: string[]
  documents: DocumentRef[]
  fetch: { collections: string[]; documents: DocumentRef[] } | null
}

/** Regions eu and us, linked; a client `c` that syncs `interest` (changed by the test). */
function setup(interest: Interest, Kind: typeof MeshNode = MeshNode): { h: MeshHarness; client: MeshNode; fetched: [number, boolean][] } {
  const h = new MeshHarness()
  for (const id of REGIONS) h.add(id, { ackGossipMembers: REGIONS, createReplica, Kind })
  const fetched: [number, boolean][] = []
  let id = 100
  const subscription = (): SubscribeMessage => ({
    type: MessageType.Subscribe,
    id: ++id,
    collections: interest.collections,
    documents: interest.documents,
    fetchCollections: interest.fetch?.collections ?? [],
    fetchDocuments: interest.fetch?.documents ?? [],
  })
  const client = h.add('c', {
    ackGossipMembers: REGIONS,
    createReplica,
    ownChangesOnly: true,
    sendsStateTransfers: false,
    subscription,
    onFetched: (id, complete) => fetched.push([id, complete]),
  })
  h.link('eu', 'us')
  h.pump()
  return { h, client, fetched }
}

/** A region writes `{ n }` to collection/docId, durable at once. */
function regionPut(h: MeshHarness, region: string, collection: string, docId: string, n: number): void {
  const node = h.node(region)
  const payload = lwwPutPayload(node.replica(collection, docId, 'lww') as LwwReplica, { n })
  node.commit(collection, docId, 'lww', payload)
  node.markDurable(new Map(node.vector))
}

const view = (node: MeshNode, collection: string, docId: string): unknown => node.existingReplica(collection, docId)?.view() ?? null

describe('partial replication: a client is sent what it subscribes to, and its position still moves', () => {
  it('a client that subscribes to one collection gets only its changes; Skipped runs move its position to the region\'s', () => {
    const { h, client } = setup({ collections: ['notes'], documents: [], fetch: null })
    for (let i = 0; i < 20; i++) regionPut(h, 'eu', i % 3 === 0 ? 'notes' : 'other', `d${i % 5}`, i)
    h.pump()
    const frames: number[] = []
    h.link('c', 'eu')
    for (let steps = 0; h.inFlight.length > 0 && steps < 1000; steps++) {
      const next = h.inFlight[0]
      if (next?.to === 'c') frames.push(decodeMessage(next.bytes).type)
      h.pump(1)
    }
    expect(client.vector.get('eu')).toBe(20)
    expect(frames).toContain(MessageType.Skipped)
    for (const key of client.views().keys()) expect(key.startsWith(`notes\u0000`)).toBe(true)
    for (let d = 0; d < 5; d++) expect(view(client, 'notes', `d${d}`)).toEqual(view(h.node('eu'), 'notes', `d${d}`))
    expect(client.stats.applied).toBe(7) // i = 0, 3, …, 18
  })

  it('whatever the order frames arrive in, the client ends at the region\'s position with every subscribed document equal', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 40 }), fc.integer(), (writes, seed) => {
        const { h, client } = setup({ collections: [], documents: [{ collection: 'notes', docId: 'd0' }, { collection: 'notes', docId: 'd2' }], fetch: null })
        h.link('c', 'eu')
        h.pump()
        writes.forEach(([notes, doc], i) => regionPut(h, 'eu', notes ? 'notes' : 'other', `d${doc}`, i))
        // Deliver in a shuffled order (a change or a Skipped run ahead of its predecessor waits).
        let state = seed
        for (let steps = 0; h.inFlight.length > 0 && steps < 10_000; steps++) {
          state = (state * 1103515245 + 12345) & 0x7fffffff
          const [message] = h.inFlight.splice(state % h.inFlight.length, 1)
          if (message) h.node(message.to).receive(message.from, decodeMessage(message.bytes))
        }
        client.antiEntropy()
        h.node('eu').antiEntropy()
        h.pump()
        expect(client.vector.get('eu')).toBe(writes.length)
        for (const docId of ['d0', 'd2']) expect(view(client, 'notes', docId)).toEqual(view(h.node('eu'), 'notes', docId))
        expect(view(client, 'notes', 'd1')).toBeNull()
      }),
      { numRuns: 60 },
    )
  })

  it('opening a document fetches its state; later changes to it stream; closing it stops them', () => {
    const interest: Interest = { collections: [], documents: [{ collection: 'notes', docId: 'a' }], fetch: null }
    const { h, client, fetched } = setup(interest)
    h.link('c', 'eu')
    h.pump()
    for (let i = 0; i < 6; i++) regionPut(h, 'eu', 'notes', i % 2 === 0 ? 'a' : 'b', i)
    h.pump()
    expect(view(client, 'notes', 'b')).toBeNull()
    interest.documents = [...interest.documents, { collection: 'notes', docId: 'b' }]
    interest.fetch = { collections: [], documents: [{ collection: 'notes', docId: 'b' }] }
    client.resubscribe()
    h.pump()
    expect(fetched.map(([, complete]) => complete)).toEqual([true])
    expect(view(client, 'notes', 'b')).toEqual({ n: 5 })
    interest.fetch = null
    regionPut(h, 'eu', 'notes', 'b', 6)
    h.pump()
    expect(view(client, 'notes', 'b')).toEqual({ n: 6 })
    interest.documents = [{ collection: 'notes', docId: 'a' }]
    client.resubscribe()
    h.pump()
    regionPut(h, 'eu', 'notes', 'b', 7)
    h.pump()
    expect(view(client, 'notes', 'b')).toEqual({ n: 6 })
    expect(client.vector.get('eu')).toBe(8)
  })

  /** The client's position passes eu:1–3 (skipped) while us is cut off; it moves to us and opens them there. */
  function openWhereBehind(Kind: typeof MeshNode): { client: MeshNode; fetched: [number, boolean][]; h: MeshHarness } {
    const interest: Interest = { collections: ['notes'], documents: [], fetch: null }
    const { h, client, fetched } = setup(interest, Kind)
    h.link('c', 'eu')
    h.pump()
    // eu writes to "later" (not subscribed) while us is cut off: the client's position passes eu:3.
    h.node('eu').disconnect('us')
    h.node('us').disconnect('eu')
    for (let i = 0; i < 3; i++) regionPut(h, 'eu', 'later', 'x', i)
    h.pump()
    expect(client.vector.get('eu')).toBe(3)
    // The client moves to us and opens "later": us does not hold eu:1–3 yet and must not answer.
    client.disconnect('eu')
    h.node('eu').disconnect('c')
    interest.collections = ['notes', 'later']
    interest.fetch = { collections: ['later'], documents: [] }
    h.link('c', 'us')
    h.pump()
    return { client, fetched, h }
  }

  it('[PS2] a fetch waits until the region holds the client\'s position, so the state misses nothing the position claims', () => {
    const { client, fetched, h } = openWhereBehind(MeshNode)
    expect(fetched).toEqual([]) // us does not hold eu:1–3 yet and must not answer
    h.link('eu', 'us')
    h.pump()
    expect(fetched.map(([, complete]) => complete)).toEqual([true])
    expect(view(client, 'later', 'x')).toEqual({ n: 2 })
  })

  it('[PS2] catches a region that answers a fetch at once: the client would never see the changes its position passed', () => {
    const { client, fetched, h } = openWhereBehind(HastyFetchMesh)
    expect(fetched.map(([, complete]) => complete)).toEqual([true])
    h.link('eu', 'us')
    h.pump()
    expect(view(client, 'later', 'x')).toBeNull()
  })

  it('[PS2] fetches that arrive while one waits for durability are folded: one more answer, not one per Subscribe', () => {
    const interest: Interest = { collections: [], documents: [], fetch: null }
    const { h, client, fetched } = setup(interest)
    h.link('c', 'eu')
    h.pump()
    const eu = h.node('eu')
    const payload = lwwPutPayload(eu.replica('notes', 'a', 'lww') as LwwReplica, { n: 1 })
    eu.commit('notes', 'a', 'lww', payload) // not durable yet: a cut holding it must wait
    interest.documents = [{ collection: 'notes', docId: 'a' }]
    for (let i = 0; i < 5; i++) {
      interest.fetch = { collections: [], documents: [{ collection: 'notes', docId: 'a' }] }
      client.resubscribe()
      h.pump()
    }
    expect(fetched).toEqual([])
    eu.markDurable(new Map(eu.vector))
    h.pump()
    expect(fetched).toHaveLength(2) // the one cut first, then the newest of the four that came while it waited
    expect(fetched.every(([, complete]) => complete)).toBe(true)
    expect(view(client, 'notes', 'a')).toEqual({ n: 1 })
  })

  it('a region ignores Skipped and Fetched from anyone: only a client is moved by word', () => {
    const { h } = setup({ collections: [], documents: [], fetch: null })
    h.link('c', 'eu')
    h.pump()
    regionPut(h, 'us', 'notes', 'a', 1)
    h.node('eu').receive('c', { type: MessageType.Skipped, ranges: [{ origin: 'us', from: 1, to: 1_000 }], hlc: { wallMs: 1, counter: 0, node: 'c' } })
    expect(h.node('eu').vector.get('us') ?? 0).toBe(0)
    h.pump()
    expect(h.node('eu').vector.get('us')).toBe(1)
  })
})

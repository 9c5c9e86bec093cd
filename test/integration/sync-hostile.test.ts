/**
 * The frames of issue 10 (authors, partial replication) sent by a hostile client to real server
 * processes (file storage): frames only a region may send, changes that are not the client's own,
 * garbage and oversized subscriptions, a flood of fetches. Each is refused with its close code or
 * absorbed; no process exits, and an honest client goes on syncing (docs/design.md [AU1] [PS1] [PS2] [IN2]).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeClient, type MeridianClient } from '../../client/node.js'
import { CloseCode } from '../../core/codec/close-codes.js'
import { MessageType, type Message } from '../../core/codec/messages.js'
import { encodeLwwPayload } from '../../core/crdt/index.js'
import type { Change } from '../../core/types.js'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'
import { acceptedClient, http } from '../server/in-process.js'

const IDS = ['a', 'b'] as const
let cluster: ProcessCluster
const clients: MeridianClient[] = []

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    ids: IDS,
    storage: 'file',
    config: { collections: { notes: { mode: 'crdt', type: 'lww' }, docs: { mode: 'crdt', type: 'yjs' } } },
  })
  await cluster.waitConnected()
  // Something to fetch: 200 notes of 2 KB each.
  for (let i = 0; i < 200; i++) {
    const res = await http(cluster.node('a').httpUrl, 'PUT', `/v1/notes/n${i}`, { text: 'x'.repeat(2048), i })
    expect(res.status).toBe(200)
  }
}, 60_000)

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await cluster?.stop()
})

function expectAllRunning(): void {
  for (const id of IDS) expect(cluster.node(id).running, `${id} exited:\n${cluster.node(id).tail()}`).toBe(true)
}

const payload = encodeLwwPayload({ kind: 'write', writes: [{ field: 'a', deleted: false, value: 1, base: null }] })
const change = (origin: string, extra: Partial<Change> = {}): Change => ({
  origin,
  seq: 1,
  hlc: { wallMs: Date.now(), counter: 0, node: origin },
  collection: 'notes',
  docId: 'forged',
  docType: 'lww',
  payload,
  ...extra,
})
const hlc = { wallMs: Date.now(), counter: 0, node: 'x' }

describe('hostile sync frames against real processes', () => {
  it('[AU1] [PS1] closes FORBIDDEN a client that sends what only a region may, or a change that is not its own', async () => {
    const forbidden: [string, Message][] = [
      ['skipped', { type: MessageType.Skipped, ranges: [{ origin: 'a', from: 1, to: 1_000_000 }], hlc }],
      ['fetched', { type: MessageType.Fetched, fetch: 1, transfer: 1, documents: 0, hlc }],
      ['rejected', { type: MessageType.Rejected, seqs: [1], collection: 'notes', docId: 'forged', code: 'FORBIDDEN', message: '', vector: new Map(), hlc, state: null }],
      ['foreign origin', { type: MessageType.ChangeBatch, changes: [change('a')] }],
      ['authored', { type: MessageType.ChangeBatch, changes: [change('c-authored', { author: { origin: 'someone', seq: 1 } })] }],
    ]
    for (const [name, message] of forbidden) {
      const id = name === 'authored' ? 'c-authored' : `c-${name.replace(' ', '-')}`
      const client = await acceptedClient(cluster.node('a').url, id)
      client.send(message)
      expect((await client.closed).code, name).toBe(CloseCode.FORBIDDEN)
    }
    expect((await http(cluster.node('a').httpUrl, 'GET', '/v1/notes/forged')).status).toBe(404)
    const status = (await http(cluster.node('a').httpUrl, 'GET', '/status')).json as { vector: Record<string, number> }
    expect(Object.keys(status.vector)).toEqual(['a'])
    expectAllRunning()
  })

  it('[IN2] a garbage Subscribe is closed as a bad frame; one over the document limit is closed FORBIDDEN, one at the limit is taken; a flood of fetches is charged and bounded', async () => {
    const garbage = await acceptedClient(cluster.node('a').url, 'c-garbage')
    garbage.sendRaw(Uint8Array.of(MessageType.Subscribe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))
    expect((await garbage.closed).code).not.toBe(1000)

    // 40,000 documents named in one Subscribe (about 1 MB): over limits.maxDocumentsPerConnection
    // (10,000 by default), so the connection is closed FORBIDDEN (docs/security.md, "Limits").
    const over = await acceptedClient(cluster.node('a').url, 'c-over')
    const many = Array.from({ length: 40_000 }, (_, i) => ({ collection: 'docs', docId: `d${i}-${'y'.repeat(16)}` }))
    over.send({ type: MessageType.Subscribe, id: 1, collections: [], documents: many, fetchCollections: [], fetchDocuments: [] })
    expect((await over.closed).code).toBe(CloseCode.FORBIDDEN)

    // 10,000 (the limit, about 250 KB): it only sets a filter.
    const huge = await acceptedClient(cluster.node('a').url, 'c-huge')
    const documents = many.slice(0, 10_000)
    huge.send({ type: MessageType.Subscribe, id: 1, collections: [], documents, fetchCollections: [], fetchDocuments: [] })
    huge.send({ type: MessageType.VersionVector, vector: new Map() })
    await huge.next((m) => m.type === MessageType.Skipped, 10_000)
    expect(huge.messages.some((m) => m.type === MessageType.ChangeBatch)).toBe(false) // nothing in docs yet
    huge.ws.close()

    // A client that asks for the whole collection's state 300 times, having announced it holds it.
    const flood = await acceptedClient(cluster.node('a').url, 'c-flood')
    const aHead = ((await http(cluster.node('a').httpUrl, 'GET', '/status')).json as { vector: Record<string, number> }).vector['a'] ?? 0
    flood.send({ type: MessageType.VersionVector, vector: new Map([['a', aHead]]) })
    for (let id = 1; id <= 300; id++) {
      flood.send({ type: MessageType.Subscribe, id, collections: ['notes'], documents: [], fetchCollections: ['notes'], fetchDocuments: [] })
    }
    const outcome = await Promise.race([flood.closed.then((c) => c.code), new Promise<number>((resolve) => setTimeout(() => resolve(0), 3_000))])
    const fetched = flood.messages.filter((m) => m.type === MessageType.Fetched).length
    console.log(`fetch flood: close code ${outcome || 'none'}, ${fetched} of 300 fetches answered`)
    // Each answer is charged to the connection's resync budget, and its send queue is bounded [IN3] [PF4].
    expect([0, CloseCode.RESYNC_LIMIT, CloseCode.OVERLOADED]).toContain(outcome)
    expect(fetched).toBeGreaterThan(0)
    flood.ws.close()

    // The regions still serve: an honest client syncs a new write from b.
    const honest = createNodeClient({ urls: [cluster.node('a').url] })
    clients.push(honest)
    const notes = honest.lww<{ text: string; i: number }>('notes')
    await http(cluster.node('b').httpUrl, 'PUT', '/v1/notes/after', { text: 'ok', i: -1 })
    await waitFor(() => notes.get('after')?.text === 'ok' && notes.get('n199')?.i === 199, 15_000, 'the honest client synced')
    expectAllRunning()
  })
})

/**
 * State, not history, at the client (docs/design.md §6): a client keeps documents as state in its store and
 * drops the changes every region holds; a restarted client reads them back before it connects; a client that
 * joins after the region compacted its log gets a state transfer.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createNodeClient, memoryClientStore, type MeridianClient } from '../../client/node.js'
import type { MeridianServer } from '../../server/server.js'
import { waitFor } from '../helpers/cluster.js'
import { startServer } from '../server/in-process.js'
import { fakeClients, until } from './fake-client.js'
import { FakeNetwork } from './fake-server.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function server(): Promise<MeridianServer> {
  const s = await startServer({ nodeId: 'solo', snapshotEveryChanges: 20, snapshotIntervalMs: 20 })
  cleanups.push(() => s.close())
  return s
}

function client(url: string, store = memoryClientStore(), clientId?: string): MeridianClient {
  const c = createNodeClient({ urls: [url], store, ...(clientId === undefined ? {} : { clientId }), minDelayMs: 10, maxDelayMs: 50 })
  cleanups.push(() => c.close())
  return c
}

describe('[SG3] a client keeps state, not history', () => {
  it('keeps documents as state and drops the changes every region holds; a restart reads them back offline', async () => {
    const s = await server()
    const store = memoryClientStore()
    const writer = client(s.url, store)
    const notes = writer.lww<{ i: number }>('notes')
    let last = notes.put('d0', { i: 0 })
    for (let i = 1; i < 200; i++) last = notes.put(`d${i % 5}`, { i })
    await last.replicated
    await waitFor(() => store.changes.length < 20 && store.documents.size === 5, 5_000, 'the store compacted')
    await writer.close()

    // A new client on the same store, pointed at nothing: the documents are there before any connection.
    const again = client('ws://127.0.0.1:9/sync', store, writer.clientId)
    for (let d = 0; d < 5; d++) expect(again.lww<{ i: number }>('notes').get(`d${d}`)).toEqual({ i: 195 + d })
    // Listed too: a page renders a collection from ids() before anything arrives.
    expect(again.lww('notes').ids()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4'])
    // Its next write numbers after everything the documents hold.
    expect(again.lww('notes').put('d0', { i: 200 }).seq).toBe(201)
  })

  it('offline writes survive a restart on the same store and reach the region', async () => {
    const s = await server()
    const store = memoryClientStore()
    const offline = client('ws://127.0.0.1:9/sync', store)
    offline.lww('notes').put('o1', { v: 1 })
    offline.lww('notes').put('o2', { v: 2 })
    await offline.close()
    const online = client(s.url, store, offline.clientId)
    await waitFor(async () => (await fetch(`${s.httpUrl}/v1/notes/o2`)).status === 200, 5_000, 'the offline writes at the region')
    expect(await (await fetch(`${s.httpUrl}/v1/notes/o1`)).json()).toMatchObject({ doc: { v: 1 } })
    expect(online.outboxSize).toBe(0)
  })

  it('a client that joins after the region compacted its log gets the documents by state transfer', async () => {
    const s = await server()
    for (let i = 0; i < 100; i++) await fetch(`${s.httpUrl}/v1/notes/n${i % 10}`, { method: 'PUT', body: JSON.stringify({ i }) })
    await waitFor(async () => ((await (await fetch(`${s.httpUrl}/status`)).json()) as { changes: number }).changes < 20, 5_000, 'the region compacted')
    const store = memoryClientStore()
    const late = client(s.url, store)
    const seen: string[] = []
    late.lww('notes').subscribeAll((id) => seen.push(id))
    await waitFor(() => late.lww('notes').get('n9') !== null, 5_000, 'the documents at the late client')
    expect(late.stats.stateTransfersReceived).toBe(1)
    for (let d = 0; d < 10; d++) expect(late.lww('notes').get(`n${d}`)).toEqual({ i: 90 + d })
    expect(new Set(seen).size).toBe(10)
    // What arrived whole is kept whole: a restart on the same store has it before any connection.
    await waitFor(() => store.documents.size === 10, 5_000, 'the transferred documents saved')
    await late.close()
    const again = client('ws://127.0.0.1:9/sync', store, late.clientId)
    for (let d = 0; d < 10; d++) expect(again.lww('notes').get(`n${d}`)).toEqual({ i: 90 + d })
  })
})

const fake = fakeClients(50)

describe('[CV4] a client never drops an own change no region holds', () => {
  it('documents saved while an own change is in flight: the change stays in the outbox across a restart', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1', { autoDurable: false })
    const store = memoryClientStore()
    const first = fake(net, ['ws://eu.test'], { store })
    await until(() => first.status === 'connected')
    const notes = first.lww<{ v: number }>('notes')
    notes.put('a', { v: 1 })
    await until(() => eu.node.acceptedFrom(first.clientId) === 1)
    eu.flushDurable()
    notes.put('a', { v: 2 })
    await until(() => eu.node.acceptedFrom(first.clientId) === 2)
    // Every region holds #1; #2 is in the client's document but durable nowhere else.
    eu.sendReplicated(new Map([[first.clientId, 1]]))
    await until(() => store.documents.size === 1, 3_000)
    expect(store.loadDocuments?.()?.covered.get(first.clientId)).toBe(1)
    expect(store.changes.map((c) => c.seq)).toEqual([2])
    await first.close()
    // Restarted against a region that lost everything: #2 is still in the outbox and is sent as a change
    // (#1 is not: every region held it, so the client left it to them).
    const us = net.addRegion('us.test', 'us-1')
    const again = fake(net, ['ws://us.test'], { store, clientId: first.clientId })
    expect(again.lww<{ v: number }>('notes').get('a')).toEqual({ v: 2 })
    await until(() => us.receivedFromClients().includes(`${first.clientId}:2`))
    expect(us.receivedFromClients()).not.toContain(`${first.clientId}:1`)
  })
})

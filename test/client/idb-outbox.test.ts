import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it } from 'vitest'
import { openIdbClientStore } from '../../client/idb-store.js'
import { createNodeClient } from '../../client/node.js'
import { createServer, silentLogger, type MeridianServer } from '../../server/index.js'
import { freePort } from '../helpers/cluster.js'
import { waitFor } from '../helpers/cluster.js'

/**
 * The outbox on IndexedDB (fake-indexeddb under Node) against a real in-process region: writes made
 * while no region is reachable survive the client's end (a page reload) and reach the region from the
 * next session, which also shows them at once from the store.
 */

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function startRegion(port: number): Promise<MeridianServer> {
  const server = await createServer(
    { nodeId: 'a-1', region: 'a', host: '127.0.0.1', port, storage: 'memory', collections: { notes: { mode: 'crdt', type: 'lww' } } },
    { logger: silentLogger, defaultMetrics: false },
  )
  cleanups.push(() => server.close())
  return server
}

describe('[§8] the IndexedDB outbox', () => {
  it('offline writes survive a reload, show at once from the store, and reach the region once it is up', async () => {
    const port = await freePort()
    const urls = [`ws://127.0.0.1:${port}`]
    const WRITES = 50

    // First session: no region up. The writes are applied locally and kept in the store.
    const first = createNodeClient({ urls, store: await openIdbClientStore('outbox-e2e'), minDelayMs: 20, maxDelayMs: 50 })
    const notes = first.lww('notes')
    for (let i = 0; i < WRITES; i++) notes.put(`n${i}`, { title: `offline ${i}`, order: i })
    notes.put('n0', { title: 'offline 0, edited', order: 0 })
    const clientId = first.clientId
    await first.close()

    // "Reload": a new client on the same database, same writer id, before any region is up.
    const store = await openIdbClientStore('outbox-e2e')
    expect(store.clientId).toBe(clientId)
    const second = createNodeClient({ urls, store, minDelayMs: 20, maxDelayMs: 50 })
    cleanups.push(() => second.close())
    expect(second.clientId).toBe(clientId)
    expect(second.lww('notes').get('n0')).toEqual({ title: 'offline 0, edited', order: 0 })
    expect(second.lww('notes').get(`n${WRITES - 1}`)).toEqual({ title: `offline ${WRITES - 1}`, order: WRITES - 1 })

    // The region comes up: the outbox drains to it.
    await startRegion(port)
    const read = async (id: string): Promise<unknown> => {
      const reply = await fetch(`http://127.0.0.1:${port}/v1/notes/${id}`)
      return reply.status === 200 ? ((await reply.json()) as { doc: unknown }).doc : null
    }
    await waitFor(async () => (await read(`n${WRITES - 1}`)) !== null, 10_000, 'the last offline write at the region')
    expect(await read('n0')).toEqual({ title: 'offline 0, edited', order: 0 })
    for (let i = 1; i < WRITES; i++) expect(await read(`n${i}`)).toEqual({ title: `offline ${i}`, order: i })
  })
})

import { Repo, type DocHandle, type AnyDocumentId } from '@automerge/automerge-repo'
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket'
import WebSocket from 'ws'
import { encode as encodeCbor } from 'cborg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

/**
 * Unmodified automerge-repo peers (`Repo` with `WebSocketClientAdapter`) against real region processes
 * serving `ws /automerge` (docs/server.md, "automerge-repo peers"): a document made in one region is
 * found and edited from another, a late joiner gets it, offline edits merge, a SIGKILLed region comes
 * back with it, ephemeral messages cross regions, and bad input is refused.
 */

interface Board {
  cards: string[]
  title?: string
}

let cluster: ProcessCluster
const repos: Repo[] = []

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    ids: ['a', 'b', 'c'],
    storage: 'file',
    config: { collections: { boards: { mode: 'crdt', type: 'automerge' } }, automergeRepoCollection: 'boards' },
  })
  await cluster.waitConnected()
}, 60_000)

afterAll(async () => {
  for (const repo of repos) await repo.shutdown().catch(() => undefined)
  await cluster?.stop()
})

function endpoint(id: string): string {
  return `${cluster.node(id).httpUrl.replace('http', 'ws')}/automerge`
}

function repo(id: string): Repo {
  const made = new Repo({ network: [new WebSocketClientAdapter(endpoint(id), 200)] })
  repos.push(made)
  return made
}

async function regionView(id: string, docId: string): Promise<Board | null> {
  const reply = await fetch(`${cluster.node(id).httpUrl}/v1/boards/${encodeURIComponent(docId)}`)
  return reply.status === 200 ? ((await reply.json()) as { doc: Board }).doc : null
}

async function found(r: Repo, url: AnyDocumentId): Promise<DocHandle<Board>> {
  return await r.find<Board>(url)
}

describe('unmodified automerge-repo peers sync through Meridian regions', () => {
  it('a document made in region a is found and edited in region b, and a late joiner in c gets both edits', async () => {
    const inA = repo('a')
    const handle = inA.create<Board>({ cards: ['made in a'] })
    await waitFor(async () => (await regionView('a', handle.documentId))?.cards?.[0] === 'made in a', 10_000, 'the document at region a')
    const inB = repo('b')
    const seen = await found(inB, handle.url)
    expect(seen.doc().cards).toEqual(['made in a'])
    seen.change((doc) => {
      doc.cards.push('added in b')
    })
    await waitFor(() => handle.doc().cards.length === 2, 10_000, 'b\'s card in a')
    const late = await found(repo('c'), handle.url)
    await waitFor(() => late.doc().cards.join() === 'made in a,added in b', 10_000, 'both cards at the late joiner')
  })

  it('changes made faster than the client syncs (several back to back in one entry of a sync message) all arrive, over the same connection', async () => {
    const inA = repo('a')
    const handle = inA.create<Board>({ cards: [] })
    await waitFor(async () => (await regionView('a', handle.documentId)) !== null, 10_000, 'the document at region a')
    const reader = await found(repo('b'), handle.url)
    const socketOf = (r: Repo): unknown => (r.networkSubsystem.adapters[0] as unknown as { socket?: unknown }).socket
    const socket = socketOf(inA)
    // The Repo sends at most one sync message per document every 100 ms: 40 changes in 20 ms share a few.
    for (let i = 0; i < 40; i++) {
      handle.change((doc) => {
        doc.cards.push(`card ${i}`)
      })
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await waitFor(() => reader.doc().cards.length === 40, 10_000, 'all 40 cards in region b')
    expect(reader.doc().cards).toEqual(Array.from({ length: 40 }, (_, i) => `card ${i}`))
    expect((await regionView('c', handle.documentId))?.cards).toHaveLength(40)
    expect(socketOf(inA)).toBe(socket) // the region closed nothing: the writer never reconnected
  })

  it('a request for a document no region holds is answered unavailable', async () => {
    const r = repo('a')
    await expect(r.find('automerge:2j9knpCseyhnK8izDmLpGP5WMdZQ' as AnyDocumentId)).rejects.toThrow(/unavailable/i)
  })

  it('edits made while a peer is disconnected merge once it reconnects', async () => {
    const one = repo('a')
    const handle = one.create<Board>({ cards: [] })
    const two = await found(repo('b'), handle.url)
    const adapter = one.networkSubsystem.adapters[0] as WebSocketClientAdapter
    adapter.disconnect()
    handle.change((doc) => {
      doc.cards.push('offline in a')
    })
    two.change((doc) => {
      doc.title = 'online in b'
    })
    await waitFor(async () => (await regionView('a', handle.documentId))?.title === 'online in b', 10_000, 'b\'s edit at region a')
    adapter.connect(one.peerId)
    await waitFor(() => handle.doc().title === 'online in b' && two.doc().cards.join() === 'offline in a', 15_000, 'both edits in both')
  })

  it('a region SIGKILLed and restarted still holds the document, and serves it', async () => {
    const writer = repo('a')
    const handle = writer.create<Board>({ cards: ['before the kill'] })
    await waitFor(async () => (await regionView('b', handle.documentId))?.cards?.[0] === 'before the kill', 10_000, 'the document replicated to b')
    await cluster.kill('a')
    await cluster.launch('a')
    const reader = await found(repo('a'), handle.url)
    expect(reader.doc().cards).toEqual(['before the kill'])
  })

  it('ephemeral messages reach the document\'s peers in other regions', async () => {
    const inA = repo('a')
    const handle = inA.create<Board>({ cards: [] })
    const inB = await found(repo('b'), handle.url)
    const heard: unknown[] = []
    inB.on('ephemeral-message', ({ message }) => heard.push(message))
    // Both peers are known to their regions once they synced; broadcast until it arrives.
    await waitFor(() => {
      handle.broadcast({ cursor: 7 })
      return heard.some((message) => (message as { cursor?: number }).cursor === 7)
    }, 10_000, 'the ephemeral message in region b')
  })

  it('bad input: a frame that is not CBOR, or a first message that is not join, closes with 4400; the region goes on', async () => {
    const closeOf = (frame: Uint8Array): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(endpoint('c'))
        ws.on('open', () => ws.send(frame))
        ws.on('close', (code) => resolve(code))
      })
    expect(await closeOf(new Uint8Array([0xff, 0x00, 0x13]))).toBe(4400)
    expect(await closeOf(encodeCbor({ type: 'sync', documentId: 'x', data: new Uint8Array(1) }))).toBe(4400)
    const handle = repo('c').create<Board>({ cards: ['still serving'] })
    await waitFor(async () => (await regionView('c', handle.documentId))?.cards?.[0] === 'still serving', 10_000, 'region c still serves')
  })
})

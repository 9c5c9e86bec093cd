/**
 * The divergence digest with real processes (docs/crdt.md "Divergence digest", docs/server.md `GET /status`):
 * after writes in every region converge, the three regions report equal vectors and equal digests per
 * collection; a region whose stored data is edited while it is stopped comes back with the same vector and a
 * different digest — what the dashboard and an operator read as DIVERGED.
 */
import { Repo } from '@automerge/automerge-repo'
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { decodeStoredDocumentState, encodeStoredDocumentState } from '../../core/codec/document-state.js'
import { decodeLwwState, encodeLwwState } from '../../core/crdt/lww-state.js'
import { CRDT_DOCUMENT_PREFIX } from '../../server/region/crdt-snapshots.js'
import { openStorage } from '../../server/storage-factory.js'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

const IDS = ['a', 'b', 'c'] as const
const DOCS = 12

let cluster: ProcessCluster

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    ids: [...IDS],
    topology: 'mesh',
    storage: 'file',
    config: {
      snapshotEveryChanges: 5,
      snapshotIntervalMs: 50,
      collections: { notes: { mode: 'crdt', type: 'lww' }, pads: { mode: 'crdt', type: 'yjs' }, boards: { mode: 'crdt', type: 'automerge' } },
      yjsRoomCollection: 'pads',
      automergeRepoCollection: 'boards',
    },
  })
  await cluster.waitConnected()
}, 60_000)
afterAll(() => cluster?.stop())

interface CollectionStatus {
  type: string
  digest: string
  documents: number
  vector: Record<string, number>
  token: string
}

async function collections(id: string): Promise<Record<string, CollectionStatus>> {
  const res = await fetch(`${cluster.node(id).httpUrl}/status`)
  return ((await res.json()) as { collections: Record<string, CollectionStatus> }).collections
}

/** Waits until every region reports the same vector (and `extra` holds), then returns their statuses. */
async function sameVectors(extra: (all: Record<string, CollectionStatus>[]) => boolean = () => true): Promise<Record<string, CollectionStatus>[]> {
  let all: Record<string, CollectionStatus>[] = []
  await waitFor(async () => {
    all = await Promise.all(IDS.map((id) => collections(id)))
    const vectors = all.map((c) => JSON.stringify(c['notes']?.vector))
    return vectors.every((v) => v === vectors[0]) && Object.keys(all[0]?.['notes']?.vector ?? {}).length === IDS.length && extra(all)
  }, 10_000, 'equal vectors in every region')
  return all
}

describe('divergence digest across regions', () => {
  it('converged regions report equal vectors and equal digests', async () => {
    for (let i = 0; i < DOCS; i++) {
      const id = IDS[i % IDS.length] as string
      const res = await fetch(`${cluster.node(id).httpUrl}/v1/notes/n${i}?w=local`, { method: 'PUT', body: JSON.stringify({ i, by: id }) })
      expect(res.status).toBe(200)
    }
    const all = await sameVectors()
    for (const c of all) {
      expect(c['notes']).toMatchObject({ type: 'lww', documents: DOCS, digest: all[0]?.['notes']?.digest, token: all[0]?.['notes']?.token })
      expect(c['notes']?.digest).toMatch(/^[0-9a-f]{16}$/)
      expect(c['notes']?.digest).not.toBe('0000000000000000')
      expect(c['pads']).toMatchObject({ type: 'yjs', documents: 0, digest: '0000000000000000' })
    }
  })

  it('yjs rooms edited concurrently in two regions (inserts and deletions): every region reports the same vector and digest', async () => {
    const providers = IDS.slice(0, 2).map((id) => {
      const url = `${cluster.node(id).httpUrl.replace('http', 'ws')}/yjs`
      return new WebsocketProvider(url, 'pad-1', new Y.Doc(), { WebSocketPolyfill: WebSocket as never, maxBackoffTime: 300, disableBc: true })
    })
    try {
      await waitFor(() => providers.every((p) => p.synced), 10_000, 'providers synced')
      for (let i = 0; i < 20; i++) {
        const p = providers[i % 2] as WebsocketProvider
        const text = p.doc.getText('text')
        text.insert(Math.min(i, text.length), `${i}-`)
        if (i % 3 === 2) text.delete(0, Math.min(2, text.length))
        p.doc.getMap('root').set(`k${i % 4}`, i)
      }
      const texts = () => providers.map((p) => p.doc.getText('text').toString())
      await waitFor(() => texts()[0] === texts()[1], 10_000, 'both providers hold the same text')
      const all = await sameVectors((s) => s.every((c) => c['pads']?.documents === 1))
      for (const c of all) expect(c['pads']).toMatchObject({ type: 'yjs', documents: 1, digest: all[0]?.['pads']?.digest })
      expect(all[0]?.['pads']?.digest).not.toBe('0000000000000000')
    } finally {
      for (const p of providers) p.destroy()
    }
  })

  it('an automerge document edited concurrently from two regions (automerge-repo): every region reports the same vector and digest', async () => {
    const repos = IDS.slice(0, 2).map((id) => new Repo({ network: [new WebSocketClientAdapter(`${cluster.node(id).httpUrl.replace('http', 'ws')}/automerge`, 200)] }))
    try {
      const inA = repos[0]?.create<{ cards: string[] }>({ cards: [] })
      if (inA === undefined) throw new Error('no repo')
      const inB = await repos[1]?.find<{ cards: string[] }>(inA.url)
      if (inB === undefined) throw new Error('not found in b')
      for (let i = 0; i < 10; i++) {
        inA.change((doc) => void doc.cards.push(`a${i}`))
        inB.change((doc) => void doc.cards.push(`b${i}`))
      }
      await waitFor(() => inA.doc().cards.length === 20 && inB.doc().cards.join() === inA.doc().cards.join(), 10_000, 'both repos hold all 20 cards')
      const all = await sameVectors((s) => s.every((c) => c['boards']?.documents === 1))
      for (const c of all) expect(c['boards']).toMatchObject({ type: 'automerge', documents: 1, digest: all[0]?.['boards']?.digest })
      expect(all[0]?.['boards']?.digest).not.toBe('0000000000000000')
    } finally {
      for (const r of repos) await r.shutdown().catch(() => undefined)
    }
  })

  it('a region whose stored document was edited while stopped reports the same vector and a different digest', async () => {
    const converged = (await collections('a'))['notes'] as CollectionStatus
    // Stop c gracefully (its last snapshot round stores every document), edit one stored document's value
    // behind its back, keeping the register's stamp, and start it again.
    const node = cluster.node('c')
    const exited = new Promise<void>((resolve) => node.child?.once('exit', () => resolve()))
    node.child?.kill('SIGTERM')
    await exited
    const { adapter } = await openStorage({ storage: 'file', dataDir: `${cluster.dir}/data/c` })
    let edited: string | null = null
    try {
      for (const { key, data } of await adapter.loadRange([...CRDT_DOCUMENT_PREFIX])) {
        const stored = decodeStoredDocumentState(data)
        if (stored.document.collection !== 'notes' || stored.document.docId !== 'n0') continue
        const state = decodeLwwState(stored.document.state)
        const registers = state.registers.map((r) => (r.write.field === 'by' && !r.write.deleted ? { ...r, write: { ...r.write, value: 'tampered' } } : r))
        const document = { ...stored.document, state: encodeLwwState({ ...state, registers }) }
        await adapter.save(key, encodeStoredDocumentState({ ...stored, document }))
        edited = stored.document.docId
      }
      await adapter.flush()
    } finally {
      await adapter.close()
    }
    expect(edited).toBe('n0')
    await cluster.launch('c')
    await cluster.waitConnected()
    const all = await sameVectors()
    const [a, b, c] = all.map((s) => s['notes'] as CollectionStatus)
    // Nothing new was written: every region still claims exactly the changes it had converged on.
    expect(a?.vector).toEqual(converged.vector)
    expect(c?.vector).toEqual(a?.vector)
    expect(b?.digest).toBe(a?.digest)
    expect(a?.digest).toBe(converged.digest)
    expect(c?.digest).not.toBe(a?.digest)
    expect(c?.documents).toBe(DOCS)
    // What the digest saw is real: c serves the edited value.
    const read = (await (await fetch(`${node.httpUrl}/v1/notes/n0`)).json()) as { doc: Record<string, unknown> }
    expect(read.doc['by']).toBe('tampered')
  })
})

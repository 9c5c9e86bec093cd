/**
 * Snapshot rounds and compaction of one region with file storage (docs/design.md §6, [SG3]): the log stays a
 * tail, a restart reads document states, an older data directory (a log only) is read and compacted, and a
 * stored document that cannot be read stops the startup with its key.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeChange, MessageType, type RejectedMessage } from '../../core/codec/index.js'
import { encodeLwwPayload, LwwReplica, lwwPutPayload } from '../../core/crdt/index.js'
import { CRDT_LOG } from '../../server/region-node.js'
import { CRDT_DOCUMENT_PREFIX } from '../../server/region/crdt-snapshots.js'
import type { MeridianServer } from '../../server/server.js'
import { openFileStorage } from '../../server/storage/file-adapter.js'
import { waitFor } from '../helpers/cluster.js'
import { acceptedClient, http, startServer } from './in-process.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-snapshots-'))
  dirs.push(dir)
  return dir
}

const start = (dir: string): Promise<MeridianServer> =>
  startServer({ nodeId: 'solo', storage: 'file', dataDir: dir, snapshotEveryChanges: 20, snapshotIntervalMs: 20 })

const status = async (server: MeridianServer) => (await http(server.httpUrl, 'GET', '/status')).json

describe('[SG3] crdt snapshot rounds and compaction (file storage)', () => {
  it('overwrites replace: the log stays a tail, and a restart reads the documents back', async () => {
    const dir = dataDir()
    let server = await start(dir)
    for (let i = 0; i < 300; i++) expect((await http(server.httpUrl, 'PUT', `/v1/notes/d${i % 5}`, { i })).status).toBe(200)
    await waitFor(async () => (await status(server)).changes <= 40, 5_000, 'a compacted log')
    const before = await status(server)
    expect(before.storage.snapshotRounds).toBeGreaterThan(0)
    expect(before.storage.compactedChanges).toBeGreaterThanOrEqual(260)
    expect(before.storage.logRecords).toBeLessThanOrEqual(40)
    expect(before.documents).toBe(5)
    await server.close()

    server = await start(dir)
    try {
      for (let d = 0; d < 5; d++) expect((await http(server.httpUrl, 'GET', `/v1/notes/d${d}`)).json.doc).toEqual({ i: 295 + d })
      const after = await status(server)
      // A clean stop ran a last round: the restart replayed (almost) nothing.
      expect(after.changes).toBe(0)
      expect(after.vector.solo).toBe(300)
      // New writes number on from the stored state.
      const put = await http(server.httpUrl, 'PUT', '/v1/notes/d0', { i: 300 })
      expect(put.json.ack).toBe('local')
      expect((await status(server)).vector.solo).toBe(301)
    } finally {
      await server.close()
    }
  })

  it('a data directory from before snapshots (a log, no states) is replayed once, then compacted', async () => {
    const dir = dataDir()
    const storage = await openFileStorage(join(dir, 'storage'))
    const records = []
    for (let seq = 1; seq <= 100; seq++) {
      records.push(
        encodeChange({
          origin: 'solo',
          seq,
          hlc: { wallMs: 1_700_000_000_000 + seq, counter: 0, node: 'solo' },
          collection: 'notes',
          docId: `old-${seq % 4}`,
          docType: 'lww',
          payload: encodeLwwPayload({ kind: 'write', writes: [{ field: 'seq', deleted: false, value: seq, base: null }] }),
        }),
      )
    }
    await storage.append(CRDT_LOG, records)
    await storage.close()
    const server = await start(dir)
    try {
      expect((await http(server.httpUrl, 'GET', '/v1/notes/old-1')).json.doc).toEqual({ seq: 97 })
      await waitFor(async () => (await status(server)).storage.logRecords === 0, 5_000, 'the old log compacted')
      expect((await status(server)).vector.solo).toBe(100)
    } finally {
      await server.close()
    }
  })

  it('a stored document that cannot be read stops the startup, naming it', async () => {
    const dir = dataDir()
    const storage = await openFileStorage(join(dir, 'storage'))
    await storage.save([...CRDT_DOCUMENT_PREFIX, 'notes', 'broken'], Uint8Array.of(9, 9, 9))
    await storage.close()
    await expect(start(dir)).rejects.toThrow(/stored document .*broken.* cannot be read/)
  })

  it('a refused write whose answer was lost is still told after a restart from a compacted log', async () => {
    // docs/security.md, "Refused writes": what a region still has to tell is stored with each snapshot
    // round. Before, it was rebuilt from the log alone, which compaction had emptied: never told.
    const dir = dataDir()
    const startRefusing = (): Promise<MeridianServer> =>
      startServer({ nodeId: 'solo', storage: 'file', dataDir: dir, snapshotEveryChanges: 20, snapshotIntervalMs: 20, values: { maxStringBytes: 64 } })
    let server = await startRefusing()
    const writer = await acceptedClient(server.url, 'c-lost')
    const docId = 'refused'
    const payload = lwwPutPayload(new LwwReplica({ collection: 'notes', docId }), { title: 'x'.repeat(100) })
    writer.send({ type: MessageType.ChangeBatch, changes: [{ origin: 'c-lost', seq: 1, hlc: { wallMs: Date.now(), counter: 0, node: 'c-lost' }, collection: 'notes', docId, docType: 'lww', payload }] })
    await waitFor(async () => (await status(server)).vector.solo === 1, 5_000, 'the void entry logged')
    // The connection ends; whatever answer was on its way is lost with it.
    writer.ws.terminate()
    for (let i = 0; i < 40; i++) expect((await http(server.httpUrl, 'PUT', `/v1/notes/d${i % 4}`, { i })).status).toBe(200)
    await server.close()

    server = await startRefusing()
    try {
      // A clean stop ran a last round: nothing is replayed, the void entry is in no log.
      expect((await status(server)).changes).toBe(0)
      const back = await acceptedClient(server.url, 'c-lost')
      back.send({ type: MessageType.VersionVector, vector: new Map([['solo', 41]]) })
      const told = (await back.next((m) => m.type === MessageType.Rejected)) as RejectedMessage
      expect([told.seqs, told.code, told.collection, told.docId]).toEqual([[1], 'REFUSED', 'notes', docId])
      back.ws.terminate()
      expect((await http(server.httpUrl, 'GET', `/v1/notes/${docId}`)).status).toBe(404)
    } finally {
      await server.close()
    }
  })
})

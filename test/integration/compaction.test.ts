/**
 * State, not history, with real processes (docs/design.md §6, [SG3]): three regions with file storage
 * that snapshot and compact every few dozen changes. Regions are SIGKILLed in the middle of snapshot
 * rounds and compaction; a region kept down past the retention bound catches up by state transfer.
 * Nothing acknowledged may be lost, and the log stays a tail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, sleep, waitFor } from '../helpers/cluster.js'

const DOCS = 20
let cluster: ProcessCluster

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    ids: ['a', 'b', 'c'],
    topology: 'mesh',
    storage: 'file',
    config: { snapshotEveryChanges: 40, snapshotIntervalMs: 50, retainChanges: 150 },
  })
  await cluster.waitConnected()
}, 60_000)
afterAll(() => cluster?.stop())

interface Status {
  vector: Record<string, number>
  changes: number
  documents: number
  storage: { logRecords: number; snapshotRounds: number; compactedChanges: number; stateTransfersSent: number; stateTransfersReceived: number }
}

const url = (id: string) => cluster.node(id).httpUrl
const status = async (id: string): Promise<Status> => (await (await fetch(`${url(id)}/status`)).json()) as Status

async function put(id: string, doc: string, body: unknown): Promise<{ status: number; ack: string | undefined }> {
  const res = await fetch(`${url(id)}/v1/notes/${doc}`, { method: 'PUT', body: JSON.stringify(body) })
  const json = (await res.json()) as { ack?: string }
  return { status: res.status, ack: json.ack }
}

async function read(id: string, doc: string): Promise<{ i: number } | null> {
  const res = await fetch(`${url(id)}/v1/notes/${doc}`)
  if (res.status !== 200) return null
  return ((await res.json()) as { doc: { i: number } }).doc
}

/** Overwrites DOCS documents at `region` until stopped; remembers, per document, the newest acknowledged value. */
function overwriter(region: string, prefix: string) {
  const acked = new Map<string, number>()
  let stop = false
  let count = 0
  const done = (async () => {
    for (let i = 0; !stop; i++) {
      const doc = `${prefix}-${i % DOCS}`
      try {
        const res = await put(region, doc, { i })
        if (res.status === 200 && res.ack === 'local') {
          acked.set(doc, i)
          count += 1
        }
      } catch {
        await sleep(20) // the region is down: this write is indeterminate
      }
    }
  })()
  return {
    acked,
    get count() {
      return count
    },
    async stop() {
      stop = true
      await done
    },
  }
}

async function expectAckedAt(region: string, acked: ReadonlyMap<string, number>): Promise<void> {
  for (const [doc, i] of acked) {
    const value = await read(region, doc)
    // An overwrite acknowledged before the kill may only be replaced by a later write, never lost.
    expect(value?.i ?? -1, `${doc} at ${region}`).toBeGreaterThanOrEqual(i)
  }
}

async function converged(): Promise<void> {
  await waitFor(
    async () => {
      const vectors = await Promise.all(['a', 'b', 'c'].map(async (id) => JSON.stringify((await status(id)).vector)))
      return vectors.every((v) => v === vectors[0])
    },
    15_000,
    'identical vectors in every region',
  )
}

describe('[SG3] snapshots and compaction, real processes', () => {
  it('[SG1][SG3] a region SIGKILLed again and again during snapshot rounds and compaction loses nothing acknowledged', async () => {
    const writer = overwriter('a', 'hot')
    for (let round = 0; round < 3; round++) {
      const before = writer.count
      await waitFor(() => writer.count >= before + 150, 20_000, '150 more acknowledged overwrites')
      await cluster.kill('a')
      const acked = new Map(writer.acked)
      await cluster.launch('a')
      await expectAckedAt('a', acked)
    }
    await writer.stop()
    const a = await status('a')
    expect(a.storage.snapshotRounds).toBeGreaterThan(0)
    await cluster.waitConnected()
    await converged()
    for (const id of ['a', 'b', 'c']) await expectAckedAt(id, writer.acked)
    // Every region compacted: the log is a tail, whatever the history was.
    await waitFor(
      async () => (await Promise.all(['a', 'b', 'c'].map(status))).every((s) => s.changes <= 200 && s.storage.compactedChanges > 0),
      10_000,
      'a short log in every region',
    )
  }, 120_000)

  it('[SG3] a region down past the retention bound catches up by state transfer', async () => {
    await cluster.kill('c')
    const writer = overwriter('a', 'away')
    await waitFor(() => writer.count >= 400, 30_000, '400 acknowledged overwrites while c is down')
    await writer.stop()
    // a and b hold more than retainChanges that c never acknowledged: they compacted past it anyway.
    await waitFor(async () => (await status('a')).changes <= 200, 10_000, 'a compacted past the retention bound')
    const before = (await status('a')).storage.stateTransfersSent + (await status('b')).storage.stateTransfersSent
    await cluster.launch('c')
    await cluster.waitConnected()
    await converged()
    const after = (await status('a')).storage.stateTransfersSent + (await status('b')).storage.stateTransfersSent
    expect(after).toBeGreaterThan(before)
    expect((await status('c')).storage.stateTransfersReceived).toBeGreaterThan(0)
    await expectAckedAt('c', writer.acked)
    for (let d = 0; d < DOCS; d++) {
      const [x, y] = await Promise.all([read('a', `away-${d}`), read('c', `away-${d}`)])
      expect(y).toEqual(x)
    }
  }, 120_000)
})

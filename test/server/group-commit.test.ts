import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeVersionVector } from '../../core/clock/version-vector.js'
import { ChangeCommitQueue } from '../../server/region/change-commit-queue.js'
import { CommitLoop } from '../../server/storage/commit-loop.js'
import type { MeridianServer } from '../../server/server.js'
import { CountingStorage } from './counting-storage.js'
import { http, startServer } from './in-process.js'

function commitOver(storage: CountingStorage, maxDelayMs = 0) {
  const durable: number[] = []
  let queued = 0
  const commit = new CommitLoop({ storage })
  commit.onFailure((err) => {
    throw err
  })
  const queue = new ChangeCommitQueue({
    storage,
    loop: commit,
    log: 'crdt',
    maxDelayMs,
    cut: () => new Map([['me', queued]]),
    onDurable: (covered) => durable.push(covered.get('me') ?? 0),
  })
  const enqueue = () => {
    queued += 1
    queue.enqueue(Uint8Array.of(queued))
  }
  return { commit, durable, enqueue }
}

describe('CommitLoop and ChangeCommitQueue [PF2]', () => {
  it('a lone write waits for exactly one sync', async () => {
    const storage = new CountingStorage(5)
    const { commit, durable, enqueue } = commitOver(storage)
    enqueue()
    await commit.idle()
    expect(storage.flushes).toBe(1)
    expect(durable).toEqual([1])
  })

  it('writes arriving during a sync share the next one', async () => {
    const storage = new CountingStorage(10)
    const { commit, durable, enqueue } = commitOver(storage)
    enqueue()
    await new Promise((resolve) => setTimeout(resolve, 3))
    for (let i = 0; i < 20; i++) enqueue()
    await commit.idle()
    expect(storage.flushes).toBe(2)
    expect(durable).toEqual([1, 21])
    expect(storage.durableRecords).toBe(21)
  })

  it('reports durability only after the flush resolved', async () => {
    const storage = new CountingStorage(20)
    const { commit, durable, enqueue } = commitOver(storage)
    enqueue()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(storage.flushes).toBe(1)
    expect(durable).toEqual([])
    await commit.idle()
    expect(durable).toEqual([1])
  })

  it('stops and reports when storage fails', async () => {
    const storage = new CountingStorage()
    const errors: unknown[] = []
    const commit = new CommitLoop({ storage })
    commit.onFailure((err) => errors.push(err))
    const queue = new ChangeCommitQueue({ storage, loop: commit, log: 'crdt', maxDelayMs: 0, cut: () => new Map(), onDurable: () => {} })
    await storage.close()
    queue.enqueue(Uint8Array.of(1))
    await commit.idle()
    expect(errors).toHaveLength(1)
    expect(commit.failed).not.toBeNull()
  })
})

describe('REST writes and group commit', () => {
  let server: MeridianServer
  const storage = new CountingStorage(4)

  beforeAll(async () => {
    server = await startServer({ nodeId: 'gc', groupCommitMaxDelayMs: 2 }, storage)
  })
  afterAll(() => server.close())

  it('[PF2] N concurrent writes cause far fewer than N flushes, and none is acknowledged before its flush', async () => {
    const writes = 60
    // Open the client's connections first, so the writes arrive together rather than at TCP-connect pace.
    await Promise.all(Array.from({ length: writes }, () => http(server.httpUrl, 'GET', '/healthz')))
    const before = storage.flushes
    const violations: string[] = []
    await Promise.all(
      Array.from({ length: writes }, async (_, i) => {
        const res = await http(server.httpUrl, 'PUT', `/v1/notes/doc-${i % 7}`, { i })
        expect(res.json.ack).toBe('local')
        // Single node: the k-th record of the log is this node's change k.
        const seq = decodeVersionVector(Buffer.from(res.json.token as string, 'base64url')).get('gc') ?? 0
        if (storage.durableRecords < seq) violations.push(`seq ${seq} acked with ${storage.durableRecords} records durable`)
      }),
    )
    const flushes = storage.flushes - before
    expect(violations).toEqual([])
    expect(flushes).toBeGreaterThanOrEqual(1)
    expect(flushes).toBeLessThanOrEqual(writes / 4)
  })
})

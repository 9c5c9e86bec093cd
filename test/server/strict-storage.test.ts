/**
 * Strict mode on the one storage engine (docs/design.md §6, "One storage engine"): the strict log, hard
 * state, snapshot and rollback candidates in a `StorageAdapter`, made durable by the node's commit loop,
 * with messages held behind durability barriers. A crash property drives the storage the way the
 * core does and checks [SG1]/[SG2] after a simulated power loss of the file adapter.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryStorageAdapter } from '../../core/storage/index.js'
import type { LogEntry, StrictSnapshot } from '../../core/strict/index.js'
import { openFileStorage, type FileStorageAdapter } from '../../server/storage/file-adapter.js'
import { SNAPSHOT_KEY, StrictStorageError } from '../../server/strict/strict-storage.js'
import { crashCopy, rng } from '../helpers/crash-copy.js'
import { openStrictStorage } from '../helpers/strict-storage.js'
import { CountingStorage } from './counting-storage.js'

const root = mkdtempSync(join(tmpdir(), 'meridian-strict-storage-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let dirCounter = 0
const freshDir = (): string => join(root, `s${++dirCounter}`)

const entry = (lsn: number, epoch = 1, tag = 0): LogEntry => ({ epoch, lsn, op: { kind: 'put', collection: 'accounts', id: `d${lsn}`, value: { tag } } })
const range = (from: number, to: number, epoch = 1): LogEntry[] => Array.from({ length: to - from + 1 }, (_, k) => entry(from + k, epoch))
const snapshotAt = (lsn: number, epoch = 1): StrictSnapshot => ({ lsn, epoch, history: [{ epoch, lsn: 1 }], documents: [[`accounts/s${lsn}`, { value: lsn, version: lsn }]] })
const ticks = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms))

describe('StrictStorage: restart', () => {
  it('gives the next life its hard state, snapshot, entries after it and rollback candidates', async () => {
    const storage = new MemoryStorageAdapter()
    const { store } = await openStrictStorage('eu', storage)
    store.saveHardState({ epoch: 3, votedFor: 'us' })
    store.append(range(1, 10))
    store.saveSnapshot(snapshotAt(4), 4)
    store.saveRollbackCandidates([entry(11, 2)])
    await store.close()
    const again = (await openStrictStorage('eu', storage)).store.restored
    expect(again.hardState).toEqual({ epoch: 3, votedFor: 'us' })
    expect(again.snapshot).toEqual(snapshotAt(4))
    expect(again.entries).toEqual(range(5, 10))
    expect(again.rollbackCandidates).toEqual([entry(11, 2)])
  })

  it('a truncation and a snapshot installed beyond the log keep LSN = index: the next append follows it, also after a restart', async () => {
    const storage = new MemoryStorageAdapter()
    const { store } = await openStrictStorage('eu', storage)
    store.append(range(1, 6))
    store.truncateFrom(4)
    store.append(range(4, 5, 2))
    store.saveSnapshot(snapshotAt(20, 2), 20)
    store.append([entry(21, 2)])
    await store.close()
    const { store: again } = await openStrictStorage('eu', storage)
    expect(again.restored.snapshot?.lsn).toBe(20)
    expect(again.restored.entries).toEqual([entry(21, 2)])
    again.append([entry(22, 2)])
    await again.close()
    expect((await openStrictStorage('eu', storage)).store.restored.entries.map((e) => e.lsn)).toEqual([21, 22])
  })

  it('refuses appends that do not follow the log (a programmer error)', async () => {
    const { store } = await openStrictStorage('eu')
    store.append(range(1, 2))
    expect(() => store.append([entry(4)])).toThrow(RangeError)
  })

  it('a stored snapshot that does not decode stops the start with its key', async () => {
    const storage = new MemoryStorageAdapter()
    await storage.save(SNAPSHOT_KEY, Uint8Array.of(1, 200))
    await expect(openStrictStorage('eu', storage)).rejects.toThrow(StrictStorageError)
    await expect(openStrictStorage('eu', storage)).rejects.toThrow(/"strict","snapshot"/)
  })

  it('rollback records are kept in order and read back', async () => {
    const { store } = await openStrictStorage('eu')
    await store.recordRollback([entry(7, 1)], new Date('2026-01-01T00:00:00Z'))
    await store.recordRollback([entry(8, 1), entry(9, 1)], new Date('2026-01-02T00:00:00Z'))
    const { records, next } = await store.readRollbacks()
    expect(records.map((r) => [r.node, r.lsn, r.at])).toEqual([
      ['eu', 7, '2026-01-01T00:00:00.000Z'],
      ['eu', 8, '2026-01-02T00:00:00.000Z'],
      ['eu', 9, '2026-01-02T00:00:00.000Z'],
    ])
    expect(next).toBeNull()
    // A page at a time.
    const first = await store.readRollbacks(1, 2)
    expect(first.records.map((r) => r.lsn)).toEqual([7, 8])
    expect(first.next).toBe(3)
    expect(await store.readRollbacks(first.next as number, 2)).toEqual({ records: [records[2]], next: null })
  })
})

describe('StrictStorage: durability and ordering', () => {
  it('appends are reported durable only after the commit round that covers them, one round for many', async () => {
    const storage = new CountingStorage(10)
    const { store } = await openStrictStorage('eu', storage)
    const durable: number[] = []
    store.onDurable = (lsn) => durable.push(lsn)
    for (let i = 1; i <= 20; i++) store.append([entry(i)])
    await ticks(2)
    expect(durable).toEqual([])
    await ticks(30)
    expect(durable).toEqual([20])
    expect(storage.flushes).toBe(1)
  })

  it('a message after hard state waits for it to be durable; a message after appends alone does not wait', async () => {
    const storage = new CountingStorage(15)
    const { store } = await openStrictStorage('eu', storage)
    const sent: string[] = []
    store.append([entry(1)])
    store.send(() => sent.push('append'))
    expect(sent).toEqual(['append'])
    store.saveHardState({ epoch: 1, votedFor: 'eu' })
    store.send(() => sent.push('vote'))
    store.append([entry(2)])
    store.send(() => sent.push('after'))
    await ticks(3)
    expect(sent).toEqual(['append'])
    await ticks(40)
    expect(sent).toEqual(['append', 'vote', 'after'])
    expect(storage.flushes).toBeGreaterThanOrEqual(1)
  })

  it('a round overtaken by a truncation is not reported; the next round reports the new entries', async () => {
    const storage = new CountingStorage(10)
    const { store } = await openStrictStorage('eu', storage)
    const durable: number[] = []
    store.onDurable = (lsn) => durable.push(lsn)
    store.append(range(1, 5))
    await ticks(2)
    store.truncateFrom(3)
    store.append(range(3, 4, 2))
    await ticks(60)
    expect(durable).toEqual([4])
  })

  it('a failed commit round (whichever participant it served) fails the strict log too: nothing more is reported durable', async () => {
    class FailingFlush extends MemoryStorageAdapter {
      override flush(): Promise<void> {
        return Promise.reject(new Error('fsync failed'))
      }
    }
    const { store } = await openStrictStorage('eu', new FailingFlush())
    const failures: Error[] = []
    const durable: number[] = []
    store.onFailure = (err) => failures.push(err)
    store.onDurable = (lsn) => durable.push(lsn)
    store.append([entry(1)])
    await ticks(10)
    expect(failures.map((e) => e.message)).toEqual(['fsync failed'])
    expect(durable).toEqual([])
  })

  it('a failed save stops every later effect and reports the failure once', async () => {
    const storage = new MemoryStorageAdapter()
    const { store } = await openStrictStorage('eu', storage)
    const failures: Error[] = []
    store.onFailure = (err) => failures.push(err)
    const sent: string[] = []
    await storage.close()
    store.saveHardState({ epoch: 1, votedFor: 'eu' })
    store.send(() => sent.push('vote'))
    await ticks(10)
    expect(sent).toEqual([])
    expect(failures).toHaveLength(1)
  })
})

/**
 * The crash property. A random run of the calls the core makes, with waits between them, then a power
 * loss of the file adapter (crashCopy: unsynced bytes partly kept, torn, or lost). After reopening:
 * - every entry ever reported durable, and not cut since, is there unchanged, above the snapshot;
 * - the hard state, snapshot and candidates are at least those that a delivered message depended on;
 * - the restored log is dense and usable (the next append follows it, and it reopens again).
 */
describe('StrictStorage over the file adapter: crash property [SG1] [SG2]', () => {
  type Step =
    | { kind: 'append'; count: number }
    | { kind: 'truncate'; back: number }
    | { kind: 'hard-state' }
    | { kind: 'compact'; back: number }
    | { kind: 'install'; ahead: number }
    | { kind: 'candidates' }
    | { kind: 'send' }
    | { kind: 'wait'; ms: number }
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('hard-state' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.integer({ min: 0, max: 5 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('install' as const), ahead: fc.integer({ min: 1, max: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('candidates' as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('send' as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3 }) }) },
  )

  it('recovers everything reported durable or depended on by a delivered message', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (steps, seed) => {
        const dir = freshDir()
        const storage = (await openFileStorage(dir, { segmentBytes: 160 })) as FileStorageAdapter
        const { store } = await openStrictStorage('eu', storage)
        // The model: the log as the node sees it, and what is owed after a crash.
        const log = new Map<number, LogEntry>()
        let last = 0
        let snapshotLsn = 0
        let epoch = 0
        let durable = 0
        let candidates: LogEntry[] = []
        // What each effect so far requires, and what the delivered messages require.
        let pending = { epoch: 0, snapshotLsn: 0, candidates: 0 }
        const owed = { epoch: 0, snapshotLsn: 0, candidates: 0 }
        store.onDurable = (lsn) => {
          durable = Math.max(durable, lsn)
        }
        let tag = 0
        for (const s of steps) {
          switch (s.kind) {
            case 'append': {
              const entries = Array.from({ length: s.count }, (_, k) => entry(last + 1 + k, Math.max(1, epoch), ++tag))
              store.append(entries)
              for (const e of entries) log.set(e.lsn, e)
              last += s.count
              break
            }
            case 'truncate': {
              const from = Math.max(snapshotLsn + 1, last + 1 - s.back)
              store.truncateFrom(from)
              for (let lsn = from; lsn <= last; lsn++) log.delete(lsn)
              last = Math.max(snapshotLsn, from - 1)
              durable = Math.min(durable, last)
              break
            }
            case 'hard-state':
              epoch += 1
              store.saveHardState({ epoch, votedFor: 'eu' })
              pending = { ...pending, epoch }
              break
            case 'compact': {
              const at = Math.max(snapshotLsn, last - s.back)
              if (at <= snapshotLsn) break
              store.saveSnapshot(snapshotAt(at), at)
              snapshotLsn = at
              pending = { ...pending, snapshotLsn: at }
              break
            }
            case 'install': {
              // A replica far behind: its log is cut above what it holds committed, then reset to the snapshot.
              const at = last + s.ahead
              store.saveSnapshot(snapshotAt(at), at)
              for (let lsn = 1; lsn <= at; lsn++) log.delete(lsn)
              snapshotLsn = at
              last = at
              pending = { ...pending, snapshotLsn: at }
              break
            }
            case 'candidates':
              candidates = [...candidates, entry(1000 + candidates.length, 9)]
              store.saveRollbackCandidates(candidates)
              pending = { ...pending, candidates: candidates.length }
              break
            case 'send': {
              const requires = pending
              store.send(() => {
                owed.epoch = Math.max(owed.epoch, requires.epoch)
                owed.snapshotLsn = Math.max(owed.snapshotLsn, requires.snapshotLsn)
                owed.candidates = Math.max(owed.candidates, requires.candidates)
              })
              break
            }
            case 'wait':
              await ticks(s.ms)
              break
          }
        }
        // What is owed at the instant of the crash (closing below still delivers held messages).
        const owedEntries = [...log.values()].filter((e) => e.lsn <= durable)
        const owedAtCrash = { ...owed }
        const copy = crashCopy(storage, freshDir(), rng(seed))
        await store.close().catch(() => {})
        await storage.abandon()
        const reopened = await openFileStorage(copy, { segmentBytes: 160 })
        const { store: again } = await openStrictStorage('eu', reopened)
        const r = again.restored
        const restoredSnapshot = r.snapshot?.lsn ?? 0
        expect(r.hardState.epoch).toBeGreaterThanOrEqual(owedAtCrash.epoch)
        expect(restoredSnapshot).toBeGreaterThanOrEqual(owedAtCrash.snapshotLsn)
        expect(r.rollbackCandidates.length).toBeGreaterThanOrEqual(owedAtCrash.candidates)
        const byLsn = new Map(r.entries.map((e) => [e.lsn, e]))
        for (const e of owedEntries) if (e.lsn > restoredSnapshot) expect(byLsn.get(e.lsn)).toEqual(e)
        // Usable: the next append follows the restored log, and a second life sees it.
        const next = Math.max(restoredSnapshot, r.entries.at(-1)?.lsn ?? 0) + 1
        again.append([entry(next, 99)])
        await again.close()
        const third = (await openStrictStorage('eu', reopened)).store.restored
        expect(third.entries.at(-1)).toEqual(entry(next, 99))
        await reopened.close()
      }),
      { numRuns: 60 },
    )
  }, 120_000)
})

import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { LogEntry, StrictSnapshot } from '../../core/strict/index.js'
import {
  memoryStrictStore,
  openStrictStore,
  type FileStrictStore,
  type StrictStore,
  type StrictStoreOptions,
  type StrictSyncEvent,
} from '../../server/strict/strict-store.js'
import { walSegmentName } from '../../server/strict/strict-wal.js'
import { frameJson } from '../../server/strict/sync-files.js'

const root = mkdtempSync(join(tmpdir(), 'meridian-strict-store-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let dirCounter = 0
const freshDir = (): string => join(root, `s${++dirCounter}`)

const entry = (epoch: number, lsn: number, tag = ''): LogEntry => ({
  epoch,
  lsn,
  op: { kind: 'put', collection: 'accounts', id: `a${lsn}`, value: { lsn, tag } },
})
const range = (from: number, to: number, epoch = 1, tag = ''): LogEntry[] => {
  const out: LogEntry[] = []
  for (let lsn = from; lsn <= to; lsn++) out.push(entry(epoch, lsn, tag))
  return out
}
const snapshotAt = (lsn: number, epoch = 1): StrictSnapshot => ({
  lsn,
  epoch,
  history: [{ epoch, lsn: 1 }],
  documents: [[`accounts/a${lsn}`, { value: { lsn }, version: lsn }]],
})

const walFiles = (dir: string): string[] => readdirSync(join(dir, 'wal')).sort()
const lastWalFile = (dir: string): string => join(dir, 'wal', walFiles(dir).at(-1) as string)

/** Records every sync event; `hold` makes flush rounds wait until released. */
function syncRecorder() {
  const events: StrictSyncEvent[] = []
  let gate: Promise<void> | null = null
  let release = (): void => {}
  let roundStarted = (): void => {}
  let started: Promise<void> = Promise.resolve()
  const onSync = (event: StrictSyncEvent): void | Promise<void> => {
    events.push(event)
    if (event.reason === 'flush') {
      roundStarted()
      if (gate !== null) return gate
    }
    return undefined
  }
  return {
    events,
    onSync,
    flushRounds: () => events.filter((e) => e.reason === 'flush').length,
    flushFileSyncs: () => events.filter((e) => e.reason === 'flush').reduce((n, e) => n + e.fileSyncs, 0),
    /** Holds the next rounds in flight; resolves `started` when one begins. */
    hold(): void {
      gate = new Promise((resolve) => {
        release = () => {
          gate = null
          resolve()
        }
      })
      started = new Promise((resolve) => (roundStarted = resolve))
    },
    started: () => started,
    release: () => release(),
  }
}

// ------------------------------------------------------------------------------------------------
// The contract both stores keep (nothing here reopens)

function contract(name: string, make: (options: StrictStoreOptions) => Promise<StrictStore>) {
  describe(`${name}: StrictStore contract`, () => {
    it('restores nothing when new', async () => {
      const store = await make({ nodeId: 'eu' })
      expect(store.restored).toEqual({ hardState: { epoch: 0, votedFor: null }, snapshot: null, entries: [], rollbackCandidates: [] })
      expect(store.stats()).toMatchObject({ entries: 0, firstLsn: 0, lastLsn: 0, snapshotLsn: 0 })
      expect(await store.flush()).toBe(0)
      await store.close()
    })

    it('flush resolves with the last LSN appended; stats follow', async () => {
      const store = await make({ nodeId: 'eu' })
      store.append(range(1, 3))
      store.append(range(4, 10))
      expect(await store.flush()).toBe(10)
      expect(store.stats()).toMatchObject({ entries: 10, firstLsn: 1, lastLsn: 10, snapshotLsn: 0 })
      store.append([entry(2, 11)])
      expect(await store.flush()).toBe(11)
      await store.close()
    })

    it('refuses entries that are not dense or do not follow the log', async () => {
      const store = await make({ nodeId: 'eu' })
      expect(() => store.append([entry(1, 2)])).toThrow(RangeError)
      store.append(range(1, 3))
      expect(() => store.append([entry(1, 3)])).toThrow(RangeError)
      expect(() => store.append([entry(1, 4), entry(1, 6)])).toThrow(RangeError)
      expect(await store.flush()).toBe(3)
      await store.close()
    })

    it('200 concurrent flush() calls share a round', async () => {
      const sync = syncRecorder()
      const store = await make({ nodeId: 'eu', onSync: sync.onSync })
      const flushes: Promise<number | null>[] = []
      for (let lsn = 1; lsn <= 200; lsn++) {
        store.append([entry(1, lsn)])
        flushes.push(store.flush())
      }
      const results = await Promise.all(flushes)
      expect(new Set(results)).toEqual(new Set([200]))
      expect(sync.flushRounds()).toBeLessThanOrEqual(3)
      expect(sync.flushFileSyncs()).toBeLessThanOrEqual(3)
      await store.close()
    })

    it('flushes called during a round wait for the next one, all of them sharing it', async () => {
      const sync = syncRecorder()
      const store = await make({ nodeId: 'eu', onSync: sync.onSync })
      store.append(range(1, 5))
      sync.hold()
      const first = store.flush()
      await sync.started()
      const later: Promise<number | null>[] = []
      for (let lsn = 6; lsn <= 105; lsn++) {
        store.append([entry(1, lsn)])
        later.push(store.flush())
      }
      expect(sync.flushRounds()).toBe(1)
      sync.release()
      expect(await first).toBe(5)
      expect(new Set(await Promise.all(later))).toEqual(new Set([105]))
      expect(sync.flushRounds()).toBe(2)
      await store.close()
    })

    it('a truncation after a flush was called makes that flush resolve null', async () => {
      const sync = syncRecorder()
      const store = await make({ nodeId: 'eu', onSync: sync.onSync })
      store.append(range(1, 10))
      // Called in the same turn: the truncation lands before the round even starts.
      const early = store.flush()
      store.truncateFrom(8)
      expect(await early).toBeNull()
      // A round in flight when the truncation lands.
      sync.hold()
      const inFlight = store.flush()
      await sync.started()
      store.truncateFrom(5)
      store.append(range(5, 6, 2))
      sync.release()
      expect(await inFlight).toBeNull()
      expect(await store.flush()).toBe(6)
      expect(store.stats()).toMatchObject({ lastLsn: 6 })
      await store.close()
    })

    it('truncation then appends at the same LSNs', async () => {
      const store = await make({ nodeId: 'eu' })
      store.append(range(1, 10))
      expect(await store.flush()).toBe(10)
      store.truncateFrom(6)
      expect(store.stats()).toMatchObject({ lastLsn: 5 })
      expect(() => store.append([entry(2, 7)])).toThrow(RangeError)
      store.append(range(6, 8, 2))
      expect(await store.flush()).toBe(8)
      store.truncateFrom(100) // nothing to cut
      expect(store.stats()).toMatchObject({ lastLsn: 8 })
      await store.close()
    })

    it('a snapshot beyond the log moves the append point past it', async () => {
      const store = await make({ nodeId: 'eu' })
      store.append(range(1, 5))
      store.saveSnapshot(snapshotAt(50), 50)
      expect(store.stats()).toMatchObject({ lastLsn: 50, snapshotLsn: 50 })
      expect(() => store.append([entry(1, 6)])).toThrow(RangeError)
      store.append(range(51, 53))
      expect(await store.flush()).toBe(53)
      expect(store.stats()).toMatchObject({ entries: 3, firstLsn: 51, lastLsn: 53 })
      await store.close()
    })

    it('records rollbacks and reads them back', async () => {
      const store = await make({ nodeId: 'us' })
      expect(await store.readRollbacks()).toEqual([])
      const at = new Date('2025-01-02T03:04:05.678Z')
      const path = await store.recordRollback([entry(3, 7), entry(3, 8)], at)
      expect(path).toMatch(/rollback\/rollback\.jsonl$/)
      await store.recordRollback([entry(4, 9)], new Date('2025-01-02T03:04:06.000Z'))
      const records = await store.readRollbacks()
      expect(records).toEqual([
        { at: '2025-01-02T03:04:05.678Z', node: 'us', epoch: 3, lsn: 7, op: entry(3, 7).op },
        { at: '2025-01-02T03:04:05.678Z', node: 'us', epoch: 3, lsn: 8, op: entry(3, 8).op },
        { at: '2025-01-02T03:04:06.000Z', node: 'us', epoch: 4, lsn: 9, op: entry(4, 9).op },
      ])
      await store.close()
    })

    it('refuses work once closed', async () => {
      const store = await make({ nodeId: 'eu' })
      await store.close()
      expect(() => store.append([entry(1, 1)])).toThrow(/closed/)
      await expect(store.flush()).rejects.toThrow(/closed/)
      await store.close()
    })
  })
}

contract('file', (options) => openStrictStore(freshDir(), options))
contract('memory', (options) => Promise.resolve(memoryStrictStore(options)))

// ------------------------------------------------------------------------------------------------
// The file store across restarts

describe('openStrictStore: durability across reopen', () => {
  it('append, flush, reopen: the entries come back', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 4))
    store.append(range(5, 12, 2))
    expect(await store.flush()).toBe(12)
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual([...range(1, 4), ...range(5, 12, 2)])
    expect(again.recovery).toMatchObject({ bytesTruncated: 0, segmentsDropped: 0, warnings: [] })
    again.append([entry(2, 13)])
    expect(await again.flush()).toBe(13)
    await again.close()
    const third = await openStrictStore(dir, { nodeId: 'eu' })
    expect(third.restored.entries.map((e) => e.lsn)).toEqual(range(1, 13).map((e) => e.lsn))
    expect(third.stats()).toMatchObject({ entries: 13, firstLsn: 1, lastLsn: 13 })
    expect(third.stats().walBytes).toBe(statSync(lastWalFile(dir)).size)
    await third.close()
  })

  it('hard state, snapshot and rollback candidates round-trip', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.saveHardState({ epoch: 3, votedFor: 'us' })
    store.saveHardState({ epoch: 4, votedFor: null })
    const snapshot = snapshotAt(0)
    store.saveSnapshot(snapshot, 0)
    const candidates = [entry(2, 5, 'cut'), entry(2, 6, 'cut')]
    store.saveRollbackCandidates(candidates)
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored).toEqual({ hardState: { epoch: 4, votedFor: null }, snapshot, entries: [], rollbackCandidates: candidates })
    again.saveRollbackCandidates([])
    await again.close()
    expect((await openStrictStore(dir, { nodeId: 'eu' })).restored.rollbackCandidates).toEqual([])
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('request keys round-trip: on log entries and in snapshots (absent stays absent)', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    const snapshot: StrictSnapshot = { ...snapshotAt(2), requestKeys: [['c1:x:1', { epoch: 1, lsn: 2 }]] }
    store.saveSnapshot(snapshot, 2)
    const keyed: LogEntry = { ...entry(1, 3), requestKey: 'c1:x:2' }
    store.append([keyed, entry(1, 4)])
    expect(await store.flush()).toBe(4)
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.snapshot).toEqual(snapshot)
    expect(again.restored.entries).toEqual([keyed, entry(1, 4)])
    expect(again.restored.entries[1]).not.toHaveProperty('requestKey')
    await again.close()
  })

  it('truncateFrom, then new entries at the same LSNs: reopen shows the new ones (across segments)', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 400 })
    store.append(range(1, 30, 1, 'old'))
    expect(await store.flush()).toBe(30)
    const segmentsBefore = walFiles(dir).length
    expect(segmentsBefore).toBeGreaterThan(3)
    store.truncateFrom(12)
    expect(walFiles(dir).length).toBeLessThan(segmentsBefore)
    store.append(range(12, 15, 2, 'new'))
    expect(await store.flush()).toBe(15)
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 400 })
    expect(again.restored.entries).toEqual([...range(1, 11, 1, 'old'), ...range(12, 15, 2, 'new')])
    expect(again.recovery.warnings).toEqual([])
    await again.close()
  })

  it('a truncation inside a segment cuts the file itself (a clean reopen does not bring the cut entries back)', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 10))
    expect(await store.flush()).toBe(10)
    const size = statSync(lastWalFile(dir)).size
    store.truncateFrom(4)
    expect(statSync(lastWalFile(dir)).size).toBeLessThan(size)
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual(range(1, 3))
    // Shorter entries at the same LSNs leave no stale bytes behind them either.
    again.truncateFrom(2)
    again.append([{ epoch: 2, lsn: 2, op: { kind: 'noop' } }])
    await again.close()
    const third = await openStrictStore(dir, { nodeId: 'eu' })
    expect(third.restored.entries).toEqual([entry(1, 1), { epoch: 2, lsn: 2, op: { kind: 'noop' } }])
    expect(third.recovery.bytesTruncated).toBe(0)
    await third.close()
  })

  it('a truncation is durable without a flush after it', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 300 })
    store.append(range(1, 20))
    expect(await store.flush()).toBe(20)
    store.truncateFrom(9)
    await store.simulateCrash()
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual(range(1, 8))
    await again.close()
  })

  it('what was never flushed is lost in a crash, what was flushed is not', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 500 })
    store.append(range(1, 10))
    expect(await store.flush()).toBe(10)
    store.append(range(11, 25))
    await store.simulateCrash()
    const again = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 500 })
    expect(again.restored.entries).toEqual(range(1, 10))
    again.append(range(11, 12, 2))
    expect(await again.flush()).toBe(12)
    await again.close()
  })

  it('snapshot + prune deletes old segments; reopen restores the snapshot and the entries after it', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 400 })
    store.append(range(1, 30))
    expect(await store.flush()).toBe(30)
    const before = walFiles(dir)
    const snapshot = snapshotAt(20)
    store.saveSnapshot(snapshot, 20)
    const after = walFiles(dir)
    expect(after.length).toBeLessThan(before.length)
    // Every segment left holds an entry above the pruning point; the first may start below it.
    expect(Number(after[0]?.slice(0, 20))).toBeLessThanOrEqual(21)
    expect(store.stats().firstLsn).toBeGreaterThan(1)
    store.append(range(31, 35))
    expect(await store.flush()).toBe(35)
    // After a snapshot the next append starts a fresh segment.
    expect(walFiles(dir)).toContain(walSegmentName(31))
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 400 })
    expect(again.restored.snapshot).toEqual(snapshot)
    expect(again.restored.entries).toEqual(range(21, 35))
    // A later snapshot lets the segments before the fresh one go entirely.
    again.saveSnapshot(snapshotAt(30), 30)
    expect(walFiles(dir)[0]).toBe(walSegmentName(31))
    expect(again.stats()).toMatchObject({ firstLsn: 31, entries: 5, lastLsn: 35 })
    await again.close()
    const third = await openStrictStore(dir, { nodeId: 'eu' })
    expect(third.restored.snapshot?.lsn).toBe(30)
    expect(third.restored.entries).toEqual(range(31, 35))
    await third.close()
  })

  it('a snapshot installed beyond the log: old segments go, the log resumes after it', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 5))
    expect(await store.flush()).toBe(5)
    store.saveSnapshot(snapshotAt(50), 50)
    expect(walFiles(dir)).toEqual([])
    store.append(range(51, 52))
    expect(await store.flush()).toBe(52)
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.snapshot?.lsn).toBe(50)
    expect(again.restored.entries).toEqual(range(51, 52))
    await again.close()
  })

  it('entries the snapshot covers are skipped even when their segment is kept', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 10))
    expect(await store.flush()).toBe(10)
    store.saveSnapshot(snapshotAt(8), 6) // compaction: prunes less than the snapshot covers
    expect(walFiles(dir)).toEqual([walSegmentName(1)])
    // The segment has room, but after a snapshot the next append starts a new one.
    store.append([entry(1, 11)])
    expect(walFiles(dir)).toEqual([walSegmentName(1), walSegmentName(11)])
    store.truncateFrom(11)
    expect(walFiles(dir)).toEqual([walSegmentName(1)])
    await store.close()
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual(range(9, 10))
    expect(again.stats()).toMatchObject({ firstLsn: 1, lastLsn: 10, snapshotLsn: 8, entries: 10 })
    await again.close()
  })

  it('torn tail: garbage after the last record is cut off', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 6))
    expect(await store.flush()).toBe(6)
    await store.close()
    const file = lastWalFile(dir)
    const good = statSync(file).size
    appendFileSync(file, Buffer.from([7, 0, 0, 0, 200, 1, 2, 3, 4, 5]))
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual(range(1, 6))
    expect(again.recovery.bytesTruncated).toBe(10)
    expect(statSync(file).size).toBe(good)
    again.append([entry(1, 7)])
    expect(await again.flush()).toBe(7)
    await again.close()
    expect((await openStrictStore(dir, { nodeId: 'eu' })).restored.entries).toEqual(range(1, 7))
  })

  it('torn tail: the last record cut in half is dropped, the prefix kept', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 6))
    expect(await store.flush()).toBe(6)
    await store.close()
    const file = lastWalFile(dir)
    const size = statSync(file).size
    const lastRecord = 8 + Buffer.byteLength(JSON.stringify(entry(1, 6)))
    truncateSync(file, size - Math.floor(lastRecord / 2))
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual(range(1, 5))
    expect(again.recovery.warnings).toEqual([])
    expect(statSync(file).size).toBe(size - lastRecord)
    again.append([entry(2, 6)])
    expect(await again.flush()).toBe(6)
    await again.close()
  })

  it('a corrupt record ends the log there; segments after it that no longer follow on are deleted', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu', segmentBytes: 300 })
    store.append(range(1, 20))
    expect(await store.flush()).toBe(20)
    await store.close()
    const files = walFiles(dir)
    expect(files.length).toBeGreaterThan(2)
    const second = join(dir, 'wal', files[1] as string)
    const bytes = readFileSync(second)
    const firstLsnOfSecond = Number(files[1]?.slice(0, 20))
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff // inside the segment's last record
    writeFileSync(second, bytes)
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    const kept = again.restored.entries.map((e) => e.lsn)
    expect(kept[0]).toBe(1)
    expect(kept.at(-1)).toBeGreaterThanOrEqual(firstLsnOfSecond)
    expect(kept).toEqual(range(1, kept.at(-1) as number).map((e) => e.lsn))
    expect(again.recovery.warnings.join('\n')).toMatch(/checksum/)
    expect(again.recovery.segmentsDropped).toBe(files.length - 2)
    expect(walFiles(dir)).toEqual(files.slice(0, 2))
    await again.close()
  })

  it('a well-framed record with the wrong LSN ends the segment', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 3))
    expect(await store.flush()).toBe(3)
    await store.close()
    const file = lastWalFile(dir)
    const good = statSync(file).size
    appendFileSync(file, Buffer.concat([frameJson(entry(1, 5)), frameJson(entry(1, 6))]))
    appendFileSync(file, frameJson({ not: 'an entry' }))
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual(range(1, 3))
    expect(again.recovery.warnings.join('\n')).toMatch(/LSN 5 where 4 was expected/)
    expect(statSync(file).size).toBe(good)
    await again.close()
  })

  it('a segment that does not follow on (an LSN gap) is dropped', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.append(range(1, 3))
    expect(await store.flush()).toBe(3)
    await store.close()
    // A stray segment starting at 10: entries 4..9 are missing.
    const other = await openStrictStore(freshDir(), { nodeId: 'eu' })
    other.saveSnapshot(snapshotAt(9), 9)
    other.append(range(10, 11))
    await other.flush()
    const strayDir = other.dir
    await other.close()
    writeFileSync(join(dir, 'wal', walSegmentName(10)), readFileSync(join(strayDir, 'wal', walSegmentName(10))))
    const again = await openStrictStore(dir, { nodeId: 'eu' })
    expect(again.restored.entries).toEqual(range(1, 3))
    expect(again.recovery.segmentsDropped).toBe(1)
    expect(again.recovery.warnings.join('\n')).toMatch(/does not follow/)
    expect(walFiles(dir)).toEqual([walSegmentName(1)])
    await again.close()
  })

  it('an I/O error fails the store: flush rejects, then and later, and nothing more is reported durable', async () => {
    let fail = false
    const store = await openStrictStore(freshDir(), {
      nodeId: 'eu',
      onSync: (event) => {
        if (fail && event.reason === 'flush') throw new Error('EIO: simulated')
      },
    })
    store.append(range(1, 3))
    expect(await store.flush()).toBe(3)
    fail = true
    store.append(range(4, 5))
    await expect(store.flush()).rejects.toThrow(/EIO/)
    fail = false
    expect(() => store.append(range(6, 7))).not.toThrow()
    await expect(store.flush()).rejects.toThrow(/EIO/)
    await store.close()
  })

  it('a failed synchronous save throws', async () => {
    const store = await openStrictStore(freshDir(), {
      nodeId: 'eu',
      onSync: (event) => {
        if (event.reason === 'hard-state') throw new Error('ENOSPC: simulated')
      },
    })
    expect(() => store.saveHardState({ epoch: 1, votedFor: 'eu' })).toThrow(/ENOSPC/)
    await expect(store.flush()).rejects.toThrow(/ENOSPC/)
    await store.close()
  })

  it('the rollback file survives a reopen and a torn last line', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'ap' })
    const path = await store.recordRollback([entry(2, 4)], new Date(0))
    expect(path).toBe(join(dir, 'rollback', 'rollback.jsonl'))
    await store.close()
    appendFileSync(path, '{"at":"1970-01-01T00:00:00.000Z","no')
    const again = await openStrictStore(dir, { nodeId: 'ap' })
    await again.recordRollback([entry(3, 5)], new Date(1000))
    const records = await again.readRollbacks()
    expect(records.map((r) => `${r.node}@${r.epoch}:${r.lsn}@${r.at}`)).toEqual([
      'ap@2:4@1970-01-01T00:00:00.000Z',
      'ap@3:5@1970-01-01T00:00:01.000Z',
    ])
    expect(readFileSync(path, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(3)
    await again.close()
  })

  it('refuses a directory that holds something else, or another format', async () => {
    const foreign = freshDir()
    const seed = await openStrictStore(foreign, { nodeId: 'eu' })
    await seed.close()
    writeFileSync(join(foreign, 'FORMAT'), 'something else\n')
    await expect(openStrictStore(foreign, { nodeId: 'eu' })).rejects.toThrow(/expected/)
    const busy = freshDir()
    const other = await openStrictStore(join(busy, 'inner'), { nodeId: 'eu' })
    await other.close()
    writeFileSync(join(busy, 'notes.txt'), 'hello')
    await expect(openStrictStore(busy, { nodeId: 'eu' })).rejects.toThrow(/not a Meridian strict store/)
  })

  it('a corrupt hard state stops the open', async () => {
    const dir = freshDir()
    const store = await openStrictStore(dir, { nodeId: 'eu' })
    store.saveHardState({ epoch: 2, votedFor: 'eu' })
    await store.close()
    const file = join(dir, 'hard-state.rec')
    const bytes = readFileSync(file)
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 0x01
    writeFileSync(file, bytes)
    await expect(openStrictStore(dir, { nodeId: 'eu' })).rejects.toThrow(/checksum/)
  })
})

// ------------------------------------------------------------------------------------------------
// Property: after a crash, the store restores exactly what was flushed and not cut since

type Op =
  | { readonly t: 'append'; readonly n: number; readonly bump: boolean }
  | { readonly t: 'flush' }
  | { readonly t: 'truncate'; readonly back: number }
  | { readonly t: 'snapshot'; readonly back: number; readonly ahead: number; readonly pruneBack: number }
  | { readonly t: 'hard'; readonly epoch: number }
  | { readonly t: 'crash'; readonly torn: number | null }
  | { readonly t: 'reopen' }
  | { readonly t: 'racy'; readonly back: number; readonly n: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('append' as const), n: fc.integer({ min: 1, max: 4 }), bump: fc.boolean() }) },
  { weight: 3, arbitrary: fc.constant({ t: 'flush' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 6 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('snapshot' as const),
      back: fc.integer({ min: 0, max: 6 }),
      ahead: fc.integer({ min: 0, max: 3 }),
      pruneBack: fc.integer({ min: 0, max: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('hard' as const), epoch: fc.integer({ min: 0, max: 50 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('crash' as const), torn: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('racy' as const), back: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 0, max: 3 }) }) },
)

describe('openStrictStore: crash property', () => {
  it('after any crash the restored log is the durable prefix (dense, after the snapshot)', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const dir = join(root, `prop${++run}`)
        const options = { nodeId: 'eu', segmentBytes: 350 }
        let store: FileStrictStore = await openStrictStore(dir, options)
        // The model.
        let log: LogEntry[] = [] // entries above the snapshot... and below it, as the node's log holds them
        let durable = 0
        let snapshotLsn = 0
        let epoch = 1
        let hard = { epoch: 0, votedFor: null as string | null }
        let tag = 0
        const last = (): number => Math.max(snapshotLsn, log.at(-1)?.lsn ?? 0)
        try {
          for (const op of ops) {
            switch (op.t) {
              case 'append': {
                if (op.bump) epoch += 1
                const fresh = range(last() + 1, last() + op.n, epoch, `t${++tag}`)
                store.append(fresh)
                log = [...log, ...fresh]
                break
              }
              case 'flush': {
                const lsn = await store.flush()
                expect(lsn).toBe(last())
                durable = last()
                break
              }
              case 'truncate': {
                const from = last() + 1 - op.back
                if (from <= snapshotLsn) break // the node never cuts what a snapshot covers
                store.truncateFrom(from)
                log = log.filter((e) => e.lsn < from)
                durable = Math.min(durable, from - 1)
                break
              }
              case 'racy': {
                // flush, then a truncation (and appends) before it resolves: the flush must say null.
                const from = last() + 1 - op.back
                if (from <= snapshotLsn) break
                const pending = store.flush()
                store.truncateFrom(from)
                log = log.filter((e) => e.lsn < from)
                const fresh = range(from, from + op.n - 1, ++epoch, `t${++tag}`)
                store.append(fresh)
                log = [...log, ...fresh]
                expect(await pending).toBeNull()
                // Its round started after this turn's synchronous calls, so it did cover all of them.
                durable = last()
                break
              }
              case 'snapshot': {
                const lsn = Math.max(0, last() - op.back) + op.ahead
                if (lsn <= snapshotLsn) break
                store.saveSnapshot(snapshotAt(lsn, epoch), Math.max(0, lsn - op.pruneBack))
                snapshotLsn = lsn
                break
              }
              case 'hard': {
                hard = { epoch: op.epoch, votedFor: op.epoch % 2 === 0 ? null : 'us' }
                store.saveHardState(hard)
                break
              }
              case 'crash': {
                const torn = op.torn
                await store.simulateCrash(torn === null ? undefined : (unsynced) => (torn * unsynced) / 1000)
                store = await openStrictStore(dir, options)
                const restored = store.restored
                expect(restored.hardState).toEqual(hard)
                expect(restored.snapshot?.lsn ?? 0).toBe(snapshotLsn)
                const lsns = restored.entries.map((e) => e.lsn)
                lsns.forEach((lsn, i) => expect(lsn).toBe(snapshotLsn + 1 + i))
                const expected = log.filter((e) => e.lsn > snapshotLsn && e.lsn <= durable)
                if (torn === null) {
                  expect(restored.entries).toEqual(expected)
                } else {
                  // Some unsynced bytes may survive: a longer prefix of the log, never less than the durable one.
                  expect(restored.entries.slice(0, expected.length)).toEqual(expected)
                  expect(restored.entries).toEqual(log.filter((e) => e.lsn > snapshotLsn).slice(0, restored.entries.length))
                }
                const restoredLast = restored.entries.at(-1)?.lsn ?? 0
                log = log.filter((e) => e.lsn <= Math.max(restoredLast, snapshotLsn))
                durable = Math.max(restoredLast, snapshotLsn)
                expect(store.stats().lastLsn).toBe(last())
                break
              }
              case 'reopen': {
                // A clean close: no power loss, so everything written (flushed or not) is still there.
                await store.close()
                store = await openStrictStore(dir, options)
                expect(store.restored.entries).toEqual(log.filter((e) => e.lsn > snapshotLsn))
                expect(store.recovery).toMatchObject({ bytesTruncated: 0, warnings: [] })
                durable = last()
                break
              }
            }
          }
        } finally {
          await store.close()
          rmSync(dir, { recursive: true, force: true })
        }
      }),
      { numRuns: 40 },
    )
  })
})

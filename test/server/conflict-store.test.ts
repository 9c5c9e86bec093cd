/**
 * The conflict store (docs/crdt.md, "Conflict records"): bounds, cursors that only grow, and records that
 * survive a restart through storage, with the round trip checked on the memory adapter after a crash.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeStoredConflict, encodeStoredConflict, type ConflictRecord, type StoredConflict } from '../../core/crdt/index.js'
import { MemoryStorageAdapter } from '../../core/storage/index.js'
import { CONFLICT_PREFIX, ConflictStore } from '../../server/conflict-store.js'

function record(docId: string, n: number, collection = 'c'): ConflictRecord {
  const side = (origin: string) => ({ origin, hlc: { wallMs: n, counter: 0, node: origin }, value: n, deleted: false })
  return { collection, docId, field: 'f', winner: side('w'), loser: side('l') }
}

const memory = (perDocument: number, total: number, storage?: MemoryStorageAdapter) =>
  new ConflictStore({ perDocument, total, wallClock: () => 1_000, ...(storage === undefined ? {} : { storage }) })

describe('ConflictStore', () => {
  it('keeps at most perDocument records per document, newest last', () => {
    const store = memory(3, 100)
    for (let n = 1; n <= 5; n++) store.add(record('d', n))
    expect(store.of('c', 'd').map((r) => r.winner.value)).toEqual([3, 4, 5])
    expect(store.size).toBe(3)
  })

  it('keeps at most total records, taking from the document with the oldest last conflict', () => {
    const store = memory(10, 4)
    store.add(record('old', 1))
    store.add(record('old', 2))
    store.add(record('new', 3))
    store.add(record('new', 4))
    store.add(record('new', 5))
    expect(store.size).toBe(4)
    expect(store.of('c', 'old').map((r) => r.winner.value)).toEqual([2])
    store.add(record('new', 6))
    expect(store.of('c', 'old')).toEqual([])
    expect(store.of('c', 'new').map((r) => r.winner.value)).toEqual([3, 4, 5, 6])
  })

  it('returns copies', () => {
    const store = memory(10, 10)
    store.add(record('d', 1))
    store.of('c', 'd').pop()
    expect(store.of('c', 'd')).toHaveLength(1)
  })

  it('keeps one record per conflict: a replayed observation is not added again', () => {
    const store = memory(10, 10)
    expect(store.add(record('d', 1))?.cursor).toBe(1)
    expect(store.add(record('d', 1))).toBeNull()
    expect(store.size).toBe(1)
  })

  it('lists a collection oldest first in pages, next = the last cursor, and filters resolved records', () => {
    const store = memory(10, 100)
    for (let n = 1; n <= 5; n++) store.add(record(`d${n % 2}`, n))
    store.add(record('x', 6, 'other'))
    const first = store.list('c', 0, 2)
    expect(first.conflicts.map((r) => r.cursor)).toEqual([1, 2])
    expect(first.next).toBe(2)
    const second = store.list('c', first.next, 10)
    expect(second.conflicts.map((r) => r.cursor)).toEqual([3, 4, 5])
    expect(store.list('c', second.next, 10)).toEqual({ conflicts: [], next: 5 })
    const resolution = { value: 'x', deleted: false, origin: 'n', seq: 1, hlc: { wallMs: 9, counter: 0, node: 'n' }, atMs: 2_000 }
    expect(store.resolve(3, resolution)).toMatchObject({ cursor: 3, resolved: true, resolution })
    expect(store.list('c', 0, 10, true).conflicts.map((r) => r.cursor)).toEqual([1, 2, 4, 5])
    expect(store.list('c', 0, 10).conflicts.find((r) => r.cursor === 3)?.resolved).toBe(true)
    expect(store.list('other', 0, 10).conflicts.map((r) => r.cursor)).toEqual([6])
  })

  it('cursors only grow, whatever is evicted, also across restarts (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 8 }),
        async (steps, perDocument, total) => {
          const storage = new MemoryStorageAdapter()
          let store = memory(perDocument, total, storage)
          await store.load()
          let last = 0
          let n = 0
          for (const [doc, restart] of steps) {
            n += 1
            const added = store.add(record(`d${doc}`, n)) as StoredConflict
            expect(added.cursor).toBeGreaterThan(last)
            last = added.cursor
            expect(store.size).toBeLessThanOrEqual(total)
            for (let d = 0; d <= 4; d++) expect(store.of('c', `d${d}`).length).toBeLessThanOrEqual(perDocument)
            if (restart) {
              // What the node's commit loop does: a round's prepare, the flush, then its report.
              const report = store.prepare()
              await storage.flush()
              report?.()
              const before = store.list('c', 0, 1_000).conflicts
              store = memory(perDocument, total, storage)
              await store.load()
              expect(store.list('c', 0, 1_000).conflicts).toEqual(before)
            }
          }
          // Storage holds exactly what memory holds.
          store.prepare()?.()
          const stored = (await storage.loadRange([...CONFLICT_PREFIX])).map((chunk) => decodeStoredConflict(chunk.data))
          expect(stored).toEqual(store.list('c', 0, 1_000).conflicts)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('survives a crash of storage: what was flushed is back, in order, with the same cursors and resolutions', async () => {
    const storage = new MemoryStorageAdapter()
    const store = memory(3, 5, storage)
    for (let n = 1; n <= 8; n++) store.add(record(`d${n % 3}`, n))
    const resolution = { value: null, deleted: true, origin: 'n', seq: 4, hlc: { wallMs: 9, counter: 1, node: 'n' }, atMs: 2_000 }
    const report = store.prepare()
    await storage.flush()
    report?.()
    store.resolve(7, resolution)
    await storage.flush()
    expect(store.add(record('late', 99))?.cursor).toBe(9)
    // Not flushed: not listed, so nobody can have seen cursor 9 when the crash takes it.
    expect(store.list('c', 0, 100).conflicts.map((r) => r.cursor)).not.toContain(9)
    expect(store.get(9)).toBeUndefined()
    const restarted = memory(3, 5, storage.crash())
    const { records, skipped } = await restarted.load()
    expect(skipped).toBe(0)
    const listed = restarted.list('c', 0, 100).conflicts
    expect(listed.map((r) => r.cursor)).toEqual([4, 5, 6, 7, 8])
    expect(records).toBe(listed.length)
    expect(listed.find((r) => r.cursor === 7)).toMatchObject({ resolved: true, resolution })
    // The next cursor is past everything durable.
    expect(restarted.add(record('new', 100))?.cursor).toBe(9)
  })

  it('skips a stored record that does not decode and never reuses its cursor', async () => {
    const storage = new MemoryStorageAdapter()
    await storage.save([...CONFLICT_PREFIX, '0000000000000042'], new TextEncoder().encode('{not json'))
    const store = memory(3, 5, storage)
    expect(await store.load()).toEqual({ records: 0, skipped: 1 })
    expect(store.add(record('d', 1))?.cursor).toBe(43)
  })

  it('encodes and decodes a record, and refuses a damaged one', () => {
    const stored: StoredConflict = { ...record('d', 1), cursor: 7, observedAtMs: 5, resolved: false }
    expect(decodeStoredConflict(encodeStoredConflict(stored))).toEqual(stored)
    const bytes = new TextEncoder().encode(JSON.stringify({ v: 1, ...stored, cursor: -1 }))
    expect(() => decodeStoredConflict(bytes)).toThrow(/wrong type/)
    expect(() => decodeStoredConflict(new TextEncoder().encode(JSON.stringify({ v: 9 })))).toThrow(/format 9/)
  })
})

import { describe, expect, it } from 'vitest'
import type { ConflictRecord } from '../../core/crdt/index.js'
import { ConflictStore } from '../../server/conflict-store.js'

function record(docId: string, n: number): ConflictRecord {
  const side = (origin: string) => ({ origin, hlc: { wallMs: n, counter: 0, node: origin }, value: n, deleted: false })
  return { collection: 'c', docId, field: 'f', winner: side('w'), loser: side('l') }
}

describe('ConflictStore', () => {
  it('keeps at most perDocument records per document, newest last', () => {
    const store = new ConflictStore(3, 100)
    for (let n = 1; n <= 5; n++) store.add(record('d', n))
    expect(store.of('c', 'd').map((r) => r.winner.value)).toEqual([3, 4, 5])
    expect(store.size).toBe(3)
  })

  it('keeps at most total records, taking from the document with the oldest last conflict', () => {
    const store = new ConflictStore(10, 4)
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
    const store = new ConflictStore(10, 10)
    store.add(record('d', 1))
    store.of('c', 'd').pop()
    expect(store.of('c', 'd')).toHaveLength(1)
  })
})

/**
 * What the author table costs per client (docs/design.md [SG4]): one entry per client id ever seen, up to
 * `maxAuthors` (100,000 by default). The soak (docs/soak-and-storm.md) found it to be what grows in a
 * region's heap while clients churn with new ids: about 290-360 bytes per settled author, most of it an
 * empty Map of pending copies that every entry kept. A settled author now holds no Map: about 100-180 bytes.
 */
import { setFlagsFromString, getHeapStatistics } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { AuthorTable } from '../../../core/mesh/author-table.js'
import type { Change } from '../../../core/types.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapUsed(): number {
  gc()
  gc()
  return getHeapStatistics().used_heap_size
}

function authoredChange(client: string, authorSeq: number, seq: number): Change {
  return { origin: 'eu', seq, hlc: { wallMs: 1, counter: seq, node: client }, collection: 'notes', docId: 'd', docType: 'lww', payload: new Uint8Array(0), author: { origin: client, seq: authorSeq } }
}

describe('AuthorTable memory', () => {
  it('a settled author (every write replicated) costs under 200 bytes', () => {
    const n = 20_000
    const ids = Array.from({ length: n }, (_, i) => `c-${i.toString(36).padStart(12, '0')}`)
    const table = new AuthorTable()
    const before = heapUsed()
    let seq = 0
    for (const id of ids) {
      for (let s = 1; s <= 5; s++) table.learn(authoredChange(id, s, ++seq))
      table.settle(new Map([['eu', seq]]))
    }
    const perAuthor = (heapUsed() - before) / n
    console.log(`author table: ${perAuthor.toFixed(0)} bytes per settled author`)
    expect(table.size).toBe(n)
    expect(table.replicated(ids[n - 1] as string)).toBe(5)
    expect(perAuthor).toBeLessThan(200)
  })

  it('an author keeps its pending copies until they settle, and settles once they do', () => {
    const table = new AuthorTable()
    table.learn(authoredChange('c1', 1, 1))
    table.learn(authoredChange('c1', 2, 2))
    expect(table.settle(new Map([['eu', 1]]))).toEqual(['c1'])
    expect(table.replicated('c1')).toBe(1)
    expect(table.records()).toEqual([{ author: 'c1', accepted: 2, replicated: 1, copies: [{ seq: 2, at: { origin: 'eu', seq: 2 } }] }])
    expect(table.settle(new Map([['eu', 2]]))).toEqual(['c1'])
    expect(table.records()).toEqual([{ author: 'c1', accepted: 2, replicated: 2, copies: [] }])
    // Learnt again after it settled (a resend logged elsewhere): a copy above `replicated` is pending again.
    table.learn(authoredChange('c1', 3, 3))
    expect(table.durableUpTo('c1', new Map([['eu', 3]]))).toBe(3)
    table.merge([{ author: 'c1', accepted: 3, replicated: 3, copies: [] }])
    expect(table.records()).toEqual([{ author: 'c1', accepted: 3, replicated: 3, copies: [] }])
  })
})

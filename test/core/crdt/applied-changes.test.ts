import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AppliedChanges } from '../../../core/crdt/applied-changes.js'

describe('applied change ids', () => {
  it('[CV3] behaves like a set of (origin, seq), whatever the insertion order', () => {
    const idArb = fc.record({ origin: fc.constantFrom('a', 'b'), seq: fc.integer({ min: 1, max: 40 }) })
    fc.assert(
      fc.property(fc.array(idArb, { maxLength: 80 }), fc.array(idArb, { maxLength: 20 }), (inserted, probes) => {
        const set = new AppliedChanges()
        const model = new Set<string>()
        for (const id of inserted) {
          const key = `${id.origin}:${id.seq}`
          expect(set.add(id)).toBe(!model.has(key))
          model.add(key)
        }
        for (const id of [...inserted, ...probes]) expect(set.has(id)).toBe(model.has(`${id.origin}:${id.seq}`))
      }),
      { numRuns: 200 },
    )
  })

  it('keeps one run for consecutive seqs, whatever their order', () => {
    const set = new AppliedChanges()
    for (const seq of [5, 3, 4, 1, 2, 7, 6]) set.add({ origin: 'w', seq })
    expect(set.runCount).toBe(1)
    set.add({ origin: 'w', seq: 10 })
    expect(set.runCount).toBe(2)
  })
})

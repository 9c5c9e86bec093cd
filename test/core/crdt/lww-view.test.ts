import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LwwReplica, lwwDeletePayload, lwwPatchPayload, lwwPutPayload } from '../../../core/crdt/lww.js'
import type { Change } from '../../../core/types.js'
import { CountingMap } from '../../helpers/counting-map.js'
import { storableSize } from '../../../core/values/storable-value.js'
import { COLLECTION, DOC_ID, deliveryWithDuplicates, hlc, historyArb, makeChange, runHistory, seededRandom } from './helpers.js'

/**
 * [PF3] The lww view is cached: built on the first `view()` after a change that altered it, shared
 * until the next one. These tests pin that a change costs its fields (counted register lookups and
 * whole-map scans, never timings) and that the cache never shows anything but the rebuilt view.
 */

type Edit =
  | { readonly op: 'put'; readonly doc: Record<string, unknown> }
  | { readonly op: 'patch'; readonly fields: Record<string, unknown> }
  | { readonly op: 'delete' }

const FIELDS = ['a', 'b', 'c', 'd'] as const
const fieldArb = fc.constantFrom(...FIELDS)
const valueArb: fc.Arbitrary<unknown> = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('x', 'y'), fc.constant(null), fc.record({ n: fc.nat(2) }))
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('put' as const), doc: fc.dictionary(fieldArb, valueArb, { maxKeys: 4 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('patch' as const),
      fields: fc.dictionary(fieldArb, fc.option(valueArb, { nil: undefined, freq: 4 }), { minKeys: 1, maxKeys: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const) }) },
)

function edit(replica: LwwReplica, e: Edit): Uint8Array {
  if (e.op === 'put') return lwwPutPayload(replica, e.doc)
  if (e.op === 'patch') return lwwPatchPayload(replica, e.fields)
  return lwwDeletePayload(replica)
}

function fresh(): LwwReplica {
  return new LwwReplica({ collection: COLLECTION, docId: DOC_ID })
}


/** Swaps the replica's register map for a counting copy (the test reaches into a private field). */
function countRegisters(replica: LwwReplica): CountingMap<string, unknown> {
  const holder = replica as unknown as { fields: Map<string, unknown> }
  expect(holder.fields).toBeInstanceOf(Map)
  const counting = new CountingMap<string, unknown>(holder.fields)
  holder.fields = counting
  counting.lookups = 0
  counting.scans = 0
  return counting
}

function bigDocument(fields: number): { replica: LwwReplica; seq: number } {
  const replica = fresh()
  const doc: Record<string, unknown> = {}
  for (let i = 0; i < fields; i++) doc[`f${i}`] = { i }
  replica.apply(makeChange({ origin: 'w', seq: 1, hlc: hlc(1_000, 0, 'w'), payload: lwwPutPayload(replica, doc), docType: 'lww' }))
  return { replica, seq: 1 }
}

describe('lww view cache [PF3]', () => {
  it('a one-field patch and its apply touch a constant number of registers and scan none, whatever the size', () => {
    for (const size of [10, 10_000]) {
      const { replica } = bigDocument(size)
      const before = replica.view()
      const registers = countRegisters(replica)
      const payload = lwwPatchPayload(replica, { f3: 'patched', absent: undefined })
      const result = replica.apply(makeChange({ origin: 'w', seq: 2, hlc: hlc(2_000, 0, 'w'), payload, docType: 'lww' }))
      expect(result.changed).toBe(true)
      expect(replica.get('f3')).toBe('patched')
      expect(replica.get('absent')).toBeUndefined()
      expect(replica.exists()).toBe(true)
      expect(registers.scans).toBe(0)
      expect(registers.lookups).toBeLessThanOrEqual(12)
      // Nothing was built for the earlier view's readers: the object they hold is unchanged.
      expect(before?.['f3']).toEqual({ i: 3 })
      // The next view() builds once (one scan); later calls share it.
      const after = replica.view()
      expect(registers.scans).toBe(1)
      expect(replica.view()).toBe(after)
      expect(registers.scans).toBe(1)
      expect(after?.['f3']).toBe('patched')
      expect(Object.keys(after ?? {})).toHaveLength(size)
      // Unchanged fields keep their (deep-frozen) values by reference.
      expect(after?.['f4']).toBe(before?.['f4'])
    }
  })

  it('a view is frozen, and stays the same object across duplicates and changes that alter nothing', () => {
    const replica = fresh()
    const write = makeChange({ origin: 'a', seq: 1, hlc: hlc(10, 0, 'a'), payload: lwwPatchPayload(replica, { x: 1, o: { n: 1 } }), docType: 'lww' })
    replica.apply(write)
    const view = replica.view()
    expect(Object.isFrozen(view)).toBe(true)
    expect(Object.isFrozen(view?.['o'])).toBe(true)
    expect(() => {
      ;(view as Record<string, unknown>)['x'] = 2
    }).toThrow(TypeError)
    // A duplicate, and an older write that loses its field: the view does not change, nor its identity.
    expect(replica.apply(write).changed).toBe(false)
    const older = makeChange({ origin: 'b', seq: 1, hlc: hlc(5, 0, 'b'), payload: lwwPatchPayload(fresh(), { x: 0 }), docType: 'lww' })
    expect(replica.apply(older).changed).toBe(false)
    expect(replica.view()).toBe(view)
    expect(replica.view()).toEqual({ o: { n: 1 }, x: 1 })
  })

  it('the cached view, get() and exists() always match a replica that built its view from scratch [CV1]', () => {
    fc.assert(
      fc.property(historyArb(editArb), fc.integer({ min: 0, max: 0xffff }), (history, seed) => {
        const { changes } = runHistory<Edit, LwwReplica>('lww', history, edit)
        const random = seededRandom(seed)
        const delivery: Change[] = deliveryWithDuplicates(changes, random)
        const replica = fresh()
        let lastRead = replica.view()
        let alteredSinceRead = false
        for (let i = 0; i < delivery.length; i++) {
          if (replica.apply(delivery[i] as Change).changed) alteredSinceRead = true
          // Read the view only now and then, so a cache left stale by several changes is covered too.
          if (random() < 0.5) continue
          const view = replica.view()
          const reference = fresh()
          for (const change of delivery.slice(0, i + 1)) reference.apply(change)
          expect(view).toEqual(reference.view())
          expect(JSON.stringify(view)).toBe(JSON.stringify(reference.view()))
          // Changes that altered nothing leave readers the very same object.
          if (!alteredSinceRead) expect(view).toBe(lastRead)
          expect(replica.exists()).toBe(view !== null)
          for (const field of [...FIELDS, 'zz']) expect(replica.get(field)).toEqual(view?.[field])
          // The running size is the view's encoded size, kept per change (value limits).
          expect(replica.encodedBytes()).toBe(view === null ? 0 : storableSize(view))
          lastRead = view
          alteredSinceRead = false
        }
      }),
      { numRuns: 200 },
    )
  })
})

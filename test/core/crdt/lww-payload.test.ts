import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CrdtPayloadError } from '../../../core/crdt/errors.js'
import { LwwReplica, lwwPatchPayload } from '../../../core/crdt/lww.js'
import { decodeLwwPayload, encodeLwwPayload, type LwwFieldWrite, type LwwPayload } from '../../../core/crdt/lww-payload.js'
import { COLLECTION, DOC_ID, hlc, makeChange } from './helpers.js'
import { arbStorableJson } from '../../helpers/json-arbitraries.js'

const stampArb = fc.record({
  hlc: fc.record({ wallMs: fc.nat({ max: Number.MAX_SAFE_INTEGER }), counter: fc.nat(), node: fc.string({ maxLength: 8 }) }),
  origin: fc.string({ maxLength: 8 }),
})
// Storable values only: a `__proto__` key is refused at every edge [IN1] (lib0's readAny would assign
// it as the prototype instead of a field), so no payload written by Meridian carries one.
const jsonValueArb: fc.Arbitrary<unknown> = arbStorableJson
const writeArb: fc.Arbitrary<LwwFieldWrite> = fc.oneof(
  fc.record({ field: fc.string({ maxLength: 6 }), deleted: fc.constant(false as const), value: jsonValueArb, base: fc.option(stampArb, { nil: null }) }),
  fc.record({ field: fc.string({ maxLength: 6 }), deleted: fc.constant(true as const), base: fc.option(stampArb, { nil: null }) }),
)
const payloadArb: fc.Arbitrary<LwwPayload> = fc
  .tuple(fc.constantFrom('write' as const, 'delete' as const), fc.uniqueArray(writeArb, { selector: (w) => w.field, maxLength: 5 }))
  .map(([kind, writes]) => ({ kind, writes: kind === 'delete' ? writes.filter((w) => w.deleted) : writes }))

describe('lww payload format', () => {
  it('[PR1] every payload round-trips through encode and decode', () => {
    fc.assert(
      fc.property(payloadArb, (payload) => {
        expect(decodeLwwPayload(encodeLwwPayload(payload))).toEqual(payload)
      }),
      { numRuns: 200 },
    )
  })

  it('[PR1] arbitrary bytes decode or fail with CrdtPayloadError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        try {
          decodeLwwPayload(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(CrdtPayloadError)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('[PR1] a truncated payload is refused', () => {
    const bytes = encodeLwwPayload({ kind: 'write', writes: [{ field: 'x', deleted: false, value: { a: [1, 2] }, base: null }] })
    for (let cut = 0; cut < bytes.length; cut++) expect(() => decodeLwwPayload(bytes.subarray(0, cut))).toThrow(CrdtPayloadError)
  })

  it('refuses unknown versions, a field written twice, and a set inside a document delete', () => {
    const good = encodeLwwPayload({ kind: 'write', writes: [] })
    expect(() => decodeLwwPayload(Uint8Array.of(2, ...good.subarray(1)))).toThrow(/version/)
    const twice = encodeLwwPayload({
      kind: 'write',
      writes: [
        { field: 'x', deleted: true, base: null },
        { field: 'x', deleted: true, base: null },
      ],
    })
    expect(() => decodeLwwPayload(twice)).toThrow(/twice/)
    const setInDelete = encodeLwwPayload({ kind: 'delete', writes: [{ field: 'x', deleted: false, value: 1, base: null }] })
    expect(() => decodeLwwPayload(setInDelete)).toThrow(/only hold tombstones/)
    expect(() => decodeLwwPayload(Uint8Array.of(...good, 0))).toThrow(/trailing/)
  })

  it('a malformed payload changes nothing and does not count as applied', () => {
    const replica = new LwwReplica({ collection: COLLECTION, docId: DOC_ID })
    const good = lwwPatchPayload(replica, { x: 1 })
    const base = { origin: 'w', seq: 1, hlc: hlc(1, 0, 'w'), docType: 'lww' as const }
    expect(() => replica.apply(makeChange({ ...base, payload: good.subarray(0, good.length - 1) }))).toThrow(CrdtPayloadError)
    expect(replica.view()).toBeNull()
    expect(replica.apply(makeChange({ ...base, payload: good })).changed).toBe(true)
    expect(replica.view()).toEqual({ x: 1 })
  })
})

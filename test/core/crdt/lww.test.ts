import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HlcClock } from '../../../core/clock/hlc.js'
import { LwwReplica, lwwDeletePayload, lwwPatchPayload, lwwPutPayload } from '../../../core/crdt/lww.js'
import type { Change, Hlc } from '../../../core/types.js'
import { DEFAULT_VALUE_LIMITS, InvalidValueError, storableSize } from '../../../core/values/storable-value.js'
import { BASE_WALL_MS, COLLECTION, DOC_ID, assertConverges, hlc, historyArb, makeChange, shuffle, seededRandom } from './helpers.js'

type LwwEdit =
  | { readonly op: 'put'; readonly doc: Record<string, unknown> }
  | { readonly op: 'patch'; readonly fields: Record<string, unknown> }
  | { readonly op: 'delete' }

const FIELDS = ['a', 'b', 'c', 'd'] as const
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom('x', 'y', 'z'),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }),
  fc.record({ n: fc.integer({ min: 0, max: 3 }) }),
)
const fieldArb = fc.constantFrom(...FIELDS)
const lwwEditArb: fc.Arbitrary<LwwEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), doc: fc.dictionary(fieldArb, valueArb, { maxKeys: 4 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('patch' as const),
      fields: fc.dictionary(fieldArb, fc.option(valueArb, { nil: undefined, freq: 4 }), { minKeys: 1, maxKeys: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const) }) },
)

function lwwEdit(replica: LwwReplica, edit: LwwEdit): Uint8Array {
  switch (edit.op) {
    case 'put':
      return lwwPutPayload(replica, edit.doc)
    case 'patch':
      return lwwPatchPayload(replica, edit.fields)
    case 'delete':
      return lwwDeletePayload(replica)
  }
}

/** A writer with its own replica and clock, as an app or a server node would be. */
class Writer {
  readonly replica = new LwwReplica({ collection: COLLECTION, docId: DOC_ID })
  readonly clock: HlcClock
  private seq = 0
  wallMs = BASE_WALL_MS

  constructor(readonly origin: string) {
    this.clock = new HlcClock({ node: origin, wallClock: () => this.wallMs })
  }

  put(doc: Record<string, unknown>): Change {
    return this.commit(lwwPutPayload(this.replica, doc))
  }
  patch(fields: Record<string, unknown>): Change {
    return this.commit(lwwPatchPayload(this.replica, fields))
  }
  delete(): Change {
    return this.commit(lwwDeletePayload(this.replica))
  }
  receive(...changes: Change[]): void {
    for (const change of changes) {
      this.clock.receive(change.hlc)
      this.replica.apply(change)
    }
  }

  private commit(payload: Uint8Array): Change {
    this.seq += 1
    const change = makeChange({ origin: this.origin, seq: this.seq, hlc: this.clock.now(), payload, docType: 'lww' })
    this.replica.apply(change)
    return change
  }
}

function fresh(): LwwReplica {
  return new LwwReplica({ collection: COLLECTION, docId: DOC_ID })
}

function applyAll(replica: LwwReplica, changes: readonly Change[]) {
  return changes.flatMap((change) => replica.apply(change).conflicts)
}

/** A change with a hand-made stamp, to pin ties. */
function stamped(origin: string, at: Hlc, payload: Uint8Array, seq = 1): Change {
  return makeChange({ origin, seq, hlc: at, payload, docType: 'lww' })
}

describe('lww documents', () => {
  it('[CV1] [CV3] lww replicas converge whatever the delivery order, duplication or history', () => {
    fc.assert(
      fc.property(historyArb(lwwEditArb), (history) => {
        assertConverges('lww', history, lwwEdit)
      }),
      { numRuns: 200 },
    )
  })

  it('re-applying a change changes nothing in the view (at-most-once delivery is the mesh\'s job [CV3])', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const ca = a.put({ x: 1 })
    const cb = b.put({ x: 2 })
    const replica = fresh()
    expect(applyAll(replica, [ca, cb])).toHaveLength(1)
    const view = replica.view()
    for (const change of [ca, cb, ca, cb]) expect(replica.apply(change).changed).toBe(false)
    // The replica keeps no record of applied change ids: re-delivered, the losing `ca` meets `cb` again
    // and reports the conflict again. The mesh never re-delivers (version vectors).
    expect(replica.apply(ca).conflicts).toHaveLength(1)
    expect(replica.apply(cb).conflicts).toEqual([])
    expect(replica.view()).toBe(view)
  })

  it('re-applying the same changes leaves view() unchanged and the state bytes identical', () => {
    // A losing tombstone, a delete and a newer value: w1's tombstone lost causally to w1's own delete,
    // and on re-delivery meets w0's concurrent value. Without a record of applied ids the replica may
    // report that conflict (it does: at-most-once delivery is the mesh's job [CV3]), but its registers,
    // and so its view and its state, stay exactly as they were.
    const w1 = new Writer('w1')
    const w0 = new Writer('w0')
    const tombstone = w1.patch({ c: undefined })
    const deleted = w1.delete()
    w0.wallMs += 1
    const value = w0.put({ c: 'x' })
    const replica = fresh()
    expect(applyAll(replica, [tombstone, deleted, value])).toHaveLength(1) // the delete lost to 'x'
    const view = replica.view()
    const state = replica.encodeState()
    for (const change of [tombstone, deleted, value, value, tombstone]) expect(replica.apply(change).changed).toBe(false)
    expect(replica.view()).toBe(view)
    expect(replica.view()).toEqual({ c: 'x' })
    expect(replica.encodeState()).toEqual(state)
  })

  it('[CV1] the later HLC wins a field, in either delivery order', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    b.wallMs += 10
    const older = a.patch({ x: 'older', y: 1 })
    const newer = b.patch({ x: 'newer' })
    for (const order of [[older, newer], [newer, older]]) {
      const replica = fresh()
      applyAll(replica, order)
      expect(replica.view()).toEqual({ x: 'newer', y: 1 })
    }
  })

  it('[CV1] the HLC wins over the origin: a bigger counter beats a bigger origin', () => {
    const payloadA = lwwPatchPayload(fresh(), { x: 'a' })
    const payloadB = lwwPatchPayload(fresh(), { x: 'b' })
    const fromZ = stamped('z', hlc(100, 0, 'z'), payloadA)
    const fromA = stamped('a', hlc(100, 1, 'a'), payloadB)
    for (const order of [[fromZ, fromA], [fromA, fromZ]]) {
      const replica = fresh()
      applyAll(replica, order)
      expect(replica.view()).toEqual({ x: 'b' })
    }
  })

  it('[CV1] equal HLCs are ordered by origin', () => {
    // Two writers sharing one clock node (e.g. clients stamped by their server) can issue equal HLCs.
    const at = hlc(100, 3, 'eu-1')
    const fromX = stamped('x', at, lwwPatchPayload(fresh(), { f: 'from x' }))
    const fromY = stamped('y', at, lwwPatchPayload(fresh(), { f: 'from y' }))
    for (const order of [[fromX, fromY], [fromY, fromX]]) {
      const replica = fresh()
      const conflicts = applyAll(replica, order)
      expect(replica.view()).toEqual({ f: 'from y' })
      expect(conflicts).toHaveLength(1)
      expect(conflicts[0]?.winner.origin).toBe('y')
      expect(conflicts[0]?.loser.origin).toBe('x')
    }
  })

  it('[CV1] a tombstone wins over an older set, and an older set arriving later stays deleted', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const set = a.patch({ x: 1, keep: true })
    b.wallMs += 5
    b.receive(set)
    const del = b.patch({ x: undefined })
    for (const order of [[set, del], [del, set]]) {
      const replica = fresh()
      applyAll(replica, order)
      expect(replica.view()).toEqual({ keep: true })
    }
  })

  it('[CV1] a newer set wins over an older tombstone', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const del = a.patch({ x: undefined, y: 1 })
    b.wallMs += 5
    const set = b.patch({ x: 'back' })
    for (const order of [[set, del], [del, set]]) {
      const replica = fresh()
      applyAll(replica, order)
      expect(replica.view()).toEqual({ x: 'back', y: 1 })
    }
  })

  it('records a conflict for concurrent writes to a field, the same in either order', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const ca = a.patch({ x: 'from a' })
    b.wallMs += 1
    const cb = b.patch({ x: 'from b' })
    for (const order of [[ca, cb], [cb, ca]]) {
      const conflicts = applyAll(fresh(), order)
      expect(conflicts).toEqual([
        {
          collection: COLLECTION,
          docId: DOC_ID,
          field: 'x',
          winner: { origin: 'b', hlc: cb.hlc, value: 'from b', deleted: false },
          loser: { origin: 'a', hlc: ca.hlc, value: 'from a', deleted: false },
        },
      ])
    }
    // Each writer, on hearing of the other, sees the same conflict.
    expect(applyAll(a.replica, [cb])).toHaveLength(1)
    expect(applyAll(b.replica, [ca])).toHaveLength(1)
  })

  it('records no conflict for a causal overwrite (the writer had seen the previous value)', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const first = a.patch({ x: 1 })
    b.receive(first)
    const second = b.patch({ x: 2 })
    for (const order of [[first, second], [second, first]]) {
      const replica = fresh()
      expect(applyAll(replica, order)).toEqual([])
      expect(replica.view()).toEqual({ x: 2 })
    }
    expect(applyAll(a.replica, [second])).toEqual([])
  })

  it('records no conflict when the overwriter had seen an even newer value than the loser', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const c = new Writer('c')
    const v1 = a.patch({ x: 1 })
    b.receive(v1)
    const v2 = b.patch({ x: 2 })
    c.receive(v2)
    const v3 = c.patch({ x: 3 })
    const replica = fresh()
    expect(applyAll(replica, [v3, v1, v2])).toEqual([])
    expect(replica.view()).toEqual({ x: 3 })
  })

  it('[CV1] conflicts are reported when a concurrent write loses, whatever the wall clocks say', () => {
    fc.assert(
      fc.property(fc.integer({ min: -50, max: 50 }), fc.boolean(), fc.boolean(), (skewMs, sync, aFirst) => {
        const a = new Writer('a')
        const b = new Writer('b')
        b.wallMs += skewMs
        const ca = a.patch({ x: 'a' })
        if (sync) b.receive(ca)
        const cb = b.patch({ x: 'b' })
        const conflicts = applyAll(fresh(), aFirst ? [ca, cb] : [cb, ca])
        // Once b has seen a, its write is after a's [HLC2] and causal: no conflict.
        expect(conflicts).toHaveLength(sync ? 0 : 1)
      }),
      { numRuns: 100 },
    )
  })

  it('views null for a document never written, {} for an empty put, null after a delete', () => {
    const w = new Writer('a')
    expect(fresh().view()).toBeNull()
    expect(w.replica.view()).toBeNull()
    w.put({})
    expect(w.replica.view()).toEqual({})
    w.put({ x: 1, y: 2 })
    expect(w.replica.view()).toEqual({ x: 1, y: 2 })
    w.delete()
    expect(w.replica.view()).toBeNull()
    w.patch({ z: 3 })
    expect(w.replica.view()).toEqual({ z: 3 })
  })

  it('put tombstones the fields it leaves out; patch leaves them alone', () => {
    const w = new Writer('a')
    const reader = fresh()
    applyAll(reader, [w.put({ x: 1, y: 2, z: 3 }), w.patch({ y: 20 }), w.put({ x: 10, z: undefined })])
    expect(reader.view()).toEqual({ x: 10 })
  })

  it('[CV1] a document delete hides fields written concurrently by writers it never heard of', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const created = a.put({ x: 1 })
    b.receive(created)
    const added = b.patch({ y: 2 }) // a never hears of y
    a.wallMs += 10
    const deleted = a.delete()
    for (const order of [[created, added, deleted], [created, deleted, added], [deleted, added, created], [added, deleted, created]]) {
      const replica = fresh()
      const conflicts = applyAll(replica, order)
      expect(replica.view()).toBeNull()
      // y lost to a delete that had not seen it; x was deleted by someone who had.
      expect(conflicts).toEqual([
        {
          collection: COLLECTION,
          docId: DOC_ID,
          field: 'y',
          winner: { origin: 'a', hlc: deleted.hlc, value: undefined, deleted: true },
          loser: { origin: 'b', hlc: added.hlc, value: 2, deleted: false },
        },
      ])
    }
  })

  it('[CV1] a write newer than a concurrent delete brings the document back, with a conflict', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const created = a.put({ x: 1, y: 1 })
    b.receive(created)
    const deleted = a.delete()
    b.wallMs += 10
    const edited = b.patch({ x: 2 })
    for (const order of [[created, deleted, edited], [created, edited, deleted], [edited, deleted, created]]) {
      const replica = fresh()
      const conflicts = applyAll(replica, order)
      expect(replica.view()).toEqual({ x: 2 })
      expect(conflicts.map((c) => [c.field, c.loser.origin, c.loser.deleted, c.winner.origin])).toEqual([['x', 'a', true, 'b']])
    }
  })

  it('a write that loses changes nothing; a duplicate changes nothing', () => {
    const a = new Writer('a')
    const b = new Writer('b')
    const older = a.patch({ x: 1 })
    b.wallMs += 1
    const newer = b.patch({ x: 2 })
    const replica = fresh()
    expect(replica.apply(newer).changed).toBe(true)
    expect(replica.apply(older).changed).toBe(false)
    expect(replica.apply(newer).changed).toBe(false)
  })

  it('refuses values that would not survive the binary encoding, and changes for another document', () => {
    const replica = fresh()
    // One definition of a storable value (core/values): JSON that reads back as written.
    expect(() => lwwPatchPayload(replica, { when: new Date(0) })).toThrow(InvalidValueError)
    expect(() => lwwPutPayload(replica, { f: () => 1 })).toThrow(InvalidValueError)
    expect(() => lwwPutPayload(replica, { list: [1, undefined] })).toThrow(/\$\.list\[1\]/)
    expect(() => lwwPutPayload(replica, { n: Infinity })).toThrow(/finite/)
    expect(() => lwwPutPayload(replica, { bytes: new Uint8Array([1]) })).toThrow(/Uint8Array is not a JSON value/)
    expect(() => lwwPutPayload(replica, { big: 1n })).toThrow(/bigint is not a JSON value/)
    expect(() => lwwPatchPayload(replica, JSON.parse('{"o":{"__proto__":1}}') as Record<string, unknown>)).toThrow(/__proto__/)
    const change = new Writer('a').patch({ x: 1 })
    expect(() => replica.apply({ ...change, docId: 'other' })).toThrow(/given a change for/)
    expect(() => replica.apply({ ...change, docType: 'yjs' })).toThrow(/lww replica given a yjs change/)
  })

  it('refuses a put or patch that would make the document larger than maxDocumentBytes, from the running size', () => {
    const limits = { ...DEFAULT_VALUE_LIMITS, maxDocumentBytes: 100 }
    const replica = fresh()
    const writer = new Writer('a')
    applyAll(replica, [writer.put({ a: 'x'.repeat(40), b: 'y'.repeat(40) })])
    expect(replica.encodedBytes()).toBe(storableSize(replica.view()))
    expect(() => lwwPutPayload(replica, { a: 'x'.repeat(100) }, limits)).toThrow(/maxDocumentBytes/)
    expect(() => lwwPatchPayload(replica, { c: 'z'.repeat(20) }, limits)).toThrow(/the patched document takes \d+ bytes/)
    // Replacing or deleting a field frees its bytes.
    expect(() => lwwPatchPayload(replica, { a: undefined, c: 'z'.repeat(20) }, limits)).not.toThrow()
    expect(() => lwwPatchPayload(replica, { a: 'x', c: 'z'.repeat(20) }, limits)).not.toThrow()
  })

  it('keeps values intact through the payload, and hands them out frozen', () => {
    const value = { nested: { list: [1, 'two', null, true] }, f: 1.5, big: 2 ** 62, neg: -3, s: 'ü😀' }
    const replica = fresh()
    applyAll(replica, [new Writer('a').patch({ value })])
    const view = replica.view()
    expect(view).toEqual({ value })
    expect(Object.isFrozen((view?.value as { nested: unknown }).nested)).toBe(true)
  })

  it('[CV1] converged replicas agree even when every change is delivered to each in a different order', () => {
    // A long, fixed history through the writer API: a regression guard beside the property.
    const random = seededRandom(7)
    const writers = ['a', 'b', 'c'].map((o) => new Writer(o))
    const changes: Change[] = []
    for (let i = 0; i < 300; i++) {
      const w = writers[Math.floor(random() * writers.length)] as Writer
      w.wallMs += Math.floor(random() * 3)
      const roll = random()
      const field = FIELDS[Math.floor(random() * FIELDS.length)] as string
      changes.push(roll < 0.05 ? w.delete() : roll < 0.2 ? w.put({ [field]: i }) : w.patch({ [field]: roll < 0.3 ? undefined : i }))
      if (random() < 0.3) {
        const to = writers[Math.floor(random() * writers.length)] as Writer
        if (to !== w) to.receive(...changes)
      }
    }
    const views = [0, 1, 2].map(() => {
      const replica = fresh()
      applyAll(replica, shuffle(changes, random))
      return replica.view()
    })
    expect(views[1]).toEqual(views[0])
    expect(views[2]).toEqual(views[0])
  })
})

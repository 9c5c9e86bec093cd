import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { DocumentReplica } from '../../../core/crdt/document-type.js'
import { CrdtPayloadError } from '../../../core/crdt/errors.js'
import { compareStamp, type LwwStamp } from '../../../core/crdt/lww-payload.js'
import { LwwReplica, lwwDeletePayload, lwwPatchPayload, lwwPutPayload } from '../../../core/crdt/lww.js'
import { createReplica } from '../../../core/crdt/registry.js'
import type { Change, DocType } from '../../../core/types.js'
import { SimRandom } from '../../sim/random.js'
import { randomEdit } from '../../sim/workload.js'
import { COLLECTION, DOC_ID, hlc, historyArb, makeChange, replay, runHistory, seededRandom, shuffle, type History } from './helpers.js'

/*
 * State transfer (DocumentReplica.encodeState / mergeState, docs/design.md §6), for every document
 * type, on random histories made through the types' writer APIs (test/sim/workload.ts `randomEdit`).
 * fast-check prints the seed and path of any failing run; pass them back as `{ seed, path }` to replay it.
 */

const DOC_TYPES: readonly DocType[] = ['lww', 'yjs', 'automerge']
/** Each edit is a seed for `randomEdit`, so one arbitrary serves every type. */
const editSeedArb = fc.integer({ min: 0, max: 0xffff_ffff })
const RUNS = 25

function edit(docType: DocType) {
  return (replica: DocumentReplica, seed: number): Uint8Array => randomEdit(docType, replica, new SimRandom(seed)).payload
}

function play(docType: DocType, history: History<number>) {
  return runHistory<number, DocumentReplica>(docType, history, edit(docType))
}

function fresh(docType: DocType, random: () => number): DocumentReplica {
  return createReplica(docType, { collection: COLLECTION, docId: DOC_ID, localOrigin: 'merger', random })
}

/** Every change goes to A, to B, or to both: two replicas holding different, overlapping subsets. */
function split(changes: readonly Change[], random: () => number): [Change[], Change[]] {
  const a: Change[] = []
  const b: Change[] = []
  for (const change of changes) {
    const roll = random()
    if (roll < 0.4) a.push(change)
    else if (roll < 0.8) b.push(change)
    else a.push(change), b.push(change)
  }
  return [shuffle(a, random), shuffle(b, random)]
}

describe.each(DOC_TYPES)('%s document state', (docType) => {
  it('round trip: a fresh replica that merges a state shows that replica\'s view', () => {
    fc.assert(
      fc.property(historyArb(editSeedArb), (history) => {
        const random = seededRandom(history.seed)
        const { writers, changes } = play(docType, history)
        const replicas = [...writers.map((w) => w.replica), replay(docType, shuffle(changes, random), random)]
        for (const replica of replicas) {
          const copy = fresh(docType, random)
          copy.mergeState(replica.encodeState())
          expect(copy.view()).toEqual(replica.view())
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('merging the states of replicas holding different subsets, in either order, equals applying every change', () => {
    fc.assert(
      fc.property(historyArb(editSeedArb), (history) => {
        const random = seededRandom(history.seed ^ 0x5bd1_e995)
        const { changes } = play(docType, history)
        const full = replay(docType, shuffle(changes, random), random)
        const [subsetA, subsetB] = split(changes, random)
        const a = replay(docType, subsetA, random)
        const b = replay(docType, subsetB, random)
        const stateA = a.encodeState()
        const stateB = b.encodeState()
        const ab = fresh(docType, random)
        ab.mergeState(stateA)
        ab.mergeState(stateB)
        const ba = fresh(docType, random)
        ba.mergeState(stateB)
        ba.mergeState(stateA)
        // Merging into a replica that applied changes, either way round.
        a.mergeState(stateB)
        b.mergeState(stateA)
        for (const merged of [ab, ba, a, b]) expect(merged.view()).toEqual(full.view())
        // lww states are canonical: converged replicas encode the same bytes.
        if (docType === 'lww') for (const merged of [ab, ba, a, b]) expect(merged.encodeState()).toEqual(full.encodeState())
      }),
      { numRuns: RUNS },
    )
  })

  it('applying changes a merged state already contains changes nothing; neither does merging a state twice', () => {
    fc.assert(
      fc.property(historyArb(editSeedArb), (history) => {
        const random = seededRandom(history.seed ^ 0x2545_f491)
        const { changes } = play(docType, history)
        const [subset] = split(changes, random)
        const source = replay(docType, subset, random)
        const replica = fresh(docType, random)
        replica.mergeState(source.encodeState())
        const view = replica.view()
        for (const change of shuffle(subset, random)) expect(replica.apply(change).changed).toBe(false)
        expect(replica.mergeState(source.encodeState()).changed).toBe(false)
        expect(replica.mergeState(replica.encodeState()).changed).toBe(false)
        expect(replica.view()).toEqual(view)
        expect(replica.view()).toEqual(source.view())
      }),
      { numRuns: RUNS },
    )
  })

  it('refuses bytes it cannot read with CrdtPayloadError, and stays as it was', () => {
    const random = seededRandom(11)
    const history: History<number> = {
      writerCount: 2,
      skewsMs: [0, 3],
      seed: 11,
      steps: Array.from({ length: 12 }, (_, i) => (i % 4 === 3 ? { kind: 'sync' as const, from: 0, to: 1 } : { kind: 'edit' as const, writer: i % 2, edit: i * 7919 })),
    }
    const { changes } = play(docType, history)
    const source = replay(docType, changes, random)
    const state = source.encodeState()
    const [first] = changes
    const replica = replay(docType, first === undefined ? [] : [first], random)
    const view = replica.view()
    const before = replica.encodeState()
    const refused = (bytes: Uint8Array): void => {
      expect(() => replica.mergeState(bytes)).toThrow(CrdtPayloadError)
      expect(replica.view()).toEqual(view)
      expect(replica.encodeState()).toEqual(before)
    }
    refused(new Uint8Array(0))
    refused(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
    for (let cut = 1; cut < state.length; cut += docType === 'lww' ? 1 : Math.max(1, Math.floor(state.length / 40))) refused(state.subarray(0, cut))
    // Yjs reads an update up to its end and ignores what follows, as it does for change payloads.
    if (docType !== 'yjs') refused(Uint8Array.of(...state, 0))
    // Random bytes: whatever a type makes of them, refusing them leaves the replica as it was.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 48 }), (bytes) => {
        const probe = replay(docType, first === undefined ? [] : [first], seededRandom(12))
        const probeBefore = probe.encodeState()
        try {
          probe.mergeState(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(CrdtPayloadError)
          expect(probe.view()).toEqual(view)
          expect(probe.encodeState()).toEqual(probeBefore)
        }
      }),
      { numRuns: 100 },
    )
    expect(replica.mergeState(state).changed).toBe(true)
    expect(replica.view()).toEqual(source.view())
  })
})

describe('lww document state', () => {
  const at = (wallMs: number, origin: string): LwwStamp => ({ hlc: hlc(wallMs, 0, origin), origin })
  const change = (origin: string, wallMs: number, payload: Uint8Array, seq = 1): Change =>
    makeChange({ origin, seq, hlc: hlc(wallMs, 0, origin), payload, docType: 'lww' })
  const fresh = (): LwwReplica => new LwwReplica({ collection: COLLECTION, docId: DOC_ID })
  const empty = fresh()

  it('an older write applied after merging a newer state loses', () => {
    const newer = fresh()
    newer.apply(change('b', 200, lwwPatchPayload(empty, { x: 'new', y: 1 })))
    const replica = fresh()
    expect(replica.mergeState(newer.encodeState())).toEqual({ changed: true })
    const older = change('a', 100, lwwPatchPayload(empty, { x: 'old', z: 2 }))
    expect(replica.apply(older).changed).toBe(true) // z is new
    expect(replica.view()).toEqual({ x: 'new', y: 1, z: 2 })
    // Against a merged document delete too: an older put stays hidden.
    const deleter = fresh()
    deleter.mergeState(replica.encodeState())
    deleter.apply(change('b', 300, lwwDeletePayload(deleter), 2))
    const late = fresh()
    late.mergeState(deleter.encodeState())
    expect(late.view()).toBeNull()
    expect(late.apply(change('c', 250, lwwPutPayload(empty, { w: 1 }))).changed).toBe(false)
    expect(late.view()).toBeNull()
  })

  it('a merged state keeps values frozen and the document size right', () => {
    const source = fresh()
    source.apply(change('a', 100, lwwPutPayload(empty, { list: [1, { n: 2 }], s: 'ü😀' })))
    const replica = fresh()
    replica.mergeState(source.encodeState())
    const view = replica.view()
    expect(view).toEqual({ list: [1, { n: 2 }], s: 'ü😀' })
    expect(Object.isFrozen(view?.list)).toBe(true)
    expect(Object.isFrozen((view?.list as unknown[])[1])).toBe(true)
    expect(replica.encodedBytes()).toBe(source.encodedBytes())
    expect(replica.liveFieldCount).toBe(2)
    expect(replica.mergeState(source.encodeState())).toEqual({ changed: false })
    expect(replica.view()).toBe(view) // unchanged view: the same object
  })

  it('reports a change whenever the view differs, and keeps the same view object when it reports none', () => {
    // Like `apply`, a merge that replaces a live register with a newer one holding an equal value
    // reports a change: the view is rebuilt, equal but not the same object.
    fc.assert(
      fc.property(historyArb(editSeedArb), (history) => {
        const random = seededRandom(history.seed ^ 0x68e3_1da4)
        const { changes } = runHistory<number, DocumentReplica>('lww', history, edit('lww'))
        const [subsetA, subsetB] = split(changes, random)
        const a = replay('lww', subsetA, random) as LwwReplica
        const b = replay('lww', subsetB, random) as LwwReplica
        const before = a.view()
        const { changed } = a.mergeState(b.encodeState())
        if (JSON.stringify(a.view()) !== JSON.stringify(before)) expect(changed).toBe(true)
        if (!changed) expect(a.view()).toBe(before)
        const full = replay('lww', changes, random) as LwwReplica
        expect(a.view()).toEqual(full.view())
        expect(a.encodedBytes()).toBe(full.encodedBytes())
        expect(a.liveFieldCount).toBe(full.liveFieldCount)
      }),
      { numRuns: 60 },
    )
  })

  it('collectTombstones drops stable tombstones and registers hidden by a stable delete, keeps the view and the delete', () => {
    const replica = fresh()
    replica.apply(change('a', 100, lwwPutPayload(empty, { x: 1, y: 2, z: 3 })))
    replica.apply(change('a', 110, lwwPatchPayload(replica, { x: undefined }), 2))
    replica.apply(change('a', 120, lwwPatchPayload(replica, { y: undefined }), 3))
    expect(replica.registerCount).toBe(3)
    const view = replica.view()
    // Only what is stable goes: x's tombstone (110), not y's (120).
    const upTo = (wallMs: number) => (stamp: LwwStamp) => compareStamp(stamp, at(wallMs, '\uffff')) <= 0
    expect(replica.collectTombstones(upTo(115))).toBe(1)
    expect(replica.registerCount).toBe(2)
    expect(replica.view()).toBe(view)
    expect(replica.baseFor('x')).toBeNull()
    // A delete hides z; a later write of w brings the document back.
    replica.apply(change('b', 200, lwwDeletePayload(replica)))
    replica.apply(change('c', 180, lwwPatchPayload(empty, { v: 'hidden' })))
    replica.apply(change('b', 210, lwwPatchPayload(replica, { w: 'live' }), 2))
    const viewAfterDelete = replica.view()
    expect(viewAfterDelete).toEqual({ w: 'live' })
    // y and z: the delete's tombstones (200); w: live. v (180) is older than the delete: hidden, so
    // never kept (LwwReplica.dropHidden).
    expect(replica.registerCount).toBe(3)
    expect(replica.collectTombstones(upTo(199))).toBe(0) // the delete and its tombstones are not stable yet
    expect(replica.collectTombstones(upTo(205))).toBe(2)
    expect(replica.registerCount).toBe(1)
    expect(replica.view()).toBe(viewAfterDelete)
    expect(replica.liveFieldCount).toBe(1)
    // The delete's stamp stays: a late write older than it stays hidden.
    replica.apply(change('d', 150, lwwPatchPayload(empty, { late: true })))
    expect(replica.view()).toEqual({ w: 'live' })
    // A state from a replica that never collected adds back only registers that cannot show.
    const uncollected = fresh()
    for (const wallMs of [150, 190]) uncollected.apply(change('e', wallMs, lwwPatchPayload(empty, { z: 'old', v: 'older' }), wallMs))
    expect(replica.mergeState(uncollected.encodeState()).changed).toBe(false)
    expect(replica.view()).toEqual({ w: 'live' })
  })

  it('collectTombstones with every stamp stable leaves only live registers, whatever the history', () => {
    fc.assert(
      fc.property(historyArb(editSeedArb), (history) => {
        const random = seededRandom(history.seed)
        const { changes } = runHistory<number, DocumentReplica>('lww', history, edit('lww'))
        const replica = replay('lww', shuffle(changes, random), random) as LwwReplica
        const other = replay('lww', shuffle(changes, random), random) as LwwReplica
        const view = replica.view()
        const bytes = replica.encodedBytes()
        replica.collectTombstones(() => true)
        expect(replica.view()).toBe(view)
        expect(replica.encodedBytes()).toBe(bytes)
        expect(replica.registerCount).toBe(replica.liveFields().length)
        // Converged replicas still merge to the same view both ways.
        expect(replica.mergeState(other.encodeState()).changed).toBe(false)
        expect(replica.view()).toEqual(view)
        other.collectTombstones(() => true)
        const collected = fresh()
        collected.mergeState(other.encodeState())
        expect(collected.view()).toEqual(view)
      }),
      { numRuns: 60 },
    )
  })
})

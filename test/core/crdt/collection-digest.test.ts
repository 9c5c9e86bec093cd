import * as Automerge from '@automerge/automerge'
import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { AutomergeReplica, automergeEdit } from '../../../core/crdt/automerge.js'
import { canonicalView } from '../../../core/crdt/canonical.js'
import { CollectionDigests, collectionDigestOf, type CollectionDigestReport } from '../../../core/crdt/collection-digest.js'
import type { DocumentReplica } from '../../../core/crdt/document-type.js'
import { addHash64, hash64, hash64Hex, hash64Low48, subHash64 } from '../../../core/crdt/hash64.js'
import { LwwReplica, lwwDeletePayload, lwwPatchPayload, lwwPutPayload } from '../../../core/crdt/lww.js'
import { createReplica } from '../../../core/crdt/registry.js'
import { YjsReplica, yjsEdit } from '../../../core/crdt/yjs.js'
import type { Change, DocType } from '../../../core/types.js'
import { COLLECTION, deliveryWithDuplicates, historyArb, runHistory, seededRandom, type History } from './helpers.js'

/**
 * The divergence digest (docs/crdt.md "Divergence digest"): a collection's digest depends on its
 * documents' states only — not on the order changes arrived in, nor on duplicates — the incremental
 * digest always equals one computed from scratch, and different states give different digests.
 * fast-check prints the seed of a failing run.
 */

type Edit =
  | { readonly op: 'set'; readonly key: string; readonly value: number | string | null }
  | { readonly op: 'del'; readonly key: string }
  | { readonly op: 'text'; readonly pos: number; readonly remove: number; readonly insert: string }
  | { readonly op: 'clear' }

const keyArb = fc.constantFrom('a', 'b', 'c')
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), key: keyArb, value: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('x', 'y'), fc.constant(null)) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('del' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('text' as const), pos: fc.nat(6), remove: fc.nat(2), insert: fc.constantFrom('', 'p', 'qr') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
)

function lwwEdit(replica: LwwReplica, e: Edit): Uint8Array {
  if (e.op === 'set') return lwwPatchPayload(replica, { [e.key]: e.value })
  if (e.op === 'del') return lwwPatchPayload(replica, { [e.key]: undefined })
  if (e.op === 'text') return lwwPutPayload(replica, { t: e.insert, n: e.pos })
  return lwwDeletePayload(replica)
}

function yjsWriterEdit(replica: YjsReplica, e: Edit): Uint8Array {
  return yjsEdit(replica, (doc) => {
    const root = doc.getMap('root')
    const text = doc.getText('text')
    if (e.op === 'set') root.set(e.key, e.value)
    else if (e.op === 'del') root.delete(e.key)
    else if (e.op === 'text') {
      const at = Math.min(e.pos, text.length)
      text.delete(at, Math.min(e.remove, text.length - at))
      text.insert(at, e.insert)
    } else for (const key of [...root.keys()]) root.delete(key)
  })
}

function automergeWriterEdit(replica: AutomergeReplica, e: Edit): Uint8Array {
  return automergeEdit<Record<string, unknown>>(replica, (d) => {
    if (e.op === 'set') d[e.key] = e.value
    else if (e.op === 'del') delete d[e.key]
    else if (e.op === 'text') {
      if (typeof d.text !== 'string') d.text = ''
      const length = (d.text as string).length
      const at = Math.min(e.pos, length)
      Automerge.splice(d, ['text'], at, Math.min(e.remove, length - at), e.insert)
    } else for (const key of Object.keys(d)) delete d[key]
  })
}

const EDITS: Record<DocType, (replica: never, e: Edit) => Uint8Array> = {
  lww: lwwEdit as (replica: never, e: Edit) => Uint8Array,
  yjs: yjsWriterEdit as (replica: never, e: Edit) => Uint8Array,
  automerge: automergeWriterEdit as (replica: never, e: Edit) => Uint8Array,
}

/** Every change of one history per document, the document named `doc<i>`. */
function changesOf(docType: DocType, histories: readonly History<Edit>[]): Change[] {
  return histories.flatMap((history, i) => runHistory(docType, history, EDITS[docType]).changes.map((change) => ({ ...change, docId: `doc${i}` })))
}

/** One region's documents of the collection, and their digests kept the way the region keeps them. */
class Store {
  readonly replicas = new Map<string, DocumentReplica>()
  readonly digests = new CollectionDigests({
    existingReplica: (collection, docId) => (collection === COLLECTION ? this.replicas.get(docId) : undefined),
    documentIds: () => [...this.replicas.keys()].map((docId) => [COLLECTION, docId] as const),
  })

  constructor(
    private readonly docType: DocType,
    private readonly random: () => number,
  ) {}

  apply(change: Change): void {
    let replica = this.replicas.get(change.docId)
    if (replica === undefined) {
      replica = createReplica(this.docType, { collection: COLLECTION, docId: change.docId, localOrigin: 'reader', random: this.random })
      this.replicas.set(change.docId, replica)
    }
    replica.apply(change)
    this.digests.touched(change.collection, change.docId)
  }

  /** A state transfer of one document (`mergeState`), as a region merges a peer's. */
  merge(docId: string, state: Uint8Array): void {
    let replica = this.replicas.get(docId)
    if (replica === undefined) {
      replica = createReplica(this.docType, { collection: COLLECTION, docId, localOrigin: 'reader', random: this.random })
      this.replicas.set(docId, replica)
    }
    replica.mergeState(state)
    this.digests.touched(COLLECTION, docId)
  }

  digest(): CollectionDigestReport {
    return this.digests.reports([COLLECTION]).get(COLLECTION) as CollectionDigestReport
  }

  fromScratch(): CollectionDigestReport {
    return collectionDigestOf(this.replicas)
  }

  /** The documents' views, canonical, absent ones left out (what a reader can see). */
  views(): string {
    // A document whose view is an empty replica's is as good as absent (a store that never got it).
    const empty = JSON.stringify(canonicalView(createReplica(this.docType, { collection: COLLECTION, docId: 'empty', localOrigin: 'e', random: this.random }).view()))
    const out: Record<string, unknown> = {}
    for (const [docId, replica] of this.replicas) {
      const view = canonicalView(replica.view())
      if (JSON.stringify(view) !== empty) out[docId] = view
    }
    return JSON.stringify(canonicalView(out))
  }
}

const historiesArb = fc.array(historyArb(editArb), { minLength: 1, maxLength: 3 })

describe('hash64', () => {
  it('add and sub are inverse mod 2^64, and the sum does not depend on order', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 8 }), (inputs) => {
        const hashes = inputs.map((bytes) => hash64(bytes))
        let forward = { hi: 0, lo: 0 }
        for (const h of hashes) forward = addHash64(forward, h)
        let backward = { hi: 0, lo: 0 }
        for (const h of [...hashes].reverse()) backward = addHash64(backward, h)
        expect(forward).toEqual(backward)
        for (const h of hashes) forward = subHash64(forward, h)
        expect(forward).toEqual({ hi: 0, lo: 0 })
      }),
    )
  })

  it('spreads: 20 000 short inputs, no collision; hex is 16 digits and the low 48 bits are exact', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 20_000; i++) seen.add(hash64Hex(hash64(new TextEncoder().encode(`doc-${i}`))))
    expect(seen.size).toBe(20_000)
    // Trailing zero bytes count.
    expect(hash64Hex(hash64(new Uint8Array([1])))).not.toBe(hash64Hex(hash64(new Uint8Array([1, 0]))))
    expect(hash64Hex({ hi: 0xabcdef01, lo: 0x23 })).toBe('abcdef0100000023')
    expect(hash64Low48({ hi: 0xabcdef01, lo: 0x23 })).toBe(0xef01 * 2 ** 32 + 0x23)
  })
})

for (const docType of ['lww', 'yjs', 'automerge'] as const) {
  describe(`collection digest, ${docType}`, () => {
    it('the same changes in any order, with duplicates, give the same digest; the incremental digest equals a recomputation', () => {
      fc.assert(
        fc.property(historiesArb, fc.integer({ min: 0, max: 0xffff_ffff }), (histories, seed) => {
          const changes = changesOf(docType, histories)
          const random = seededRandom(seed)
          const inOrder = new Store(docType, random)
          for (const change of changes) inOrder.apply(change)
          const shuffled = new Store(docType, random)
          // Read the digest now and then, so that documents touched again after a read are covered.
          shuffled.digest()
          for (const change of deliveryWithDuplicates(changes, random)) {
            shuffled.apply(change)
            if (random() < 0.3) expect(shuffled.digest()).toEqual(shuffled.fromScratch())
          }
          expect(shuffled.digest()).toEqual(shuffled.fromScratch())
          expect(shuffled.digest()).toEqual(inOrder.digest())
          expect(inOrder.digest()).toEqual(inOrder.fromScratch())
          // Some changes applied, then the states of the others merged in (a state transfer): same digest.
          const transferred = new Store(docType, random)
          transferred.digest()
          for (const change of changes) if (random() < 0.4) transferred.apply(change)
          for (const [docId, replica] of inOrder.replicas) transferred.merge(docId, replica.encodeState())
          expect(transferred.digest()).toEqual(inOrder.digest())
          // A rescan (after a restart) gives what the incremental digest held.
          const before = shuffled.digest()
          shuffled.digests.rescan()
          expect(shuffled.digest()).toEqual(before)
        }),
        { numRuns: docType === 'lww' ? 150 : 60 },
      )
    })

    it('different states give different digests', () => {
      fc.assert(
        fc.property(historiesArb, fc.integer({ min: 0, max: 0xffff_ffff }), (histories, seed) => {
          const changes = changesOf(docType, histories)
          const random = seededRandom(seed)
          const a = new Store(docType, random)
          const b = new Store(docType, random)
          // Each store misses some changes (in origin order, as a region applies them).
          for (const change of changes) {
            if (random() < 0.8) a.apply(change)
            if (random() < 0.8) b.apply(change)
          }
          if (a.views() !== b.views()) expect(a.digest().digest).not.toBe(b.digest().digest)
          // lww digests its views: equal views, equal digests (whatever tombstones either holds).
          if (docType === 'lww' && a.views() === b.views()) expect(a.digest()).toEqual(b.digest())
        }),
        { numRuns: docType === 'lww' ? 150 : 60 },
      )
    })
  })
}

describe('collection digest, empty documents', () => {
  it('an empty or deleted document counts as absent; a collection without documents digests to zeros', () => {
    const random = seededRandom(1)
    const digestOf = (entries: [string, DocumentReplica][]): CollectionDigestReport => collectionDigestOf(entries)
    const none = digestOf([])
    expect(none).toEqual({ digest: '0000000000000000', digestLow48: 0, documents: 0 })
    for (const docType of ['lww', 'yjs', 'automerge'] as const) {
      expect(digestOf([['x', createReplica(docType, { collection: COLLECTION, docId: 'x', localOrigin: 'r', random })]])).toEqual(none)
    }
    const lww = new LwwReplica({ collection: COLLECTION, docId: 'x' })
    const put = lwwPutPayload(lww, { a: 1 })
    lww.apply({ origin: 'w', seq: 1, hlc: { wallMs: 1, counter: 0, node: 'w' }, collection: COLLECTION, docId: 'x', docType: 'lww', payload: put })
    expect(digestOf([['x', lww]]).documents).toBe(1)
    const del = lwwDeletePayload(lww)
    lww.apply({ origin: 'w', seq: 2, hlc: { wallMs: 2, counter: 0, node: 'w' }, collection: COLLECTION, docId: 'x', docType: 'lww', payload: del })
    expect(digestOf([['x', lww]])).toEqual(none)
  })

  it('yjs: the same inserts with and without a deletion differ (the state vector alone would not see it)', () => {
    const random = seededRandom(2)
    const writer = new YjsReplica({ collection: COLLECTION, docId: 'x', random })
    const insert = yjsEdit(writer, (doc) => doc.getText('text').insert(0, 'abc'))
    const remove = yjsEdit(writer, (doc) => doc.getText('text').delete(1, 1))
    const a = new YjsReplica({ collection: COLLECTION, docId: 'x', random })
    Y.applyUpdate(a.doc, insert)
    const b = new YjsReplica({ collection: COLLECTION, docId: 'x', random })
    Y.applyUpdate(b.doc, insert)
    Y.applyUpdate(b.doc, remove)
    expect(Y.encodeStateVector(a.doc)).toEqual(Y.encodeStateVector(b.doc))
    expect(collectionDigestOf([['x', a]]).digest).not.toBe(collectionDigestOf([['x', b]]).digest)
  })
})

/**
 * The contract every `ClientStore` with documents and a strict queue passes (client/store.ts): what is
 * kept comes back after a reopen, exactly; calls take effect in call order. The memory store runs it
 * (its "reopen" hands back the same object), the IndexedDB store runs it under fake-indexeddb.
 *
 * A random sequence of calls (with reopens in between) is checked against the memory store as the
 * model; fast-check prints the seed and the shrunk sequence of a failure.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { StoredDocumentState } from '../../core/codec/document-state.js'
import type { Change, VersionVector } from '../../core/types.js'
import { documentKey } from '../../core/mesh/mesh-node.js'
import { memoryClientStore, type ClientStore, type StoredStrictWrite } from '../../client/store.js'
import { toPlain } from '../core/codec/plain.js'
import { arbChange } from './arbitraries.js'

export type FullClientStore = ClientStore & Required<Pick<ClientStore, 'loadDocuments' | 'saveDocuments' | 'dropChanges' | 'loadStrictWrites' | 'saveStrictWrite' | 'deleteStrictWrite'>>

export interface ClientStoreContractOptions {
  /** A new, empty store. */
  readonly open: () => Promise<FullClientStore>
  /** Closes `store` and opens it again on what it kept. */
  readonly reopen: (store: FullClientStore) => Promise<FullClientStore>
  readonly numRuns?: number
}

const ORIGINS = ['eu-1', 'us-1', 'c-7f3a']

const byId = (a: Change, b: Change): number => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq)
const changesOf = (store: ClientStore): unknown => toPlain([...store.load()].sort(byId))
const documentsOf = (store: FullClientStore): unknown => {
  const kept = store.loadDocuments()
  if (kept === undefined) return undefined
  const documents = [...kept.documents].sort((a, b) => (a.document.docId < b.document.docId ? -1 : a.document.docId > b.document.docId ? 1 : 0))
  return toPlain({ documents, covered: kept.covered, clock: kept.clock })
}
const CLOCK = { wallMs: 1_700_000_000_444, counter: 3, node: 'c-7f3a' }
const strictWritesOf = (store: FullClientStore): unknown => toPlain([...store.loadStrictWrites()].sort((a, b) => a.writeId - b.writeId))

const storedDocument = (docId: string, tag: number): StoredDocumentState => ({
  document: { collection: 'notes', docId, docType: 'lww', state: Uint8Array.from([tag, tag + 1, tag + 2]) },
  ownSeq: tag,
  ownHlc: { wallMs: 1_700_000_000_000 + tag, counter: 0, node: 'c-7f3a' },
  remoteHlc: null,
})
const strictWrite = (writeId: number, sent: boolean): StoredStrictWrite => ({
  writeId,
  collection: 'accounts',
  request: { op: { kind: 'put', collection: 'accounts', id: `a${writeId}`, value: { balance: writeId } }, concern: 'majority', timeoutMs: null, requestKey: `k${writeId}` },
  queuedAtMs: 1_700_000_000_000 + writeId,
  sent,
})

/** A change with a chosen id, the rest random. */
const arbChangeAt = fc.tuple(arbChange, fc.constantFrom(...ORIGINS), fc.integer({ min: 1, max: 12 })).map(([c, origin, seq]): Change => ({ ...c, origin, seq }))

type Op =
  | { readonly kind: 'append'; readonly change: Change }
  | { readonly kind: 'drop'; readonly upTo: VersionVector }
  | { readonly kind: 'documents'; readonly docIds: readonly string[]; readonly tag: number; readonly covered: VersionVector; readonly removed: readonly string[] }
  | { readonly kind: 'saveStrict'; readonly writeId: number; readonly sent: boolean }
  | { readonly kind: 'deleteStrict'; readonly writeId: number }
  | { readonly kind: 'reopen' }

const arbVector = fc.array(fc.tuple(fc.constantFrom(...ORIGINS), fc.integer({ min: 0, max: 12 })), { maxLength: 3 }).map((pairs) => new Map(pairs))
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: arbChangeAt.map((change) => ({ kind: 'append' as const, change })) },
  { weight: 1, arbitrary: arbVector.map((upTo) => ({ kind: 'drop' as const, upTo })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.uniqueArray(fc.constantFrom<string>('d1', 'd2', 'd3', 'd4'), { maxLength: 3 }), fc.integer({ min: 0, max: 200 }), arbVector, fc.uniqueArray(fc.constantFrom('d1', 'd2', 'd3', 'd4', 'd5'), { maxLength: 2 }))
      // A document is saved or removed by one call, never both (the client removes what it no longer holds).
      .map(([docIds, tag, covered, removed]) => ({ kind: 'documents' as const, docIds, tag, covered, removed: removed.filter((id) => !docIds.includes(id)) })),
  },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 6 }), fc.boolean()).map(([writeId, sent]) => ({ kind: 'saveStrict' as const, writeId, sent })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }).map((writeId) => ({ kind: 'deleteStrict' as const, writeId })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
)

/** Applies `op` without waiting (calls of one run share a transaction); returns the call's promise. */
function apply(store: FullClientStore, op: Exclude<Op, { kind: 'reopen' }>): void | Promise<void> {
  switch (op.kind) {
    case 'append':
      return store.append(op.change)
    case 'drop':
      return store.dropChanges(op.upTo)
    case 'documents':
      // The clock of a save: some calls give none (it is optional), and the last one given is kept.
      return store.saveDocuments(
        op.docIds.map((docId) => storedDocument(docId, op.tag)),
        op.covered,
        op.tag % 3 === 0 ? undefined : { wallMs: 1_700_000_000_000 + op.tag, counter: op.tag % 5, node: 'c-7f3a' },
        op.removed.map((docId) => documentKey('notes', docId)),
      )
    case 'saveStrict':
      return store.saveStrictWrite(strictWrite(op.writeId, op.sent))
    case 'deleteStrict':
      return store.deleteStrictWrite(op.writeId)
  }
}

export function runClientStoreContract(name: string, options: ClientStoreContractOptions): void {
  describe(`ClientStore contract: ${name}`, () => {
    it('a new store holds nothing', async () => {
      const store = await options.open()
      expect([...store.load()]).toEqual([])
      expect(store.loadDocuments()).toBeUndefined()
      expect([...store.loadStrictWrites()]).toEqual([])
      await store.close()
    })

    it('[§8] kept changes, documents and strict writes come back after a reopen, exactly', async () => {
      let store = await options.open()
      const a: Change = { origin: 'c-7f3a', seq: 1, hlc: { wallMs: 1_700_000_000_001, counter: 2, node: 'c-7f3a' }, collection: 'notes', docId: 'd1', docType: 'lww', payload: Uint8Array.from([1, 2, 3]) }
      const b: Change = { ...a, origin: 'eu-1', seq: 4, author: { origin: 'c-9', seq: 2 }, docType: 'yjs', payload: Uint8Array.from([9]) }
      await Promise.all([store.append(a), store.append(b), store.saveDocuments([storedDocument('d1', 7)], new Map([['eu-1', 3]]), CLOCK), store.saveStrictWrite(strictWrite(1, false))])
      store = await options.reopen(store)
      expect(changesOf(store)).toEqual(toPlain([a, b].sort(byId)))
      expect(documentsOf(store)).toEqual(toPlain({ documents: [storedDocument('d1', 7)], covered: new Map([['eu-1', 3]]), clock: CLOCK }))
      expect(strictWritesOf(store)).toEqual(toPlain([strictWrite(1, false)]))
      await store.close()
    })

    it('calls take effect in call order, also within one synchronous run', async () => {
      let store = await options.open()
      const change = (origin: string, seq: number): Change => ({ origin, seq, hlc: { wallMs: 1_700_000_000_000 + seq, counter: 0, node: origin }, collection: 'notes', docId: 'd1', docType: 'lww', payload: Uint8Array.from([seq]) })
      // Appended, then dropped; dropped, then appended again above the cut; saved, then deleted.
      const calls = [
        store.append(change('eu-1', 1)),
        store.append(change('eu-1', 2)),
        store.dropChanges(new Map([['eu-1', 2]])),
        store.append(change('eu-1', 3)),
        store.saveStrictWrite(strictWrite(5, false)),
        store.deleteStrictWrite(5),
        store.saveStrictWrite(strictWrite(6, false)),
        store.saveStrictWrite(strictWrite(6, true)),
      ]
      await Promise.all(calls)
      store = await options.reopen(store)
      expect(changesOf(store)).toEqual(toPlain([change('eu-1', 3)]))
      expect(strictWritesOf(store)).toEqual(toPlain([strictWrite(6, true)]))
      await store.close()
    })

    it('random calls with reopens in between keep exactly what the model keeps', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(arbOp, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), async (runs) => {
          let store = await options.open()
          const model = memoryClientStore()
          const appended = new Set<string>()
          try {
            for (const run of runs) {
              const pending: (void | Promise<void>)[] = []
              for (const op of run) {
                if (op.kind === 'reopen') continue
                // A client appends each change once (the mesh drops what it holds): ids are not reused.
                if (op.kind === 'append') {
                  const id = `${op.change.origin}:${op.change.seq}`
                  if (appended.has(id)) continue
                  appended.add(id)
                }
                apply(model, op)
                pending.push(apply(store, op))
              }
              await Promise.all(pending)
              if (run.some((op) => op.kind === 'reopen')) store = await options.reopen(store)
            }
            store = await options.reopen(store)
            expect(changesOf(store)).toEqual(changesOf(model))
            expect(documentsOf(store)).toEqual(documentsOf(model))
            expect(strictWritesOf(store)).toEqual(strictWritesOf(model))
          } finally {
            await store.close()
          }
        }),
        { numRuns: options.numRuns ?? 40 },
      )
    })
  })
}

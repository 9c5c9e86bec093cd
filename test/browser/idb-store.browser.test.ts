import fc from 'fast-check'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryClientStore, type StoredStrictWrite } from '../../client/store.js'
import { decodeStoredDocumentState, encodeStoredDocumentState, type StoredDocumentState } from '../../core/codec/document-state.js'
import { decodeChange, encodeChange } from '../../core/codec/index.js'
import type { Change } from '../../core/types.js'
import { toPlain } from '../core/codec/plain.js'
import { arbChange } from '../helpers/arbitraries.js'
import { HAVE_CHROMIUM, launchChromium, servePage } from './harness.js'

/**
 * The IndexedDB client store in real Chromium: calls made in the page, the page reloaded in between
 * (a real reopen of the database), the result checked against the memory store as the model.
 */

interface PageApi {
  open(name: string): Promise<string>
  append(changes: number[][]): Promise<void>
  dropChanges(upTo: [string, number][]): Promise<void>
  load(): number[][]
  saveDocuments(documents: number[][], covered: [string, number][]): Promise<void>
  loadDocuments(): { documents: number[][]; covered: [string, number][] } | null
  saveStrictWrite(write: StoredStrictWrite): Promise<void>
  deleteStrictWrite(writeId: number): Promise<void>
  loadStrictWrites(): StoredStrictWrite[]
  size(name: string): Promise<{ usage: number; records: Record<string, number> }>
  close(): Promise<void>
}
declare global {
  // eslint-disable-next-line no-var
  var meridianIdb: PageApi
}

const ORIGINS = ['eu-1', 'us-1', 'c-7f3a']
const arbChangeAt = fc.tuple(arbChange, fc.constantFrom(...ORIGINS), fc.integer({ min: 1, max: 30 })).map(([c, origin, seq]): Change => ({ ...c, origin, seq }))
type Op =
  | { kind: 'append'; changes: Change[] }
  | { kind: 'drop'; upTo: [string, number][] }
  | { kind: 'documents'; docIds: string[]; tag: number; covered: [string, number][] }
  | { kind: 'saveStrict'; writeId: number; sent: boolean }
  | { kind: 'deleteStrict'; writeId: number }
  | { kind: 'reload' }
const storedDocument = (docId: string, tag: number): StoredDocumentState => ({
  document: { collection: 'notes', docId, docType: 'lww', state: Uint8Array.from([tag % 256, 7]) },
  ownSeq: tag,
  ownHlc: null,
  remoteHlc: { wallMs: 1_700_000_000_000 + tag, counter: 1, node: 'eu-1' },
})
const strictWrite = (writeId: number, sent: boolean): StoredStrictWrite => ({
  writeId,
  collection: 'accounts',
  request: { op: { kind: 'patch', collection: 'accounts', id: `a${writeId}`, fields: { balance: writeId } }, concern: 'majority', timeoutMs: 5000, requestKey: `k${writeId}` },
  queuedAtMs: 1_700_000_000_000 + writeId,
  sent,
})
const arbPairs = fc.array(fc.tuple(fc.constantFrom('eu-1', 'us-1', 'c-7f3a'), fc.integer({ min: 0, max: 30 })), { maxLength: 2 })
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.array(arbChangeAt, { minLength: 1, maxLength: 5 }).map((changes) => ({ kind: 'append' as const, changes })) },
  { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(...ORIGINS), fc.integer({ min: 0, max: 30 })), { maxLength: 2 }).map((upTo) => ({ kind: 'drop' as const, upTo })) },
  { weight: 1, arbitrary: fc.tuple(fc.uniqueArray(fc.constantFrom('d1', 'd2', 'd3'), { maxLength: 2 }), fc.integer({ min: 0, max: 500 }), arbPairs).map(([docIds, tag, covered]) => ({ kind: 'documents' as const, docIds, tag, covered })) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.boolean()).map(([writeId, sent]) => ({ kind: 'saveStrict' as const, writeId, sent })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((writeId) => ({ kind: 'deleteStrict' as const, writeId })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reload' as const }) },
)
const byId = (a: Change, b: Change): number => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq)
const wire = (change: Change): number[] => [...encodeChange(change)]

describe.skipIf(!HAVE_CHROMIUM)('[§8] the IndexedDB client store in Chromium', () => {
  let browser: Browser
  let page: Page
  let served: Awaited<ReturnType<typeof servePage>>
  let databases = 0

  beforeAll(async () => {
    served = await servePage('idb-page.ts')
    browser = await launchChromium()
    page = await (await browser.newContext()).newPage()
    await load()
  })
  afterAll(async () => {
    await browser?.close()
    await served?.close()
  })

  async function load(): Promise<void> {
    await page.goto(served.url)
    await page.waitForFunction(() => document.title === 'ready')
  }

  const reopen = async (name: string): Promise<void> => {
    await page.evaluate(() => globalThis.meridianIdb.close())
    await load()
    await page.evaluate((db) => globalThis.meridianIdb.open(db), name)
  }

  it('keeps the writer id, changes, documents and strict writes across page reloads, as the memory model does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { minLength: 1, maxLength: 10 }), async (randomOps) => {
        // Every run starts with each kind of call once, a reload among them, then goes on at random.
        const ops: Op[] = [
          { kind: 'saveStrict', writeId: 1, sent: false },
          { kind: 'saveStrict', writeId: 2, sent: false },
          { kind: 'documents', docIds: ['d1'], tag: 1, covered: [['eu-1', 1]] },
          { kind: 'reload' },
          { kind: 'deleteStrict', writeId: 1 },
          { kind: 'saveStrict', writeId: 2, sent: true },
          ...randomOps,
        ]
        const name = `contract-${++databases}`
        const clientId = await page.evaluate((db) => globalThis.meridianIdb.open(db), name)
        const model = memoryClientStore()
        const seen = new Set<string>()
        for (const op of ops) {
          if (op.kind === 'reload') {
            await reopen(name)
            continue
          }
          if (op.kind === 'documents') {
            const documents = op.docIds.map((docId) => storedDocument(docId, op.tag))
            model.saveDocuments(documents, new Map(op.covered))
            await page.evaluate(([docs, covered]) => globalThis.meridianIdb.saveDocuments(docs, covered), [documents.map((d) => [...encodeStoredDocumentState(d)]), op.covered] as const)
            continue
          }
          if (op.kind === 'saveStrict') {
            model.saveStrictWrite(strictWrite(op.writeId, op.sent))
            // As JSON: the record is plain data, and Playwright's argument type is too deep for it.
            await page.evaluate((json) => globalThis.meridianIdb.saveStrictWrite(JSON.parse(json) as StoredStrictWrite), JSON.stringify(strictWrite(op.writeId, op.sent)))
            continue
          }
          if (op.kind === 'deleteStrict') {
            model.deleteStrictWrite(op.writeId)
            await page.evaluate((writeId) => globalThis.meridianIdb.deleteStrictWrite(writeId), op.writeId)
            continue
          }
          if (op.kind === 'drop') {
            model.dropChanges(new Map(op.upTo))
            await page.evaluate((upTo) => globalThis.meridianIdb.dropChanges(upTo), op.upTo)
            continue
          }
          // A client appends each change once: ids are not reused.
          const fresh = op.changes.filter((c) => !seen.has(`${c.origin}:${c.seq}`) && seen.add(`${c.origin}:${c.seq}`))
          for (const change of fresh) model.append(change)
          await page.evaluate((changes) => globalThis.meridianIdb.append(changes), fresh.map(wire))
        }
        await reopen(name)
        const kept = (await page.evaluate(() => globalThis.meridianIdb.load())).map((bytes) => decodeChange(Uint8Array.from(bytes)))
        expect(toPlain(kept.sort(byId))).toEqual(toPlain([...model.load()].sort(byId)))
        const documents = await page.evaluate(() => globalThis.meridianIdb.loadDocuments())
        const modelDocuments = model.loadDocuments()
        const byDoc = (a: StoredDocumentState, b: StoredDocumentState): number => (a.document.docId < b.document.docId ? -1 : a.document.docId > b.document.docId ? 1 : 0)
        expect(
          documents === null ? null : toPlain({ documents: documents.documents.map((bytes) => decodeStoredDocumentState(Uint8Array.from(bytes))).sort(byDoc), covered: new Map(documents.covered) }),
        ).toEqual(modelDocuments === undefined ? null : toPlain({ documents: [...modelDocuments.documents].sort(byDoc), covered: modelDocuments.covered }))
        const writes = await page.evaluate(() => globalThis.meridianIdb.loadStrictWrites())
        expect(writes.sort((a, b) => a.writeId - b.writeId)).toEqual([...model.loadStrictWrites()].sort((a, b) => a.writeId - b.writeId))
        // The page holds the store's lock: close it before opening it again.
        await page.evaluate(() => globalThis.meridianIdb.close())
        expect(await page.evaluate((db) => globalThis.meridianIdb.open(db), name)).toBe(clientId)
        await page.evaluate(() => globalThis.meridianIdb.close())
      }),
      { numRuns: 8 },
    )
  })

  it('100 reopen cycles (page reload, open, close) without edits: the same records, the database does not grow', async () => {
    const name = 'reopened-100'
    await page.evaluate((db) => globalThis.meridianIdb.open(db), name)
    // 500 documents, 20 changes and a strict write: a store with something in each object store.
    const documents = Array.from({ length: 500 }, (_, i) => [...encodeStoredDocumentState(storedDocument(`doc-${i}`, i))])
    const covered: [string, number][] = [['eu-1', 500]]
    await page.evaluate(([docs, vector]) => globalThis.meridianIdb.saveDocuments(docs, vector), [documents, covered] as const)
    const changes = Array.from({ length: 20 }, (_, i): Change => ({ origin: 'c-7f3a', seq: i + 1, hlc: { wallMs: 1_700_000_000_000 + i, counter: 0, node: 'c-7f3a' }, collection: 'notes', docId: `doc-${i}`, docType: 'lww', payload: Uint8Array.from([i]) }))
    await page.evaluate((wires) => globalThis.meridianIdb.append(wires), changes.map(wire))
    await page.evaluate((json) => globalThis.meridianIdb.saveStrictWrite(JSON.parse(json) as StoredStrictWrite), JSON.stringify(strictWrite(1, false)))
    // The first reopen folds the 500 documents into the pack; measure from the second.
    await reopen(name)
    await reopen(name)
    await page.evaluate(() => globalThis.meridianIdb.close())
    const before = await page.evaluate((db) => globalThis.meridianIdb.size(db), name)
    for (let cycle = 0; cycle < 100; cycle++) {
      await load()
      await page.evaluate((db) => globalThis.meridianIdb.open(db), name)
      await page.evaluate(() => globalThis.meridianIdb.close())
    }
    const after = await page.evaluate((db) => globalThis.meridianIdb.size(db), name)
    console.log(`[reopen] 100 cycles: origin usage ${before.usage} → ${after.usage} bytes; records ${JSON.stringify(after.records)}`)
    expect(after.records).toEqual(before.records)
    expect(before.records).toMatchObject({ documents: 0, packs: 1, changes: 20, strictWrites: 1 })
    // Nothing was written: the files IndexedDB keeps stay as they were (a little slack for its own bookkeeping).
    expect(after.usage).toBeLessThanOrEqual(before.usage + 16 * 1024)
  })
})

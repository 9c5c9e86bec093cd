/**
 * Runs in Chromium (bundled by test/browser/harness.ts): exposes the IndexedDB client store to the
 * Node test, which drives it call by call through `page.evaluate` and reloads the page in between.
 */
import { decodeChange, encodeChange } from '../../core/codec/index.js'
import type { Change } from '../../core/types.js'
import { decodeStoredDocumentState, encodeStoredDocumentState } from '../../core/codec/document-state.js'
import { openIdbClientStore, type IdbClientStore } from '../../client/idb-store.js'
import type { StoredStrictWrite } from '../../client/store.js'

/** A change crosses the page boundary as its encoding (plain numbers), so nothing is lost in between. */
type WireChange = number[]

let store: IdbClientStore | null = null

const api = {
  async open(name: string): Promise<string> {
    store = await openIdbClientStore(name)
    return store.clientId
  },
  async append(changes: WireChange[]): Promise<void> {
    const s = store as IdbClientStore
    await Promise.all(changes.map((bytes) => s.append(decodeChange(Uint8Array.from(bytes)))))
  },
  async dropChanges(upTo: [string, number][]): Promise<void> {
    await (store as IdbClientStore).dropChanges(new Map(upTo))
  },
  async saveDocuments(documents: number[][], covered: [string, number][]): Promise<void> {
    await (store as IdbClientStore).saveDocuments(documents.map((bytes) => decodeStoredDocumentState(Uint8Array.from(bytes))), new Map(covered))
  },
  loadDocuments(): { documents: number[][]; covered: [string, number][] } | null {
    const kept = (store as IdbClientStore).loadDocuments()
    return kept === undefined ? null : { documents: [...kept.documents].map((d) => [...encodeStoredDocumentState(d)]), covered: [...kept.covered] }
  },
  async saveStrictWrite(write: StoredStrictWrite): Promise<void> {
    await (store as IdbClientStore).saveStrictWrite(write)
  },
  async deleteStrictWrite(writeId: number): Promise<void> {
    await (store as IdbClientStore).deleteStrictWrite(writeId)
  },
  loadStrictWrites(): StoredStrictWrite[] {
    return [...(store as IdbClientStore).loadStrictWrites()]
  },
  load(): WireChange[] {
    return [...(store as IdbClientStore).load()].map((change: Change) => [...encodeChange(change)])
  },
  /** Bytes the origin uses (navigator.storage.estimate) and the records of each object store of `name`. */
  async size(name: string): Promise<{ usage: number; records: Record<string, number> }> {
    const usage = (await navigator.storage.estimate()).usage ?? 0
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    const records: Record<string, number> = {}
    for (const store of Array.from(db.objectStoreNames)) {
      records[store] = await new Promise<number>((resolve, reject) => {
        const request = db.transaction(store).objectStore(store).count()
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    }
    db.close()
    return { usage, records }
  },
  async close(): Promise<void> {
    await store?.close()
    store = null
  },
}

;(globalThis as { meridianIdb?: typeof api }).meridianIdb = api
document.title = 'ready'

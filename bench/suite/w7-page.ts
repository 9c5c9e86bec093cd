/**
 * The page W7 loads in Chromium (bundled by test/browser/harness.ts's servePage): it seeds IndexedDB with
 * documents once, then, on every reload, measures a cold start as an app would see it — open the store,
 * restore the client from it, build the first screen of rows — and leaves the figures on `globalThis`.
 */
import { createClient } from '../../client/client.js'
import { openIdbClientStore } from '../../client/idb-store.js'
import { decodeStoredDocumentState } from '../../core/codec/document-state.js'

const DATABASE = 'meridian-bench-cold'
const FIRST_SCREEN_ROWS = 100

const api = {
  /** Stores documents (encoded stored states) and the vector they cover, as a synced client would. */
  async seed(documents: number[][], covered: [string, number][]): Promise<void> {
    const store = await openIdbClientStore(DATABASE)
    await store.saveDocuments(documents.map((d) => decodeStoredDocumentState(Uint8Array.from(d))), new Map(covered))
    await store.close()
  },
  /** One cold start: ms to open the store, to restore the client, and to the first frame with a screenful. */
  async coldStart(): Promise<{ open: number; restore: number; firstScreen: number; documents: number }> {
    const t0 = performance.now()
    const store = await openIdbClientStore(DATABASE)
    const t1 = performance.now()
    // A port nothing listens on: the client starts offline, from the store alone.
    const client = createClient({ urls: ['ws://127.0.0.1:9/sync'], store })
    const notes = client.lww<{ title: string }>('notes')
    const ids = notes.ids()
    const t2 = performance.now()
    const list = document.createElement('ul')
    for (const id of ids.slice(0, FIRST_SCREEN_ROWS)) {
      const row = document.createElement('li')
      row.textContent = notes.get(id)?.title ?? ''
      list.append(row)
    }
    document.body.append(list)
    await new Promise((resolve) => requestAnimationFrame(() => resolve(null)))
    const t3 = performance.now()
    await client.close()
    return { open: t1 - t0, restore: t2 - t1, firstScreen: t3 - t0, documents: ids.length }
  },
}
;(globalThis as unknown as { coldStartBench: typeof api }).coldStartBench = api
document.title = 'ready'

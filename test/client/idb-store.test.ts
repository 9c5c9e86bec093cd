import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import { describe, expect, it, vi } from 'vitest'
import { ClientStoreError, openIdbClientStore } from '../../client/idb-store.js'
import { exclusiveLocks } from '../helpers/fake-locks.js'
import { memoryClientStore } from '../../client/store.js'
import { encodeStoredDocumentState, type StoredDocumentState } from '../../core/codec/document-state.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/lww.js'
import { createNodeClient } from '../../client/node.js'
import { runClientStoreContract, type FullClientStore } from '../helpers/client-store-contract.js'

let databases = 0
const named = new WeakMap<FullClientStore, string>()
async function open(name = `meridian-test-${++databases}`): Promise<FullClientStore> {
  const store = await openIdbClientStore(name)
  named.set(store, name)
  return store
}

runClientStoreContract('IndexedDB (fake-indexeddb)', {
  open: () => open(),
  reopen: async (store) => {
    const name = named.get(store) as string
    await store.close()
    return open(name)
  },
})

runClientStoreContract('memory', {
  open: async () => memoryClientStore(),
  // Nothing of it survives a process, but within one it keeps everything: "reopen" is the same object.
  reopen: async (store) => store,
})

describe('IndexedDB client store', () => {
  it('a call after close fails with a typed error, and close is idempotent', async () => {
    const store = await open()
    await store.close()
    await store.close()
    await expect(store.saveStrictWrite({ writeId: 1, collection: 'a', request: { op: { kind: 'delete', collection: 'a', id: 'x' }, concern: 'local', timeoutMs: null, requestKey: null }, queuedAtMs: 0, sent: false })).rejects.toMatchObject({ name: 'ClientStoreError', code: 'closed' })
  })

  it('keeps one writer id across reopens, and a client refuses another id on that store', async () => {
    const store = await open('ids')
    expect(store.clientId).toMatch(/^c-[0-9a-z]{12}$/)
    const again = await (async () => {
      await store.close()
      return open('ids')
    })()
    expect(again.clientId).toBe(store.clientId)
    expect(() => createNodeClient({ urls: ['ws://127.0.0.1:9'], store: again, clientId: 'c-someoneelse' })).toThrow(TypeError)
    await again.close()
  })

  it('reopening 100 times without edits adds no record: the database does not grow', async () => {
    const factory = new IDBFactory()
    const count = async (): Promise<number[]> => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = factory.open('reopened')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const tx = db.transaction(['changes', 'documents', 'meta', 'strictWrites'], 'readonly')
      const counts = await Promise.all(
        ['changes', 'documents', 'meta', 'strictWrites'].map(
          (name) =>
            new Promise<number>((resolve, reject) => {
              const request = tx.objectStore(name).count()
              request.onsuccess = () => resolve(request.result)
              request.onerror = () => reject(request.error)
            }),
        ),
      )
      db.close()
      return counts
    }
    const first = await openIdbClientStore('reopened', { indexedDB: factory })
    await Promise.all([
      first.append({ origin: first.clientId, seq: 1, hlc: { wallMs: 1, counter: 0, node: first.clientId }, collection: 'notes', docId: 'd', docType: 'lww', payload: Uint8Array.from([1]) }),
      first.saveDocuments([], new Map([['eu-1', 1]])),
    ])
    await first.close()
    const before = await count()
    for (let i = 0; i < 100; i++) await (await openIdbClientStore('reopened', { indexedDB: factory })).close()
    expect(await count()).toEqual(before)
    expect(before).toEqual([1, 0, 2, 0])
  })

  it('reports a full quota as ClientStoreError quota-exceeded, for every call of that transaction', async () => {
    const store = await open()
    // The first put of the transaction succeeds, the second finds the quota full.
    const original = IDBObjectStore.prototype.put
    let puts = 0
    const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (++puts === 2) throw new DOMException('the quota has been exceeded', 'QuotaExceededError')
      return original.apply(this, args)
    })
    try {
      const change = { origin: 'c-1', seq: 1, hlc: { wallMs: 1, counter: 0, node: 'c-1' }, collection: 'notes', docId: 'd', docType: 'lww' as const, payload: Uint8Array.from([1]) }
      const calls = [store.append(change), store.saveStrictWrite({ writeId: 1, collection: 'a', request: { op: { kind: 'delete', collection: 'a', id: 'x' }, concern: 'local', timeoutMs: null, requestKey: null }, queuedAtMs: 0, sent: false })]
      for (const call of calls) await expect(call).rejects.toMatchObject({ name: 'ClientStoreError', code: 'quota-exceeded' })
    } finally {
      put.mockRestore()
    }
    expect(puts).toBe(2)
    // Nothing of the failed transaction was kept, not even the call that had succeeded.
    const name = named.get(store) as string
    await store.close()
    const reopened = await open(name)
    expect([...reopened.load()]).toEqual([])
    await reopened.close()
  })

  it('refuses, with a typed error, a database of that name it did not make or cannot read', async () => {
    const factory = new IDBFactory()
    const raw = (name: string, version: number): Promise<IDBDatabase> =>
      new Promise((resolve, reject) => {
        const request = factory.open(name, version)
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    // A newer schema (a later version of Meridian ran here): opening it at ours fails.
    ;(await raw('newer', 3)).close()
    await expect(openIdbClientStore('newer', { indexedDB: factory })).rejects.toMatchObject({ name: 'ClientStoreError', code: 'io' })
    // Another app's database with the same name and version: none of our object stores.
    ;(await raw('foreign', 1)).close()
    await expect(openIdbClientStore('foreign', { indexedDB: factory })).rejects.toMatchObject({ name: 'ClientStoreError', code: 'io' })
  })

  it('reports a stored record that does not decode as corrupt', async () => {
    const factory = new IDBFactory()
    const store = await openIdbClientStore('broken', { indexedDB: factory })
    await store.close()
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open('broken')
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('changes', 'readwrite')
      tx.objectStore('changes').put(Uint8Array.from([0xff, 0xff]), ['x', 1])
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
    })
    db.close()
    await expect(openIdbClientStore('broken', { indexedDB: factory })).rejects.toMatchObject({ name: 'ClientStoreError', code: 'corrupt' })
  })

  it('closes itself, and says so, when another tab opens a newer version', async () => {
    const factory = new IDBFactory()
    const closed: ClientStoreError[] = []
    const store = await openIdbClientStore('upgrading', { indexedDB: factory, onClosed: (err) => closed.push(err) })
    const newer = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open('upgrading', 3)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    expect(closed.map((err) => err.code)).toEqual(['closed'])
    await expect(store.deleteStrictWrite(1)).rejects.toMatchObject({ code: 'closed' })
    newer.close()
  })

  it('lets one client at a time use a store: a second open fails with locked, or waits for the first to close', async () => {
    const locks = exclusiveLocks()
    const factory = new IDBFactory()
    const first = await openIdbClientStore('shared', { indexedDB: factory, locks })
    await expect(openIdbClientStore('shared', { indexedDB: factory, locks, lockWaitMs: 30 })).rejects.toMatchObject({ name: 'ClientStoreError', code: 'locked' })
    // Another name is another lock.
    const other = await openIdbClientStore('other', { indexedDB: factory, locks })
    let waited: FullClientStore | null = null
    const waiting = openIdbClientStore('shared', { indexedDB: factory, locks, whenLocked: 'wait' }).then((store) => (waited = store))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(waited).toBeNull()
    await first.close()
    const second = await waiting
    // The same database: the writer id came from it, not from a new one.
    expect(second.clientId).toBe(first.clientId)
    await second.close()
    await other.close()
    // A failed open releases the lock it took.
    const store = await openIdbClientStore('shared', { indexedDB: factory, locks })
    await store.close()
  })
})

describe('IndexedDB document packs', () => {
  const stored = (docId: string, title: string): StoredDocumentState => {
    const replica = new LwwReplica({ collection: 'notes', docId })
    const hlc = { wallMs: 1_000 + title.length, counter: 0, node: 'eu-1' }
    replica.apply({ origin: 'eu-1', seq: 1, hlc, collection: 'notes', docId, docType: 'lww', payload: lwwPutPayload(replica, { title }) })
    return { document: { collection: 'notes', docId, docType: 'lww', state: replica.encodeState() }, ownSeq: 0, ownHlc: null, remoteHlc: hlc }
  }
  const titles = (store: FullClientStore): Record<string, unknown> =>
    Object.fromEntries(
      [...(store.loadDocuments()?.documents ?? [])].map((d) => {
        const replica = new LwwReplica({ collection: 'notes', docId: d.document.docId })
        replica.mergeState(d.document.state)
        return [d.document.docId, (replica.view() as { title: string }).title]
      }),
    )
  const counts = async (factory: IDBFactory, name: string): Promise<{ documents: number; packs: number }> => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(name)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    const tx = db.transaction(['documents', 'packs'])
    const count = (store: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const request = tx.objectStore(store).count()
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    const out = { documents: await count('documents'), packs: await count('packs') }
    db.close()
    return out
  }

  it('folds documents saved one by one into one record at the next open, newer records overriding the pack', async () => {
    const factory = new IDBFactory()
    const first = await openIdbClientStore('packed', { indexedDB: factory })
    const expected: Record<string, unknown> = {}
    const docs = Array.from({ length: 100 }, (_, i) => stored(`d${i}`, `title ${i}`))
    for (const [i] of docs.entries()) expected[`d${i}`] = `title ${i}`
    await first.saveDocuments(docs, new Map([['eu-1', 1]]))
    await first.close()
    expect(await counts(factory, 'packed')).toEqual({ documents: 100, packs: 0 })

    const second = await openIdbClientStore('packed', { indexedDB: factory })
    expect(titles(second)).toEqual(expected)
    // Saved after the fold: records of their own again, newer than the pack.
    await second.saveDocuments([stored('d3', 'changed'), stored('new', 'added')], new Map([['eu-1', 1]]))
    await second.close()
    expect(await counts(factory, 'packed')).toEqual({ documents: 2, packs: 1 })

    const third = await openIdbClientStore('packed', { indexedDB: factory })
    expect(titles(third)).toEqual({ ...expected, d3: 'changed', new: 'added' })
    await third.close()
    // Two loose records are too few to rewrite the pack for.
    expect(await counts(factory, 'packed')).toEqual({ documents: 2, packs: 1 })
  })

  it('forgets removed documents (a refused write rolled them back): their records and their copies in the pack', async () => {
    const factory = new IDBFactory()
    const first = await openIdbClientStore('removed', { indexedDB: factory })
    const docs = Array.from({ length: 100 }, (_, i) => stored(`d${i}`, `title ${i}`))
    await first.saveDocuments(docs, new Map([['eu-1', 1]]))
    await first.close()
    // The next open folds the hundred into the pack; d1 and d2 are then removed, a new one saved.
    const second = await openIdbClientStore('removed', { indexedDB: factory })
    expect(Object.keys(titles(second))).toHaveLength(100)
    await second.saveDocuments([stored('new', 'added')], new Map([['eu-1', 2]]), undefined, ['notes\u0000d1', 'notes\u0000d2'])
    await second.close()
    const third = await openIdbClientStore('removed', { indexedDB: factory })
    const after = titles(third)
    expect(after['d1']).toBeUndefined()
    expect(after['d2']).toBeUndefined()
    expect(after['new']).toBe('added')
    expect(Object.keys(after)).toHaveLength(99)
    await third.close()
  })

  it('reports a blocked upgrade: another tab holds the older version open and does not let go', async () => {
    const factory = new IDBFactory()
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open('held', 1)
      request.onupgradeneeded = () => {
        for (const name of ['changes', 'documents', 'meta', 'strictWrites']) request.result.createObjectStore(name)
      }
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    // An old page that ignores `versionchange` (it should close): the upgrade to version 2 waits on it.
    old.onversionchange = () => undefined
    await expect(openIdbClientStore('held', { indexedDB: factory })).rejects.toMatchObject({ name: 'ClientStoreError', code: 'blocked' })
    // Once it lets go, the store opens (the refused open did not leave a connection behind).
    old.close()
    const store = await openIdbClientStore('held', { indexedDB: factory })
    await store.close()
  })

  it('upgrades a version-1 database in place, keeping what it holds', async () => {
    const factory = new IDBFactory()
    const record = encodeStoredDocumentState(stored('old', 'from v1'))
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open('v1', 1)
      request.onupgradeneeded = () => {
        for (const name of ['changes', 'documents', 'meta', 'strictWrites']) request.result.createObjectStore(name)
      }
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(['documents', 'meta'], 'readwrite')
      tx.objectStore('documents').put(record, 'notes\u0000old')
      tx.objectStore('meta').put([['eu-1', 1]], 'covered')
      tx.objectStore('meta').put('c-kept', 'clientId')
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
    })
    db.close()
    const store = await openIdbClientStore('v1', { indexedDB: factory })
    expect(store.clientId).toBe('c-kept')
    expect(titles(store)).toEqual({ old: 'from v1' })
    await store.close()
  })

  it('reports a pack that does not decode as corrupt', async () => {
    const factory = new IDBFactory()
    await (await openIdbClientStore('bad-pack', { indexedDB: factory })).close()
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open('bad-pack')
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('packs', 'readwrite')
      tx.objectStore('packs').put(Uint8Array.from([1, 5, 0xff]), 0)
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
    })
    db.close()
    await expect(openIdbClientStore('bad-pack', { indexedDB: factory })).rejects.toMatchObject({ name: 'ClientStoreError', code: 'corrupt' })
  })
})

/** A model of the Web Locks API's exclusive mode: one holder per name, waiters served in order, aborts. */

/**
 * A client store on IndexedDB (docs/client.md, "Keeping data in the browser"), through the `idb` package:
 * the outbox and the changes the client holds, its documents as state (docs/design.md §6) and its
 * strict write queue survive reloads and browser restarts.
 *
 * ```
 * changes       key [origin, seq]     encodeChange bytes
 * documents     key collection\0docId encodeStoredDocumentState bytes
 * meta          key 'covered'         the vector the last saveDocuments covered, as [origin, seq] pairs
 * strictWrites  key writeId           StoredStrictWrite (plain data)
 * packs         key 0                 many documents in one record (idb-pack.ts), folded in at open
 * ```
 *
 * Every call is queued and the calls made in one synchronous run share one read-write transaction over
 * all four stores, created in call order: IndexedDB runs such transactions one after another, and each
 * commits whole or not at all, so a crash keeps a prefix of the calls, as `ClientStore` asks. A call's
 * promise resolves when its transaction has committed (with `durability: 'strict'` where the browser
 * supports it, so the outbox is on disk, not only in the OS cache).
 *
 * @example
 * ```ts
 * import { createClient } from 'meridian/client'
 * import { openIdbClientStore } from 'meridian/client/idb'
 * const store = await openIdbClientStore('my-app')
 * const client = createClient({ urls, store })
 * ```
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb'
import { decodeChange, encodeChange } from '../core/codec/index.js'
import { decodeStoredDocumentState, encodeStoredDocumentState, type StoredDocumentState } from '../core/codec/document-state.js'
import { documentKey } from '../core/mesh/mesh-node.js'
import type { Change, Hlc, VersionVector } from '../core/types.js'
import { decodePack, encodePack } from './idb-pack.js'
import { cryptoRandom, randomClientId } from './random.js'
import type { ClientStore, StoredStrictWrite } from './store.js'

/**
 * Why a store call failed. `quota-exceeded`: the origin's storage is full; `blocked`, `locked`: see
 * `openIdbClientStore`.
 */
export type ClientStoreErrorCode = 'quota-exceeded' | 'blocked' | 'locked' | 'closed' | 'corrupt' | 'io'

export class ClientStoreError extends Error {
  override readonly name = 'ClientStoreError'
  constructor(
    readonly code: ClientStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

interface MeridianDb extends DBSchema {
  changes: { key: [string, number]; value: Uint8Array }
  documents: { key: string; value: Uint8Array }
  /** 'covered': [origin, seq] pairs; 'clock': the clock's high-water mark with it; 'clientId': the writer id. */
  meta: { key: string; value: [string, number][] | string | Hlc }
  strictWrites: { key: number; value: StoredStrictWrite }
  /** Key 0: the documents folded into one record (see idb-pack.ts). */
  packs: { key: number; value: Uint8Array }
}

/** 1: the four stores; 2: `packs` added (a version-1 database is upgraded in place). */
const DB_VERSION = 2
/** Documents saved as records of their own that make the next open fold them into the pack. */
const PACK_AFTER_RECORDS = 64
const PACK_KEY = 0
const DEFAULT_LOCK_WAIT_MS = 1000
const STORES = ['changes', 'documents', 'meta', 'strictWrites', 'packs'] as const
type Tx = IDBPTransaction<MeridianDb, typeof STORES, 'readwrite'>

export interface IdbClientStoreOptions {
  /** The IndexedDB factory; `globalThis.indexedDB` by default (tests pass fake-indexeddb's). */
  readonly indexedDB?: IDBFactory
  /**
   * The store stopped working after it opened: another tab opened a newer version of the database (this
   * connection closes so that it can upgrade), or the browser closed it. Later calls fail with
   * `ClientStoreError('closed')`.
   */
  readonly onClosed?: (error: ClientStoreError) => void
  /**
   * One client at a time may use a store: two would write as the same writer id and reuse its sequence
   * numbers. The store holds the Web Lock `meridian-store:<name>` while open. When another tab or
   * window holds it: `'fail'` (default) waits `lockWaitMs`, then rejects with
   * `ClientStoreError('locked')`; `'wait'` waits until it is released (the other tab closed the store,
   * or closed). Where the Web Locks API is missing (Node; the tests pass `locks`), nothing is locked.
   */
  readonly whenLocked?: 'fail' | 'wait'
  /**
   * With `whenLocked: 'fail'`, how long to wait for the lock first. Default 1000 ms: a reloaded page
   * may start before the browser has released the lock of the page it replaces.
   */
  readonly lockWaitMs?: number
  /** The Web Locks manager; `navigator.locks` by default. */
  readonly locks?: LockManagerLike
}

/** The part of the Web Locks API the store uses. */
export interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal; ifAvailable?: boolean }, callback: (lock: unknown) => Promise<void> | void): Promise<unknown>
}

/** The IndexedDB store, opened, with what an earlier session kept already read (`load` is synchronous). */
export type IdbClientStore = ClientStore &
  Required<Pick<ClientStore, 'clientId' | 'loadDocuments' | 'saveDocuments' | 'dropChanges' | 'loadStrictWrites' | 'saveStrictWrite' | 'deleteStrictWrite'>>

/**
 * Opens (creating on first use) the database `name` and reads what it holds. Rejects with
 * `ClientStoreError('blocked')` when another tab keeps an older version of the database open and does
 * not let go, and with `'corrupt'` when a stored record does not decode.
 */
export async function openIdbClientStore(name: string, options: IdbClientStoreOptions = {}): Promise<IdbClientStore> {
  const factory = options.indexedDB ?? globalThis.indexedDB
  if (factory === undefined) throw new ClientStoreError('io', 'IndexedDB is not available here (pass options.indexedDB)')
  const releaseLock = await holdStoreLock(name, options)
  try {
    return await openLocked(name, factory, options, releaseLock)
  } catch (err) {
    releaseLock()
    throw err
  }
}

async function openLocked(name: string, factory: IDBFactory, options: IdbClientStoreOptions, releaseLock: () => void): Promise<IdbClientStore> {
  let refuse: ((error: ClientStoreError) => void) | null = null
  const blocked = new Promise<never>((_, reject) => {
    refuse = reject
  })
  let closedBy: ClientStoreError | null = null
  const close = (error: ClientStoreError): void => {
    if (closedBy !== null) return
    closedBy = error
    db?.close()
    releaseLock()
    options.onClosed?.(error)
  }
  let db: IDBPDatabase<MeridianDb> | null = null
  const opening = withFactory(factory, () =>
    openDB<MeridianDb>(name, DB_VERSION, {
      upgrade(database, oldVersion, _newVersion, transaction) {
        if (oldVersion === 0) {
          database.createObjectStore('changes')
          database.createObjectStore('documents')
          database.createObjectStore('meta')
          database.createObjectStore('strictWrites')
        } else if (!database.objectStoreNames.contains('changes')) {
          // Another app's database of that name: leave it as it was. (idb's `done` then rejects: expected.)
          transaction.done.catch(() => undefined)
          transaction.abort()
          return
        }
        if (!database.objectStoreNames.contains('packs')) database.createObjectStore('packs')
      },
      blocked() {
        refuse?.(new ClientStoreError('blocked', `the database ${JSON.stringify(name)} is open in another tab at an older version; close that tab`))
      },
      blocking() {
        close(new ClientStoreError('closed', `another tab opened a newer version of ${JSON.stringify(name)}; this one closed its connection`))
      },
      terminated() {
        close(new ClientStoreError('closed', `the browser closed the database ${JSON.stringify(name)}`))
      },
    }),
  )
  try {
    db = await Promise.race([opening, blocked])
  } catch (err) {
    // An open that completes after we gave up must not stay open and block others.
    void opening.then((late) => late.close(), () => undefined)
    throw asStoreError(err, `opening ${JSON.stringify(name)}`)
  }
  const opened = db
  let kept: Awaited<ReturnType<typeof readAll>>
  let clientId: string
  try {
    kept = await readAll(opened)
    if (kept.looseDocuments >= PACK_AFTER_RECORDS) foldIntoPack(opened, kept.documentRecords)
    kept.documentRecords.clear()
    // Made once, on the first open; later opens only read (reopening writes nothing).
    clientId = kept.clientId ?? (await keepClientId(opened, randomClientId(cryptoRandom)))
  } catch (err) {
    opened.close()
    throw asStoreError(err, `reading ${JSON.stringify(name)}`)
  }
  let queue: { readonly ops: ((tx: Tx) => void)[]; readonly whats: Set<string>; readonly done: Promise<void> } | null = null

  /** Queues `op` into the transaction of the current synchronous run; resolves once it committed. */
  const enqueue = (what: string, op: (tx: Tx) => void): Promise<void> => {
    if (closedBy !== null) return Promise.reject(closedBy)
    if (queue === null) {
      const ops: ((tx: Tx) => void)[] = []
      const whats = new Set<string>()
      const done = new Promise<void>((resolve, reject) => {
        queueMicrotask(() => {
          queue = null
          // The calls share the transaction, and so its failure.
          const failed = (err: unknown): void => reject(asStoreError(err, [...whats].join(', ')))
          let tx: Tx | null = null
          try {
            tx = opened.transaction(STORES, 'readwrite', { durability: 'strict' })
            for (const each of ops) each(tx)
            const started = tx
            started.done.then(resolve, (err: unknown) => failed(err ?? started.error))
          } catch (err) {
            // A call that threw (a full quota can throw at once) takes the whole transaction with it.
            try {
              tx?.abort()
            } catch {
              // Already finished or aborted.
            }
            tx?.done.catch(() => undefined)
            failed(err)
          }
        })
      })
      queue = { ops, whats, done }
    }
    queue.ops.push(op)
    queue.whats.add(what)
    return queue.done
  }

  return {
    clientId,
    load: () => kept.changes,
    append: (change: Change) => {
      const bytes = encodeChange(change)
      return enqueue('keeping a change', (tx) => quiet(tx.objectStore('changes').put(bytes, [change.origin, change.seq])))
    },
    loadDocuments: () => kept.documents,
    saveDocuments: (documents: readonly StoredDocumentState[], covered: VersionVector, clock?: Hlc, removed: readonly string[] = []) => {
      const records = documents.map((stored) => [documentKey(stored.document.collection, stored.document.docId), encodeStoredDocumentState(stored)] as const)
      // An empty record marks a removed document: it must override the pack's copy until the next fold.
      for (const key of removed) records.push([key, new Uint8Array(0)] as const)
      const vector = [...covered]
      return enqueue('saving documents', (tx) => {
        const store = tx.objectStore('documents')
        for (const [key, bytes] of records) quiet(store.put(bytes, key))
        quiet(tx.objectStore('meta').put(vector, 'covered'))
        if (clock !== undefined) quiet(tx.objectStore('meta').put({ wallMs: clock.wallMs, counter: clock.counter, node: clock.node }, 'clock'))
      })
    },
    dropChanges: (upTo: VersionVector) => {
      const bounds = [...upTo].filter(([, seq]) => seq >= 1)
      return enqueue('dropping covered changes', (tx) => {
        const store = tx.objectStore('changes')
        for (const [origin, seq] of bounds) quiet(store.delete(IDBKeyRange.bound([origin, 0], [origin, seq])))
      })
    },
    loadStrictWrites: () => kept.strictWrites,
    saveStrictWrite: (write: StoredStrictWrite) => enqueue('keeping a strict write', (tx) => quiet(tx.objectStore('strictWrites').put(write, write.writeId))),
    deleteStrictWrite: (writeId: number) => enqueue('removing a strict write', (tx) => quiet(tx.objectStore('strictWrites').delete(writeId))),
    close: async () => {
      const last = queue?.done
      if (last) await last.catch(() => undefined)
      if (closedBy === null) {
        closedBy = new ClientStoreError('closed', 'the store is closed')
        opened.close()
        releaseLock()
      }
    },
  }
}

/**
 * Takes the store's Web Lock (see `IdbClientStoreOptions.whenLocked`) and returns its release, which
 * may be called any number of times. Without a lock manager there is nothing to take.
 */
async function holdStoreLock(name: string, options: IdbClientStoreOptions): Promise<() => void> {
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
  if (locks === undefined) return () => undefined
  const wait = options.whenLocked === 'wait'
  const waitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS
  const signal = wait ? undefined : AbortSignal.timeout(waitMs)
  let release: () => void = () => undefined
  await new Promise<void>((resolve, reject) => {
    locks
      .request(`meridian-store:${name}`, signal === undefined ? {} : { signal }, () =>
        // The lock is held until this promise settles.
        new Promise<void>((done) => {
          release = done
          resolve()
        }),
      )
      .catch(reject)
  }).catch((err: unknown) => {
    if (signal?.aborted === true) {
      throw new ClientStoreError(
        'locked',
        `the store ${JSON.stringify(name)} is open in another tab or window (still after ${waitMs} ms); one client at a time may use it (whenLocked: 'wait' waits for it)`,
        { cause: err },
      )
    }
    throw asStoreError(err, `locking ${JSON.stringify(name)}`)
  })
  return () => release()
}

/** Everything an earlier session kept, read in one transaction. */
async function readAll(db: IDBPDatabase<MeridianDb>): Promise<{
  changes: Change[]
  documents: { documents: StoredDocumentState[]; covered: VersionVector; clock?: Hlc } | undefined
  strictWrites: StoredStrictWrite[]
  clientId: string | undefined
  /** Every document's record bytes by document key: the pack's, overridden by newer records of their own. */
  documentRecords: Map<string, Uint8Array>
  /** Documents saved as records of their own (not in the pack, or newer than it). */
  looseDocuments: number
}> {
  const tx = db.transaction(STORES, 'readonly')
  const [changeBytes, looseKeys, looseBytes, pack, covered, strictWrites, clientId, clock] = await Promise.all([
    tx.objectStore('changes').getAll(),
    tx.objectStore('documents').getAllKeys(),
    tx.objectStore('documents').getAll(),
    tx.objectStore('packs').get(PACK_KEY),
    tx.objectStore('meta').get('covered'),
    tx.objectStore('strictWrites').getAll(),
    tx.objectStore('meta').get('clientId'),
    tx.objectStore('meta').get('clock'),
  ])
  const documentRecords = new Map<string, Uint8Array>()
  if (pack !== undefined) {
    try {
      decodePack(pack, documentRecords)
    } catch (err) {
      throw new ClientStoreError('corrupt', `the stored document pack does not decode: ${String(err)}`, { cause: err })
    }
  }
  // getAll and getAllKeys of one store in one transaction list the same records in the same (key) order.
  for (const [i, key] of looseKeys.entries()) {
    const bytes = looseBytes[i] as Uint8Array
    // An empty record: the document was removed (saveDocuments' `removed`), also from the pack at the next fold.
    if (bytes.length === 0) documentRecords.delete(key)
    else documentRecords.set(key, bytes)
  }
  if (covered !== undefined && !Array.isArray(covered)) throw new ClientStoreError('corrupt', 'the stored covered vector is not a list of [origin, seq] pairs')
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) throw new ClientStoreError('corrupt', 'the stored client id is not a non-empty string')
  if (clock !== undefined && !isHlc(clock)) throw new ClientStoreError('corrupt', 'the stored clock is not a timestamp')
  const decode = <T>(what: string, bytes: Uint8Array, read: (bytes: Uint8Array) => T): T => {
    try {
      return read(bytes)
    } catch (err) {
      throw new ClientStoreError('corrupt', `a stored ${what} does not decode: ${String(err)}`, { cause: err })
    }
  }
  return {
    changes: changeBytes.map((bytes) => decode('change', bytes, decodeChange)),
    documents:
      covered === undefined
        ? undefined
        : {
            documents: [...documentRecords.values()].map((bytes) => decode('document', bytes, decodeStoredDocumentState)),
            covered: new Map(covered),
            ...(clock === undefined ? {} : { clock: clock as Hlc }),
          },
    strictWrites,
    clientId,
    documentRecords,
    looseDocuments: looseKeys.length,
  }
}

/**
 * Writes every document into the pack and removes the records of their own it replaces, in one
 * transaction. Not awaited: it is created before any of the client's, and IndexedDB runs read-write
 * transactions over the same stores in the order they were created, so every later save lands after
 * it — which is also why clearing the store removes exactly the records just read (one call, where
 * deleting 10,000 keys one by one cost ~230 ms in Chromium). If it fails or a reload aborts it,
 * nothing changed: the same records are read, and folded, next time.
 */
function foldIntoPack(db: IDBPDatabase<MeridianDb>, records: ReadonlyMap<string, Uint8Array>): void {
  try {
    const tx = db.transaction(['documents', 'packs'], 'readwrite', { durability: 'strict' })
    quiet(tx.objectStore('packs').put(encodePack(records), PACK_KEY))
    quiet(tx.objectStore('documents').clear())
    tx.done.catch(() => undefined)
  } catch {
    // The database is closing: nothing was written, the records stay as they are.
  }
}

/** Stores the writer id of a new database; resolves with it once committed. */
async function keepClientId(db: IDBPDatabase<MeridianDb>, clientId: string): Promise<string> {
  const tx = db.transaction('meta', 'readwrite', { durability: 'strict' })
  quiet(tx.objectStore('meta').put(clientId, 'clientId'))
  await tx.done
  return clientId
}

/** `idb` opens through `globalThis.indexedDB`; a caller's factory is swapped in for the one call. */
async function withFactory<T>(factory: IDBFactory, open: () => Promise<T>): Promise<T> {
  const global = globalThis as { indexedDB?: IDBFactory | undefined }
  if (global.indexedDB === factory) return open()
  const previous = global.indexedDB
  global.indexedDB = factory
  try {
    return open()
  } finally {
    global.indexedDB = previous
  }
}

/** A request's own failure also fails its transaction, whose `done` reports it: not a second, unhandled one. */
function quiet(request: Promise<unknown>): void {
  request.catch(() => undefined)
}

function asStoreError(err: unknown, what: string): ClientStoreError {
  if (err instanceof ClientStoreError) return err
  const name = (err as { name?: unknown } | null)?.name
  if (name === 'QuotaExceededError') return new ClientStoreError('quota-exceeded', `${what}: the browser's storage quota for this origin is full`, { cause: err })
  return new ClientStoreError('io', `${what} failed: ${String((err as { message?: unknown } | null)?.message ?? err)}`, { cause: err })
}

function isHlc(value: unknown): value is Hlc {
  const hlc = value as Partial<Hlc> | null
  return typeof hlc === 'object' && hlc !== null && Number.isSafeInteger(hlc.wallMs) && Number.isSafeInteger(hlc.counter) && typeof hlc.node === 'string'
}

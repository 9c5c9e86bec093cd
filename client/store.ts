import type { StrictWriteRequest } from '../core/strict/requests.js'
import type { StoredDocumentState } from '../core/codec/document-state.js'
import { documentKey } from '../core/mesh/mesh-node.js'
import type { Change, Hlc, VersionVector } from '../core/types.js'

/**
 * A strict write as the client keeps it until its outcome is known (the strict offline queue, see
 * docs/client.md). Plain data (structured-cloneable and JSON-serialisable).
 */
export interface StoredStrictWrite {
  /** Increasing in the order the writes were made; the record's key. */
  readonly writeId: number
  /** The collection whose method made the write. */
  readonly collection: string
  readonly request: StrictWriteRequest
  /** Wall-clock ms when the write was made. */
  readonly queuedAtMs: number
  /**
   * `request.requestKey` names the write to the cluster (at-most-once); absent in records of older
   * clients. false: never sent, a later session sends it. true: it may have left the client; the
   * session that sent it resends it with its key after a reconnect, but a later session (a restart)
   * reports it `indeterminate` (`unreachable`).
   */
  readonly sent: boolean
}

/**
 * Where a client keeps the changes it holds (its own and those learnt from regions), so that a
 * restart can resume instead of downloading everything and, above all, so that own changes not yet
 * durable at any region survive (the outbox, docs/design.md §8).
 *
 * Kept deliberately small so an IndexedDB store can slot in: open it asynchronously first (and read
 * its log then), and hand the opened store to `createClient({ store })`.
 *
 * @example
 * ```ts
 * const client = createClient({ urls, store: memoryClientStore() })
 * ```
 */
export interface ClientStore {
  /**
   * The writer id this store's outbox belongs to, for a store that outlives the process (IndexedDB):
   * `createClient` takes it when given no `clientId`, so a reloaded page sends its earlier session's
   * unacknowledged writes as its own. Absent: the client makes up a fresh id.
   */
  readonly clientId?: string
  /** Changes kept by an earlier session; replayed into the client before it connects. */
  load(): Iterable<Change>
  /**
   * Keep `change` (the client's own, or one received from a region). Return nothing when it is
   * durable on return; otherwise a promise that resolves once it is. The client acknowledges and
   * releases its own changes only once durable, in call order. A change with the `(origin, seq)` of
   * one kept replaces it: the void entry of an own write a region refused (empty payload).
   */
  append(change: Change): void | Promise<void>
  close(): void | Promise<void>
  /**
   * Optional, all three or none: the strict write queue. Without them, strict writes waiting for a
   * connection live in memory only and are lost with the process.
   *
   * `loadStrictWrites` returns the records an earlier session kept (read once, at client creation).
   * `saveStrictWrite` creates or replaces the record with the same `writeId`; `deleteStrictWrite`
   * removes it. Like `append`: return nothing when done on return, or a promise that resolves once
   * durable; calls must take effect in call order.
   */
  loadStrictWrites?(): Iterable<StoredStrictWrite>
  /**
   * Optional, all three or none: documents kept as state, not history (docs/design.md §6). Without
   * them the store keeps every change it is given.
   *
   * `loadDocuments` returns what the last `saveDocuments` calls left: every document saved (the latest
   * of each) and the vector the last call covered, or undefined when none was saved. `saveDocuments`
   * stores (replaces) those documents and records `covered`. `dropChanges` removes the kept changes with
   * `seq <= upTo[origin]`: the client calls it only for changes saved documents cover. Like `append`:
   * return nothing when done on return, or a promise that resolves once durable; call order holds,
   * and a crash keeps a prefix of the calls (a saved document never outlives an earlier `append`).
   */
  loadDocuments?(): { readonly documents: Iterable<StoredDocumentState>; readonly covered: VersionVector; readonly clock?: Hlc } | undefined
  /**
   * `clock`: the client's clock when `covered` was taken, returned by the next `loadDocuments` (the
   * latest given). A restart moves the clock past it: `covered` counts runs of changes the client never
   * received (its region skipped them, partial replication), whose timestamps no document carries [HLC2].
   * `removed`: keys (`documentKey`) of documents the client no longer holds, to forget (a refused write
   * that had created a document the region never had, docs/security.md "Refused writes").
   */
  saveDocuments?(documents: readonly StoredDocumentState[], covered: VersionVector, clock?: Hlc, removed?: readonly string[]): void | Promise<void>
  dropChanges?(upTo: VersionVector): void | Promise<void>
  saveStrictWrite?(write: StoredStrictWrite): void | Promise<void>
  deleteStrictWrite?(writeId: number): void | Promise<void>
}

/**
 * A store in memory: every change (and strict write record) is "durable" at once, and **nothing
 * survives a reload or a restart** — own changes not yet acknowledged by a region and queued strict
 * writes are lost with the process. (A new client given the same store object in the same process
 * does pick them up, which is what tests use to simulate a restart.) This is the
 * default until the IndexedDB store (`meridian/client/idb`) exists.
 *
 * @example
 * ```ts
 * const store = memoryClientStore()
 * const client = createClient({ urls: ['ws://127.0.0.1:4101'], store })
 * ```
 */
export function memoryClientStore(): ClientStore &
  Required<Pick<ClientStore, 'loadDocuments' | 'saveDocuments' | 'dropChanges' | 'loadStrictWrites' | 'saveStrictWrite' | 'deleteStrictWrite'>> & {
  readonly changes: readonly Change[]
  readonly documents: ReadonlyMap<string, StoredDocumentState>
  readonly strictWrites: ReadonlyMap<number, StoredStrictWrite>
} {
  const changes: Change[] = []
  const documents = new Map<string, StoredDocumentState>()
  let covered: VersionVector | null = null
  let clock: Hlc | undefined
  const strictWrites = new Map<number, StoredStrictWrite>()
  return {
    changes,
    documents,
    strictWrites,
    load: () => [...changes],
    append: (change) => {
      // A void entry (a refused write, rare) replaces the original; anything else is new.
      const at = change.payload.length === 0 ? changes.findIndex((kept) => kept.origin === change.origin && kept.seq === change.seq) : -1
      if (at >= 0) changes[at] = change
      else changes.push(change)
    },
    loadDocuments: () => (covered === null ? undefined : { documents: [...documents.values()], covered, ...(clock === undefined ? {} : { clock }) }),
    saveDocuments: (saved, vector, at, removed = []) => {
      for (const stored of saved) documents.set(documentKey(stored.document.collection, stored.document.docId), stored)
      for (const key of removed) documents.delete(key)
      covered = new Map(vector)
      if (at !== undefined) clock = at
    },
    dropChanges: (upTo) => {
      let kept = 0
      for (const change of changes) if (change.seq > (upTo.get(change.origin) ?? 0)) changes[kept++] = change
      changes.length = kept
    },
    close: () => undefined,
    loadStrictWrites: () => [...strictWrites.values()],
    saveStrictWrite: (write) => {
      strictWrites.set(write.writeId, write)
    },
    deleteStrictWrite: (writeId) => {
      strictWrites.delete(writeId)
    },
  }
}

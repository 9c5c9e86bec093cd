import type { ApplyResult, DocumentReplica } from '../core/crdt/document-type.js'
import type { ConflictRecord } from '../core/crdt/document-type.js'
import type { Change, DocType } from '../core/types.js'
import type { WriteHandle } from './write-handle.js'
import type { WriteStatus } from './write-status.js'

/**
 * A change applied to a document of one collection, as collections' listeners see it; `change` is
 * null when the document's state arrived whole, in a state transfer (docs/design.md §6).
 */
export type DocumentListener = (docId: string, change: Change | null, result: ApplyResult) => void

/**
 * What a collection needs from its client. Collections hold no replication state of their own:
 * documents live in the client's mesh node, so remote changes and local writes meet in one place.
 */
export interface ClientContext {
  readonly clientId: string
  /** The replica of a document, created empty on first use; throws when it has another type. */
  replica(collection: string, docId: string, docType: DocType): DocumentReplica
  /** Commits a local change built against `replica(...)` and returns its handle. */
  write(collection: string, docId: string, docType: DocType, payload: Uint8Array): WriteHandle
  /** How far this client's own writes to the document have come. */
  writeStatus(collection: string, docId: string): WriteStatus
  /** Calls `listener` whenever that status changes. Returns the unsubscribe function. */
  onWriteStatus(collection: string, docId: string, listener: (status: WriteStatus) => void): () => void
  /** Calls `listener(docId, status)` whenever a document of `collection` changes write status. */
  onCollectionWriteStatus(collection: string, listener: (docId: string, status: WriteStatus) => void): () => void
  /** Changes applied to `docId` of `collection` (every document when `docId` is null). */
  listen(collection: string, docId: string | null, listener: DocumentListener): () => void
  /** Conflict records observed at this client for one document, oldest first. */
  conflicts(collection: string, docId: string): readonly ConflictRecord[]
  /** Calls `listener` with each conflict record observed at this client for `collection`. Returns the unsubscribe function. */
  onConflict(collection: string, listener: (record: ConflictRecord) => void): () => void
  /** Ids of the documents of `collection` this client holds (written or received), sorted. */
  documentIds(collection: string): string[]
  /** Syncs the whole collection until the returned release is called (docs/client.md, "What a client syncs"). */
  subscribeCollection(collection: string): () => void
  /** Syncs one document until the returned release is called. */
  openDocument(collection: string, docId: string): () => void
  /** Called once when the client closes. */
  onClose(fn: () => void): void
}

/** A document id as every collection takes it: a non-empty string (a TypeError otherwise). */
export function checkId(id: string): string {
  if (typeof id !== 'string' || id === '') throw new TypeError('Meridian client: a document id must be a non-empty string')
  return id
}

/** Throws the programmer error for a document of the wrong type. */
export function expectDocType<R extends DocumentReplica>(
  replica: DocumentReplica,
  docType: DocType,
  collection: string,
  docId: string,
): R {
  if (replica.docType !== docType) {
    throw new TypeError(
      `Meridian client: ${collection}/${docId} is a ${replica.docType} document, not ${docType}`,
    )
  }
  return replica as R
}

/**
 * `subscribe`/`subscribeAll` for a collection: listeners get the document's new view after every
 * change that had a visible effect, local or remote.
 */
export function viewSubscriptions<V>(
  context: ClientContext,
  name: string,
  view: (id: string) => V,
  checkId: (id: string) => string,
): {
  subscribe(id: string, listener: (doc: V) => void): () => void
  subscribeAll(listener: (id: string, doc: V) => void): () => void
} {
  return {
    subscribe: (id, listener) =>
      context.listen(name, checkId(id), (docId, _change, result) => {
        if (result.changed) listener(view(docId))
      }),
    subscribeAll: (listener) =>
      context.listen(name, null, (docId, _change, result) => {
        if (result.changed) listener(docId, view(docId))
      }),
  }
}

/** `writeStatus` / `onWriteStatus` of a crdt collection: how far this client's own writes to a document have come. */
export interface WriteStatusView {
  /**
   * `pending` (applied here, being saved), `local` (saved here, in the outbox), `durable` (at a
   * region), `replicated` (in every region, or nothing of this client outstanding).
   */
  writeStatus(id: string): WriteStatus
  /** Calls `listener` with the document's new write status whenever it changes. Returns the unsubscribe function. */
  onWriteStatus(id: string, listener: (status: WriteStatus) => void): () => void
  /**
   * Calls `listener(id, status)` whenever any document of the collection changes write status: one
   * subscription for a whole list, however long. Returns the unsubscribe function.
   */
  onAnyWriteStatus(listener: (id: string, status: WriteStatus) => void): () => void
}

export function writeStatusView(context: ClientContext, name: string, checkId: (id: string) => string): WriteStatusView {
  return {
    writeStatus: (id) => context.writeStatus(name, checkId(id)),
    onWriteStatus: (id, listener) => context.onWriteStatus(name, checkId(id), listener),
    onAnyWriteStatus: (listener) => context.onCollectionWriteStatus(name, listener),
  }
}

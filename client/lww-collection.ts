import type { ConflictRecord } from '../core/crdt/document-type.js'
import { LwwReplica, lwwDeletePayload, lwwPatchPayload, lwwPutPayload } from '../core/crdt/lww.js'
import { checkId, expectDocType, viewSubscriptions, writeStatusView, type ClientContext, type WriteStatusView } from './context.js'
import type { WriteHandle } from './write-handle.js'

/** Fields to change in a patch: a value sets the field, `undefined` deletes it. */
export type LwwPatch<T> = { [K in keyof T]?: T[K] | undefined }

/**
 * A collection of last-writer-wins JSON documents (docs/design.md §3). Writes apply locally at once and sync
 * when connected; each top-level field merges on its own, newest hybrid-logical-clock write winning.
 * A write that lost to a concurrent one is kept as a conflict record (`conflicts(id)`, `on('conflict', …)`),
 * and `resolveConflict(record, value)` settles it with a write that wins over both sides (docs/client.md, "Conflicts").
 *
 * @example
 * ```ts
 * const todos = client.lww<{ title: string; done?: boolean }>('todos')
 * const w = todos.put('t1', { title: 'milk' })
 * todos.patch('t1', { done: true })
 * const stop = todos.subscribe('t1', (doc) => render(doc))
 * await w.durable
 * ```
 */
export interface LwwCollection<T extends Record<string, unknown> = Record<string, unknown>> extends WriteStatusView {
  readonly name: string
  /** Makes the document exactly `doc` (fields it leaves out are deleted). */
  put(id: string, doc: T): WriteHandle
  /** Sets the given fields, deletes those given as `undefined`, keeps the rest; creates the document if needed. */
  patch(id: string, fields: LwwPatch<T>): WriteHandle
  delete(id: string): WriteHandle
  /**
   * The document as this client sees it now, or null when it does not exist (never written, or deleted).
   * Frozen, and the same object until a change alters the document: a change costs its fields, and a
   * view is built once per change, on the first read or listener after it, however many read it.
   */
  get(id: string): T | null
  /** Ids of the existing documents this client holds, sorted. */
  ids(): string[]
  /**
   * Calls `listener` with the new view whenever the document changes, by a local write or a
   * remote one. Not called at subscription: read `get(id)` for the current view.
   */
  subscribe(id: string, listener: (doc: T | null) => void): () => void
  /** Like `subscribe`, for every document of the collection. */
  subscribeAll(listener: (id: string, doc: T | null) => void): () => void
  /** Writes that lost to concurrent ones, as observed at this client (bounded, oldest first). */
  conflicts(id: string): readonly ConflictRecord[]
  /**
   * Calls `listener` with each conflict record this client observes for a document of the collection,
   * once the change that produced it was applied (after the document's own listeners). Returns the
   * unsubscribe function.
   */
  on(event: 'conflict', listener: (record: ConflictRecord) => void): () => void
  /**
   * Settles a conflict: writes `value` to the record's field (`undefined` deletes the field) as an ordinary
   * write of this client. A client's clock moves past every change it applies, so once it holds both sides
   * (always, for a record it observed) the write wins over both wherever it arrives. A record a region
   * listed (REST) can be passed too; the region marks its own record resolved only through its resolve
   * endpoint (docs/server.md, "Conflicts").
   */
  resolveConflict(record: ConflictRecord, value: unknown): WriteHandle
}

export function lwwCollection<T extends Record<string, unknown>>(context: ClientContext, name: string): LwwCollection<T> {
  const replica = (id: string): LwwReplica =>
    expectDocType<LwwReplica>(context.replica(name, checkId(id), 'lww'), 'lww', name, id)
  const view = (id: string): T | null => replica(id).view() as T | null
  return {
    name,
    put: (id, doc) => context.write(name, id, 'lww', lwwPutPayload(replica(id), doc)),
    patch: (id, fields) => context.write(name, id, 'lww', lwwPatchPayload(replica(id), fields)),
    delete: (id) => context.write(name, id, 'lww', lwwDeletePayload(replica(id))),
    get: view,
    // Existence alone: building every document's view to test it for null would cost all the data.
    ids: () => context.documentIds(name).filter((id) => replica(id).exists()),
    ...viewSubscriptions(context, name, view, checkId),
    conflicts: (id) => context.conflicts(name, id),
    on: (event, listener) => {
      if (event !== 'conflict') throw new TypeError(`Meridian client: no event ${String(event)}`)
      return context.onConflict(name, listener)
    },
    resolveConflict: (record, value) => {
      if (record?.collection !== name) throw new TypeError(`Meridian client: not a conflict record of ${name}`)
      const id = checkId(record.docId)
      return context.write(name, id, 'lww', lwwPatchPayload(replica(id), { [record.field]: value }))
    },
    ...writeStatusView(context, name, checkId),
  }
}

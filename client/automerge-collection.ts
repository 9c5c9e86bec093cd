import { AutomergeReplica, automergeEdit } from '../core/crdt/automerge.js'
import { Listeners } from './listeners.js'
import { checkId, expectDocType, viewSubscriptions, writeStatusView, type ClientContext, type WriteStatusView } from './context.js'
import type { WriteHandle } from './write-handle.js'

/**
 * A collection of Automerge documents. `change` runs an Automerge change function; concurrent changes
 * from anywhere merge by Automerge's rules (nothing is thrown away).
 *
 * @example
 * ```ts
 * const boards = client.automerge<{ cards: string[] }>('boards')
 * boards.change('b1', (d) => {
 *   d.cards ??= []
 *   d.cards.push('design review')
 * })
 * boards.subscribe('b1', (board) => render(board.cards))
 * ```
 */
export interface AutomergeCollection<T extends object = Record<string, unknown>> extends WriteStatusView {
  readonly name: string
  change(id: string, fn: (doc: T) => void, options?: { readonly message?: string }): WriteHandle
  /** The document as plain JS (`{}` when never written). Not a live Automerge object: do not mutate. */
  get(id: string): T
  /**
   * Syncs the document until `close`: remote changes arrive only for open documents (opening one the
   * client does not hold fetches its state). Writes with `change` are synced whether open or not.
   */
  open(id: string): { close(): void }
  /** Called with the new view on every local or remote change. Not called at subscription. Opens the document while subscribed. */
  subscribe(id: string, listener: (doc: T) => void): () => void
  /** Like `subscribe`, for every document of the collection; syncs the whole collection while subscribed. */
  subscribeAll(listener: (id: string, doc: T) => void): () => void
  /** Ids of the documents this client holds, sorted. */
  ids(): string[]
}

export function automergeCollection<T extends object>(context: ClientContext, name: string): AutomergeCollection<T> {
  const replica = (id: string): AutomergeReplica =>
    expectDocType<AutomergeReplica>(context.replica(name, checkId(id), 'automerge'), 'automerge', name, id)
  const view = (id: string): T => replica(id).view() as T
  const listeners = viewSubscriptions(context, name, view, checkId)
  /**
   * Subscribers, told of this client's own changes. `automergeEdit` puts a change in the document before
   * the client commits it, so the commit shows nothing new (the core counts it a duplicate [CV3]) and the
   * document's listeners above hear only changes from elsewhere.
   */
  const ownChanges = new Listeners<[string]>()
  /** Stops listening, then ends the sync the listener held open. */
  const both = (stop: () => void, release: () => void): (() => void) => () => {
    stop()
    release()
  }
  return {
    name,
    change: (id, fn, options) => {
      const payload = automergeEdit<T>(replica(id), fn, options?.message === undefined ? {} : { message: options.message })
      const handle = context.write(name, id, 'automerge', payload)
      ownChanges.emit(id) // a listener that throws is reported from a fresh task, as for remote changes
      return handle
    },
    get: view,
    open: (id) => ({ close: context.openDocument(name, checkId(id)) }),
    subscribe: (id, listener) => {
      const stop = listeners.subscribe(id, listener)
      const stopOwn = ownChanges.add((changed) => {
        if (changed === id) listener(view(id))
      })
      return both(() => {
        stopOwn()
        stop()
      }, context.openDocument(name, checkId(id)))
    },
    subscribeAll: (listener) => {
      const stop = listeners.subscribeAll(listener)
      const stopOwn = ownChanges.add((changed) => listener(changed, view(changed)))
      return both(() => {
        stopOwn()
        stop()
      }, context.subscribeCollection(name))
    },
    ids: () => context.documentIds(name),
    ...writeStatusView(context, name, checkId),
  }
}

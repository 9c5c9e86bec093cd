import type * as Y from 'yjs'
import { YjsReplica, yjsEdit, type YjsView } from '../core/crdt/yjs.js'
import { checkId, expectDocType, writeStatusView, type ClientContext, type WriteStatusView } from './context.js'
import { Listeners } from './listeners.js'
import type { WriteHandle } from './write-handle.js'

/** An open Yjs document: edit `doc` directly; remote changes appear in it. */
export interface YjsDocHandle {
  /**
   * The document. It is replaced by a new `Y.Doc` when a region refuses one of this client's edits
   * (docs/security.md, "Refused writes"): a Yjs document cannot take an edit back, so the client
   * rebuilds it from the region's copy plus its own later edits. Read `doc` again, or rebind an
   * editor in `onReplaced`; edits to the old `Y.Doc` are no longer synced.
   */
  readonly doc: Y.Doc
  /** Called with the new `doc` after a replacement. Returns the unsubscribe function. */
  onReplaced(listener: (doc: Y.Doc) => void): () => void
  /**
   * Stop syncing this handle. When the last handle of a document closes, edits made to `doc`
   * afterwards stay local and remote changes stop arriving; opening it again fetches its state.
   */
  close(): void
}

/**
 * A collection of Yjs documents. Open a document and edit its `Y.Doc` like any other (bind it to an
 * editor, observe it): every local transaction becomes one change, synced to the regions and other
 * clients; their edits are applied to the same `Y.Doc`.
 *
 * @example
 * ```ts
 * const { doc, close } = client.yjs('notes').open('n1')
 * doc.getText('text').insert(0, 'hello')      // synced
 * doc.getText('text').observe(() => render(doc.getText('text').toString()))
 * ```
 */
export interface YjsCollection extends WriteStatusView {
  readonly name: string
  open(id: string): YjsDocHandle
  /** Runs `fn` as one transaction on the document and returns the write's handle. */
  edit(id: string, fn: (doc: Y.Doc) => void): WriteHandle
  /** `{ root, text }`: the root map `root` as JSON and the root text `text` (see `YjsReplica.view`). */
  get(id: string): YjsView
}

interface Binding {
  refs: number
  target: YjsReplica
  unbind(): void
  readonly replaced: Listeners<[Y.Doc]>
  readonly stopListening: () => void
}

export function yjsCollection(context: ClientContext, name: string): YjsCollection {
  const bindings = new Map<string, Binding>()
  const replica = (id: string): YjsReplica =>
    expectDocType<YjsReplica>(context.replica(name, checkId(id), 'yjs'), 'yjs', name, id)

  /** Turns local transactions on the document into changes; one listener per document, however many handles. */
  const listenTo = (id: string, target: YjsReplica): (() => void) => {
    const onUpdate = (update: Uint8Array, origin: unknown, _doc: Y.Doc, transaction: Y.Transaction): void => {
      // Remote changes are applied with `local === false`; `edit` commits its own update itself.
      if (!transaction.local || origin === target) return
      context.write(name, id, 'yjs', update)
    }
    target.doc.on('update', onUpdate)
    return () => target.doc.off('update', onUpdate)
  }

  const bind = (id: string, target: YjsReplica): Binding => {
    const binding: Binding = {
      refs: 0,
      target,
      unbind: listenTo(id, target),
      replaced: new Listeners(),
      // A whole state arrived (change null): after a refused edit the client holds a new replica.
      stopListening: context.listen(name, id, (_docId, change) => {
        if (change !== null) return
        const current = replica(id)
        if (current === binding.target) return
        binding.unbind()
        binding.target = current
        binding.unbind = listenTo(id, current)
        binding.replaced.emit(current.doc)
      }),
    }
    return binding
  }

  const release = (binding: Binding): void => {
    binding.unbind()
    binding.stopListening()
    binding.replaced.clear()
  }

  context.onClose(() => {
    for (const binding of bindings.values()) release(binding)
    bindings.clear()
  })

  return {
    name,
    open(id) {
      const target = replica(id)
      let binding = bindings.get(id)
      if (!binding) {
        binding = bind(id, target)
        bindings.set(id, binding)
      }
      binding.refs += 1
      const opened = binding
      // Only open documents are synced: opening one the client does not hold fetches its state.
      const stopSync = context.openDocument(name, id)
      let closed = false
      const listeners: (() => void)[] = []
      return {
        get doc() {
          return opened.target.doc
        },
        onReplaced(listener) {
          const stop = opened.replaced.add(listener)
          listeners.push(stop)
          return stop
        },
        close() {
          if (closed) return
          closed = true
          stopSync()
          for (const stop of listeners) stop()
          opened.refs -= 1
          if (opened.refs === 0 && bindings.get(id) === opened) {
            release(opened)
            bindings.delete(id)
          }
        },
      }
    },
    edit: (id, fn) => {
      const target = replica(id)
      return context.write(name, id, 'yjs', yjsEdit(target, fn))
    },
    get: (id) => replica(id).view(),
    ...writeStatusView(context, name, checkId),
  }
}

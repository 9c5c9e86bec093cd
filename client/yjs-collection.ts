import type * as Y from 'yjs'
import { YjsReplica, yjsEdit, type YjsView } from '../core/crdt/yjs.js'
import { checkId, expectDocType, writeStatusView, type ClientContext, type WriteStatusView } from './context.js'
import type { WriteHandle } from './write-handle.js'

/** An open Yjs document: edit `doc` directly; remote changes appear in it. */
export interface YjsDocHandle {
  readonly doc: Y.Doc
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
  unbind(): void
}

export function yjsCollection(context: ClientContext, name: string): YjsCollection {
  const bindings = new Map<string, Binding>()
  const replica = (id: string): YjsReplica =>
    expectDocType<YjsReplica>(context.replica(name, checkId(id), 'yjs'), 'yjs', name, id)

  /** Turns local transactions on the document into changes; one listener per document, however many handles. */
  const bind = (id: string, target: YjsReplica): Binding => {
    const onUpdate = (update: Uint8Array, origin: unknown, _doc: Y.Doc, transaction: Y.Transaction): void => {
      // Remote changes are applied with `local === false`; `edit` commits its own update itself.
      if (!transaction.local || origin === target) return
      context.write(name, id, 'yjs', update)
    }
    target.doc.on('update', onUpdate)
    return { refs: 0, unbind: () => target.doc.off('update', onUpdate) }
  }

  context.onClose(() => {
    for (const binding of bindings.values()) binding.unbind()
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
      return {
        doc: target.doc,
        close() {
          if (closed) return
          closed = true
          stopSync()
          opened.refs -= 1
          if (opened.refs === 0 && bindings.get(id) === opened) {
            opened.unbind()
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

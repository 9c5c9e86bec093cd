import { strictKey, type LogEntry, type LogPosition, type StoredDocument } from '../../core/strict/index.js'

/** A document as one applied entry left it. */
export interface AppliedDocument {
  readonly collection: string
  readonly id: string
  /** null: the entry deleted it. */
  readonly document: StoredDocument | null
}

/**
 * What listeners of `StrictHost.onDocumentsApplied` hear, always at a position after the previous one:
 *
 * - `entry`: the entry at `position` was applied; `documents` are those it touched (each once, as the
 *   entry left it; a batch lists all of its documents). No-ops touch nothing and are not reported.
 * - `reset`: the applied state was replaced by a snapshot from the primary [ST6] at `position`; the
 *   entries it covers were never reported one by one, so a listener reads the state it cares about again.
 */
export type DocumentsApplied =
  | { readonly kind: 'entry'; readonly position: LogPosition; readonly documents: readonly AppliedDocument[] }
  | { readonly kind: 'reset'; readonly position: LogPosition }

export type DocumentsAppliedListener = (event: DocumentsApplied) => void

/**
 * The host's one registry of applied-document listeners (change subscriptions of every client
 * connection). It runs inside the node's apply loop, so a listener that throws is reported and
 * skipped rather than allowed to abort the apply; and nothing is computed while nobody listens.
 */
export class AppliedDocuments {
  private readonly listeners = new Set<DocumentsAppliedListener>()
  private readonly onListenerError: (err: unknown) => void

  constructor(onListenerError: (err: unknown) => void) {
    this.onListenerError = onListenerError
  }

  get size(): number {
    return this.listeners.size
  }

  /** Returns the unsubscribe function. */
  add(listener: DocumentsAppliedListener): () => void {
    // Wrapped so that one function added twice is two subscriptions, removed independently.
    const entry: DocumentsAppliedListener = (event) => listener(event)
    this.listeners.add(entry)
    return () => {
      this.listeners.delete(entry)
    }
  }

  /** `entry` was just applied; `current` reads the applied state (which is at `entry.lsn` now). */
  entryApplied(entry: LogEntry, current: (collection: string, id: string) => StoredDocument | null): void {
    if (this.listeners.size === 0 || entry.op.kind === 'noop') return
    const ops = entry.op.kind === 'batch' ? entry.op.ops : [entry.op]
    const documents: AppliedDocument[] = []
    const seen = new Set<string>()
    for (const op of ops) {
      const key = strictKey(op.collection, op.id)
      if (seen.has(key)) continue
      seen.add(key)
      documents.push({ collection: op.collection, id: op.id, document: current(op.collection, op.id) })
    }
    this.emit({ kind: 'entry', position: { epoch: entry.epoch, lsn: entry.lsn }, documents })
  }

  /** A snapshot replaced the applied state, now at `position`. */
  stateReplaced(position: LogPosition): void {
    if (this.listeners.size > 0) this.emit({ kind: 'reset', position })
  }

  private emit(event: DocumentsApplied): void {
    // A copy: a listener may unsubscribe itself or others (a connection closing while sending).
    for (const listener of [...this.listeners]) {
      try {
        listener(event)
      } catch (err) {
        this.onListenerError(err)
      }
    }
  }
}

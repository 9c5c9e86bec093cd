import type { ApplyResult, ConflictRecord } from '../core/crdt/document-type.js'
import { documentKey } from '../core/mesh/mesh-node.js'
import type { Change } from '../core/types.js'
import type { DocumentListener } from './context.js'
import { KeyedListeners } from './listeners.js'

/**
 * What a client tells its collections about the documents it holds: which exist per collection, who
 * listens to which, and the conflicts observed. Shared by the client that owns a connection and by a
 * tab that follows another (client/tab-follower.ts), which hold their replicas differently.
 */
export class LocalDocuments {
  private readonly documentListeners = new KeyedListeners<string, Parameters<DocumentListener>>()
  private readonly collectionListeners = new KeyedListeners<string, Parameters<DocumentListener>>()
  private readonly idsByCollection = new Map<string, Set<string>>()
  private readonly conflictLog = new Map<string, ConflictRecord[]>()
  private readonly conflictListeners = new KeyedListeners<string, [ConflictRecord]>()

  constructor(private readonly maxConflictsPerDocument: number) {}

  /** A change was applied to a document: note it, keep its conflicts, tell the listeners. */
  applied(change: Change, result: ApplyResult): void {
    this.note(change.collection, change.docId)
    if (result.conflicts.length > 0) this.recordConflicts(change, result.conflicts)
    this.documentListeners.emit(documentKey(change.collection, change.docId), change.docId, change, result)
    this.collectionListeners.emit(change.collection, change.docId, change, result)
    // After the document's listeners: a conflict listener that reads the document sees it as it is now.
    for (const conflict of result.conflicts) this.conflictListeners.emit(change.collection, conflict)
  }

  /** A document's state arrived whole (a state transfer, or a leader tab's snapshot). */
  stateMerged(collection: string, docId: string, changed: boolean): void {
    this.note(collection, docId)
    const result: ApplyResult = { changed, conflicts: [] }
    this.documentListeners.emit(documentKey(collection, docId), docId, null, result)
    this.collectionListeners.emit(collection, docId, null, result)
  }

  note(collection: string, docId: string): void {
    let ids = this.idsByCollection.get(collection)
    if (!ids) {
      ids = new Set()
      this.idsByCollection.set(collection, ids)
    }
    ids.add(docId)
  }

  listen(collection: string, docId: string | null, listener: DocumentListener): () => void {
    return docId === null ? this.collectionListeners.add(collection, listener) : this.documentListeners.add(documentKey(collection, docId), listener)
  }

  /** Calls `listener` with each conflict record observed here for a document of `collection`. */
  onConflict(collection: string, listener: (record: ConflictRecord) => void): () => void {
    return this.conflictListeners.add(collection, listener)
  }

  conflicts(collection: string, docId: string): readonly ConflictRecord[] {
    return [...(this.conflictLog.get(documentKey(collection, docId)) ?? [])]
  }

  documentIds(collection: string): string[] {
    return [...(this.idsByCollection.get(collection) ?? [])].sort()
  }

  clearListeners(): void {
    this.documentListeners.clear()
    this.collectionListeners.clear()
    this.conflictListeners.clear()
  }

  private recordConflicts(change: Change, conflicts: readonly ConflictRecord[]): void {
    const key = documentKey(change.collection, change.docId)
    let log = this.conflictLog.get(key)
    if (!log) {
      log = []
      this.conflictLog.set(key, log)
    }
    log.push(...conflicts)
    if (log.length > this.maxConflictsPerDocument) log.splice(0, log.length - this.maxConflictsPerDocument)
  }
}

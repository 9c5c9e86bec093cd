import type { ConflictRecord } from '../core/crdt/document-type.js'
import { documentKey } from '../core/mesh/mesh-node.js'
import type { JsonValue } from '../core/strict/types.js'
import type { AutomergeCollection } from './automerge-collection.js'
import type { ClientCollections } from './collections.js'
import type { DocumentListener } from './context.js'
import { Listeners } from './listeners.js'
import { LocalDocuments } from './local-documents.js'
import type { LwwCollection } from './lww-collection.js'
import type { StrictCollection, StrictReadDefaults } from './strict-collection.js'
import { sameSyncState, type SyncState } from './sync-state.js'
import { WriteStatusTracker, type WriteStatus } from './write-status.js'
import type { YjsCollection } from './yjs-collection.js'

/**
 * The part of `ClientContext` that reads what a client knows locally (write statuses, documents,
 * listeners, conflicts), the same for the client that owns a connection and a tab that follows.
 */
export abstract class LocalContext {
  protected readonly writeStatuses = new WriteStatusTracker()
  protected readonly documents: LocalDocuments
  protected readonly closeHooks: (() => void)[] = []
  protected abstract readonly collections: ClientCollections
  private readonly syncListeners = new Listeners<[SyncState]>()
  private syncSnapshot: SyncState | null = null
  private syncScheduled = false

  constructor(maxConflictsPerDocument: number) {
    this.documents = new LocalDocuments(maxConflictsPerDocument)
  }

  /** The sync state as it is now, built afresh. */
  protected abstract currentSyncState(): SyncState

  get syncState(): SyncState {
    const state = this.currentSyncState()
    // The same object while nothing changed, so that a UI can compare by identity.
    if (this.syncSnapshot !== null && sameSyncState(this.syncSnapshot, state)) return this.syncSnapshot
    this.syncSnapshot = state
    return state
  }

  onSyncState(listener: (state: SyncState) => void): () => void {
    // The baseline a listener's first call differs from.
    void this.syncState
    return this.syncListeners.add(listener)
  }

  lww<T extends Record<string, unknown> = Record<string, unknown>>(collection: string): LwwCollection<T> {
    return this.collections.lww<T>(collection)
  }

  yjs(collection: string): YjsCollection {
    return this.collections.yjs(collection)
  }

  automerge<T extends object = Record<string, unknown>>(collection: string): AutomergeCollection<T> {
    return this.collections.automerge<T>(collection)
  }

  strict<T extends JsonValue = JsonValue>(collection: string, readDefaults?: StrictReadDefaults): StrictCollection<T> {
    return this.collections.strict<T>(collection, readDefaults)
  }

  writeStatus(collection: string, docId: string): WriteStatus {
    return this.writeStatuses.status(documentKey(collection, docId))
  }

  onWriteStatus(collection: string, docId: string, listener: (status: WriteStatus) => void): () => void {
    return this.writeStatuses.watch(documentKey(collection, docId), listener)
  }

  onCollectionWriteStatus(collection: string, listener: (docId: string, status: WriteStatus) => void): () => void {
    return this.writeStatuses.watchCollection(collection, listener)
  }

  listen(collection: string, docId: string | null, listener: DocumentListener): () => void {
    return this.documents.listen(collection, docId, listener)
  }

  conflicts(collection: string, docId: string): readonly ConflictRecord[] {
    return this.documents.conflicts(collection, docId)
  }

  onConflict(collection: string, listener: (record: ConflictRecord) => void): () => void {
    return this.documents.onConflict(collection, listener)
  }

  documentIds(collection: string): string[] {
    return this.documents.documentIds(collection)
  }

  onClose(fn: () => void): void {
    this.closeHooks.push(fn)
  }

  /** Tells `onSyncState` listeners of a new state once per microtask, if it changed. */
  protected scheduleSyncState(): void {
    if (this.syncScheduled || this.syncListeners.size === 0) return
    this.syncScheduled = true
    queueMicrotask(() => {
      this.syncScheduled = false
      this.emitSyncState()
    })
  }

  /** At close: listeners hear the last state, then nothing more. */
  protected endSyncState(): void {
    this.emitSyncState()
    this.syncListeners.clear()
  }

  private emitSyncState(): void {
    const previous = this.syncSnapshot
    const state = this.syncState
    if (state !== previous) this.syncListeners.emit(state)
  }
}

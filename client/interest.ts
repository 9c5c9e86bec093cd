import { MessageType, type DocumentRef, type SubscribeMessage } from '../core/codec/messages.js'

interface Entry {
  readonly collection: string
  /** null for a whole collection. */
  readonly docId: string | null
  count: number
}

const entryKey = (collection: string, docId: string | null): string => (docId === null ? `c\u0000${collection}` : `d\u0000${collection}\u0000${docId}`)

/**
 * What this client syncs (docs/design.md §3, "Partial replication"): the collections it uses (an lww
 * collection, an automerge `subscribeAll`) and the documents it opens (a Yjs `open`, an automerge
 * `open` or `subscribe`), each counted so the last release ends it. Its position covers only
 * entries it has been syncing: one it opens later is fetched as state first (`Subscribe.fetchDocuments`),
 * and counts as synced once the region's `Fetched` says every document of it merged.
 *
 * Synced entries live as long as this client object: after a restart with a stored position, what
 * the app opens is fetched once.
 */
export class ClientInterest {
  private readonly entries = new Map<string, Entry>()
  private readonly synced = new Set<string>()
  private pending: { id: number; keys: string[] } | null = null
  /** Numbers Subscribe frames: a region ignores one older than the last it took (docs/protocol.md). */
  private nextId = 1
  private notifyScheduled = false

  /**
   * @param changed called (once per microtask) when the interest changed: the client resubscribes.
   * @param hasPosition whether the client's position covers anything yet, or may soon (something
   *   waits in its gap buffer): a client that holds nothing when it connects is sent everything it
   *   subscribes to from the start, and fetches nothing.
   */
  constructor(
    private readonly changed: () => void,
    private readonly hasPosition: () => boolean,
  ) {}

  /** Syncs a whole collection until the returned release is called. */
  addCollection(collection: string): () => void {
    return this.add(collection, null)
  }

  /** Syncs one document until the returned release is called. */
  openDocument(collection: string, docId: string): () => void {
    return this.add(collection, docId)
  }

  /**
   * The `Subscribe` frame for a (re)connect or a change: the whole interest, and a fetch of what is not
   * synced. Only at a connect, before the client's vector leaves, can "holds nothing" skip the fetch:
   * later, runs the region skipped under the old interest may already be on their way.
   */
  subscription(connecting = false): SubscribeMessage {
    const collections: string[] = []
    const documents: DocumentRef[] = []
    const fetchCollections: string[] = []
    const fetchDocuments: DocumentRef[] = []
    const unsynced: string[] = []
    const fresh = connecting && !this.hasPosition()
    for (const [key, entry] of this.entries) {
      if (entry.docId === null) collections.push(entry.collection)
      else documents.push({ collection: entry.collection, docId: entry.docId })
      if (this.synced.has(key)) continue
      if (fresh) {
        this.synced.add(key)
        continue
      }
      unsynced.push(key)
      if (entry.docId === null) fetchCollections.push(entry.collection)
      else fetchDocuments.push({ collection: entry.collection, docId: entry.docId })
    }
    const id = this.nextId++
    this.pending = unsynced.length > 0 ? { id, keys: unsynced } : null
    return { type: MessageType.Subscribe, id, collections, documents, fetchCollections, fetchDocuments }
  }

  /**
   * Fetches the document again (after a refused write rebuilt it from a region that had not seen
   * everything this client had, see MeshNode `onRefetch`): the entry that syncs it, the document or
   * its whole collection, counts as not synced, so the next Subscribe fetches it.
   */
  refetch(collection: string, docId: string): void {
    for (const key of [entryKey(collection, docId), entryKey(collection, null)]) {
      if (!this.entries.has(key)) continue
      this.synced.delete(key)
      this.notify()
      return
    }
  }

  /** A region answered fetch `id`; an incomplete answer is asked for again on the next connect. */
  fetched(id: number, complete: boolean): void {
    if (this.pending?.id !== id) return
    if (complete) for (const key of this.pending.keys) if (this.entries.has(key)) this.synced.add(key)
    this.pending = null
  }

  private add(collection: string, docId: string | null): () => void {
    const key = entryKey(collection, docId)
    const entry = this.entries.get(key)
    if (entry !== undefined) entry.count += 1
    else {
      this.entries.set(key, { collection, docId, count: 1 })
      this.notify()
    }
    let released = false
    return () => {
      if (released) return
      released = true
      const current = this.entries.get(key)
      if (current === undefined || --current.count > 0) return
      // No longer synced: the position moves on without its changes, so reopening fetches it again.
      this.entries.delete(key)
      this.synced.delete(key)
      this.notify()
    }
  }

  private notify(): void {
    if (this.notifyScheduled) return
    this.notifyScheduled = true
    queueMicrotask(() => {
      this.notifyScheduled = false
      this.changed()
    })
  }
}

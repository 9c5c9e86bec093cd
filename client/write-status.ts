import { splitDocumentKey } from '../core/mesh/mesh-node.js'
import { KeyedListeners } from './listeners.js'

/**
 * How far this client's own writes to one document have come, the least advanced of them first:
 * - `pending`: applied to the local replica, the store has not finished saving it yet;
 * - `local`: saved in this client's store (with `meridian/client/idb`, a reload keeps it) and not yet
 *   durable at any region: it is in the outbox;
 * - `durable`: durable at a region at least;
 * - `replicated`: durable in every region, or no write of this client to the document is outstanding.
 */
export type WriteStatus = 'pending' | 'local' | 'durable' | 'replicated'

/**
 * The write status of every document this client wrote and not every region holds yet.
 *
 * Own seqs are dense and increasing, so one document's status is that of its highest outstanding
 * own seq, compared with three cumulative marks (saved, durable, replicated). Documents leave the map
 * once replicated, so its size follows the outbox, not history. When a mark advances, only documents
 * with outstanding writes can change status: those are visited (and of them, the watched ones, or all
 * when a whole collection is watched), never every watched document — a page that watches 10,000 rows
 * pays for the few it wrote. Statuses nobody listens to are computed on demand.
 */
/** How far own changes have come: saved in the store, durable at a region, durable in every region. */
export interface WriteMarks {
  readonly saved: number
  readonly durable: number
  readonly replicated: number
}

export class WriteStatusTracker {
  /** Document key → its highest own seq not yet known replicated; insertion order is seq order. */
  private readonly latest = new Map<string, number>()
  private readonly watchers = new KeyedListeners<string, [WriteStatus]>()
  /** The status each watched document was last reported in. */
  private readonly watchedStatus = new Map<string, WriteStatus>()
  /** Collection → listeners of every document of it. */
  private readonly collectionWatchers = new KeyedListeners<string, [string, WriteStatus]>()
  /** Per watched collection, the status each of its outstanding documents was last reported in. */
  private readonly collectionStatus = new Map<string, Map<string, WriteStatus>>()
  private savedSeq = 0
  private durableSeq = 0
  private replicatedSeq = 0
  /** Own changes made (highest own seq); the outbox counts from the marks up to it. */
  private headSeq = 0
  /**
   * Writes without a seq yet, per document: in a tab that follows another, those the leader tab has
   * not logged (client/tab-follower.ts). Such a document is `pending` whatever the marks say.
   */
  private readonly held = new Map<string, number>()
  private heldCount = 0

  /** Own changes not yet durable at a region. */
  get notDurable(): number {
    return Math.max(0, this.headSeq - this.durableSeq) + this.heldCount
  }

  /** Own changes not yet durable in every region. */
  get notReplicated(): number {
    return Math.max(0, this.headSeq - this.replicatedSeq) + this.heldCount
  }

  /** The three marks, for a leader tab to pass on. */
  get marks(): WriteMarks {
    return { saved: this.savedSeq, durable: this.durableSeq, replicated: this.replicatedSeq }
  }

  /** Documents with outstanding writes and the highest seq of each, in seq order. */
  outstanding(): [string, number][] {
    return [...this.latest]
  }

  /** A write to `key` that has no seq yet: the document is `pending` until `release(key)`. */
  hold(key: string): void {
    this.held.set(key, (this.held.get(key) ?? 0) + 1)
    this.heldCount += 1
    this.notify(key)
  }

  release(key: string): void {
    const count = this.held.get(key)
    if (count === undefined) return
    if (count > 1) this.held.set(key, count - 1)
    else this.held.delete(key)
    this.heldCount -= 1
    this.notify(key)
  }

  /** Moves every mark to at least `marks`. */
  advanceTo(marks: WriteMarks): void {
    this.savedThrough(marks.saved)
    this.durableThrough(marks.durable)
    this.replicatedThrough(marks.replicated)
  }

  status(key: string): WriteStatus {
    if (this.held.has(key)) return 'pending'
    const seq = this.latest.get(key)
    if (seq === undefined || seq <= this.replicatedSeq) return 'replicated'
    if (seq <= this.durableSeq) return 'durable'
    if (seq <= this.savedSeq) return 'local'
    return 'pending'
  }

  /** Own change `seq` to document `key` was applied locally (or restored from the store). */
  wrote(key: string, seq: number): void {
    // Delete first: re-inserting moves the key to the end, keeping the map in seq order.
    this.latest.delete(key)
    this.latest.set(key, seq)
    if (seq > this.headSeq) this.headSeq = seq
    this.notify(key)
  }

  /** The store holds own changes up to `seq`. */
  savedThrough(seq: number): void {
    if (seq <= this.savedSeq) return
    this.savedSeq = seq
    this.notifyAll()
  }

  /** Some region holds own changes up to `seq` durably. */
  durableThrough(seq: number): void {
    if (seq <= this.durableSeq) return
    this.durableSeq = seq
    // Durable at a region implies saved here: the client sends only what its store holds.
    if (seq > this.savedSeq) this.savedSeq = seq
    this.notifyAll()
  }

  /** Every region holds own changes up to `seq` durably. */
  replicatedThrough(seq: number): void {
    if (seq <= this.replicatedSeq) return
    this.replicatedSeq = seq
    if (seq > this.durableSeq) this.durableSeq = seq
    if (seq > this.savedSeq) this.savedSeq = seq
    const settled: string[] = []
    for (const [key, latest] of this.latest) {
      if (latest > seq) break
      this.latest.delete(key)
      settled.push(key)
    }
    for (const key of settled) this.notify(key)
    this.notifyAll()
  }

  /** Calls `listener` with the document's status whenever it changes. Returns the unsubscribe function. */
  watch(key: string, listener: (status: WriteStatus) => void): () => void {
    if (!this.watchers.has(key)) this.watchedStatus.set(key, this.status(key))
    const remove = this.watchers.add(key, listener)
    return () => {
      remove()
      if (!this.watchers.has(key)) this.watchedStatus.delete(key)
    }
  }

  /**
   * Calls `listener(docId, status)` whenever a document of `collection` changes status. Returns the
   * unsubscribe function.
   */
  watchCollection(collection: string, listener: (docId: string, status: WriteStatus) => void): () => void {
    if (!this.collectionWatchers.has(collection)) {
      const last = new Map<string, WriteStatus>()
      for (const key of new Set([...this.latest.keys(), ...this.held.keys()])) {
        if (splitDocumentKey(key)[0] === collection) last.set(key, this.status(key))
      }
      this.collectionStatus.set(collection, last)
    }
    const remove = this.collectionWatchers.add(collection, listener)
    return () => {
      remove()
      if (!this.collectionWatchers.has(collection)) this.collectionStatus.delete(collection)
    }
  }

  close(): void {
    this.watchers.clear()
    this.watchedStatus.clear()
    this.collectionWatchers.clear()
    this.collectionStatus.clear()
  }

  private notify(key: string): void {
    const status = this.status(key)
    const watched = this.watchedStatus.get(key)
    if (watched !== undefined && status !== watched) {
      this.watchedStatus.set(key, status)
      this.watchers.emit(key, status)
    }
    if (this.collectionStatus.size === 0) return
    const [collection, docId] = splitDocumentKey(key)
    const last = this.collectionStatus.get(collection)
    if (last === undefined) return
    if (status === (last.get(key) ?? 'replicated')) return
    // Only outstanding documents are remembered: a replicated one is the default.
    if (status === 'replicated') last.delete(key)
    else last.set(key, status)
    this.collectionWatchers.emit(collection, docId, status)
  }

  /** After a mark moved: only documents with outstanding writes can have changed status. */
  private notifyAll(): void {
    if (this.watchers.size === 0 && this.collectionWatchers.size === 0) return
    if (this.collectionWatchers.size === 0 && this.watchers.size < this.latest.size) {
      for (const key of this.watchers.keys()) this.notify(key)
      return
    }
    for (const key of [...this.latest.keys()]) this.notify(key)
  }
}


import { Listeners } from './listeners.js'

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
 * once replicated, so its size follows the outbox, not history. Only watched documents are visited
 * when a mark advances: statuses nobody listens to are computed on demand.
 */
export class WriteStatusTracker {
  /** Document key → its highest own seq not yet known replicated; insertion order is seq order. */
  private readonly latest = new Map<string, number>()
  private readonly watchers = new Map<string, { listeners: Listeners<[WriteStatus]>; last: WriteStatus }>()
  private savedSeq = 0
  private durableSeq = 0
  private replicatedSeq = 0
  /** Own changes made (highest own seq); the outbox counts from the marks up to it. */
  private headSeq = 0

  /** Own changes not yet durable at a region. */
  get notDurable(): number {
    return Math.max(0, this.headSeq - this.durableSeq)
  }

  /** Own changes not yet durable in every region. */
  get notReplicated(): number {
    return Math.max(0, this.headSeq - this.replicatedSeq)
  }

  status(key: string): WriteStatus {
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
    for (const [key, latest] of this.latest) {
      if (latest > seq) break
      this.latest.delete(key)
    }
    this.notifyAll()
  }

  /** Calls `listener` with the document's status whenever it changes. Returns the unsubscribe function. */
  watch(key: string, listener: (status: WriteStatus) => void): () => void {
    let watcher = this.watchers.get(key)
    if (!watcher) {
      watcher = { listeners: new Listeners(), last: this.status(key) }
      this.watchers.set(key, watcher)
    }
    const entry = watcher
    const remove = entry.listeners.add(listener)
    return () => {
      remove()
      if (entry.listeners.size === 0 && this.watchers.get(key) === entry) this.watchers.delete(key)
    }
  }

  close(): void {
    this.watchers.clear()
  }

  private notify(key: string): void {
    const watcher = this.watchers.get(key)
    if (!watcher) return
    const status = this.status(key)
    if (status === watcher.last) return
    watcher.last = status
    watcher.listeners.emit(status)
  }

  private notifyAll(): void {
    for (const key of this.watchers.keys()) this.notify(key)
  }
}

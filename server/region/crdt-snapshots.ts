import { vvMerge } from '../../core/clock/version-vector.js'
import { decodeCoveredRecord, encodeCoveredRecord } from '../../core/codec/author-records.js'
import { decodeStoredDocumentState, encodeStoredDocumentState, type StoredDocumentState } from '../../core/codec/document-state.js'
import { splitDocumentKey, type MeshNode } from '../../core/mesh/index.js'
import type { StorageAdapter } from '../../core/storage/index.js'
import type { Change, ChangeId, VersionVector } from '../../core/types.js'

/** Stored document states: `['crdt', 'doc', collection, docId]`. */
export const CRDT_DOCUMENT_PREFIX = ['crdt', 'doc'] as const
/** What the last finished snapshot round covered: its version vector and author table (CoveredRecord). */
export const CRDT_COVERED_KEY = ['crdt', 'covered'] as const

export interface CrdtSnapshotsOptions {
  readonly storage: StorageAdapter
  readonly mesh: MeshNode
  /** The storage log the group commit appends changes to, one per record. */
  readonly log: string
  /** A round runs after this many changes were logged since the last one. */
  readonly everyChanges: number
  /** ... or this long after the first change since the last one. */
  readonly intervalMs: number
  /** The retention bound [SG3]: past this many held changes, compaction stops waiting for members. */
  readonly retainChanges: number
  /** A round is durable: everything in `covered` survives a crash from now on. */
  readonly onDurable: (covered: VersionVector) => void
  /** After compaction dropped changes from the log (for accounting that follows the log). */
  readonly onCompacted?: (dropped: number) => void
  readonly onError: (err: unknown) => void
}

export interface SnapshotStats {
  rounds: number
  changesCompacted: number
}

/**
 * State, not history, on disk (docs/design.md §6): the crdt documents are stored as merged state in
 * snapshot rounds, and the change log is compacted behind them by [SG3].
 *
 * A **round** encodes every document changed since the last round at one instant (so together they
 * cover exactly the mesh's vector then), saves them and the vector under `CRDT_COVERED_KEY`, and
 * flushes. The saves are issued synchronously, so any group-commit flush called later covers them
 * too: that is what lets a state transfer's vector be reported durable by the next group commit.
 * After a round, compaction drops from the log (memory and disk) every change the round covers that
 * every member also holds durably, or, past `retainChanges`, every change the round covers.
 *
 * Storage truncation is by record index, so this keeps the log's records in append order and cuts
 * the storage log up to the first record still needed.
 *
 * @example
 * ```ts
 * const snapshots = new CrdtSnapshots({ storage, mesh, log: 'crdt', everyChanges: 10_000, intervalMs: 5_000,
 *   retainChanges: 100_000, onDurable: (v) => mesh.markDurable(v), onError: console.error })
 * await snapshots.recover()              // documents first, then the log's tail
 * mesh.options.onAppend = (c) => { commit.enqueue(encodeChange(c)); snapshots.logged(c) }
 * ```
 */
export class CrdtSnapshots {
  readonly stats: SnapshotStats = { rounds: 0, changesCompacted: 0 }
  private coveredVector: VersionVector = new Map()
  /** The storage log's records from `firstIndex` on, in append order (their ids: all compaction needs). */
  private records: ChangeId[] = []
  /** Records at the front of the storage log that recovery found covered: cut once recovery is done. */
  private coveredAtFront = 0
  private recordsHead = 0
  private firstIndex = 1
  private sinceRound = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private running: Promise<void> | null = null
  private rerun = false
  private stopped = false

  constructor(private readonly options: CrdtSnapshotsOptions) {}


  /** Records of the storage log that compaction has not cut yet. */
  get storedRecords(): number {
    return this.records.length - this.recordsHead
  }

  /**
   * Loads the stored documents and what they cover into the mesh. Call before replaying the log's
   * records (then `restoredRecord` for each, in order). Throws on a stored document that does not
   * decode: the data directory is damaged or from an incompatible version, and guessing would lose data.
   */
  async recover(): Promise<{ documents: number }> {
    const { storage, mesh } = this.options
    const coveredBytes = await storage.load([...CRDT_COVERED_KEY])
    const { vector: covered, authors, refusals } = coveredBytes === undefined ? { vector: new Map<string, number>(), authors: [], refusals: [] } : decodeCoveredRecord(coveredBytes)
    const documents: StoredDocumentState[] = []
    for (const { key, data } of await storage.loadRange([...CRDT_DOCUMENT_PREFIX])) {
      try {
        documents.push(decodeStoredDocumentState(data))
      } catch (err) {
        throw new Error(`meridian: stored document ${JSON.stringify(key)} cannot be read: ${String(err)}`, { cause: err })
      }
    }
    mesh.restoreDocuments(documents, covered, authors, undefined, refusals)
    this.coveredVector = covered
    this.firstIndex = (await storage.logBounds(this.options.log)).firstIndex
    return { documents: documents.length }
  }

  /**
   * Recovery is done: a tail that was replayed (after a crash, or a whole log from before snapshot
   * rounds) is stored as state by a round soon, so the next restart does not replay it again.
   */
  recovered(): void {
    if (this.coveredAtFront > 0) {
      this.firstIndex += this.coveredAtFront
      this.coveredAtFront = 0
      this.options.storage.truncateLog(this.options.log, this.firstIndex).catch((err: unknown) => this.options.onError(err))
    }
    if (this.storedRecords > 0) this.runSoon()
  }

  /** A record read back from the storage log during recovery, in index order. */
  restoredRecord(id: ChangeId): void {
    if (this.records.length === this.recordsHead && id.seq <= this.options.mesh.logBase(id.origin)) this.coveredAtFront += 1
    else this.records.push({ origin: id.origin, seq: id.seq })
  }

  /** A change was handed to the group commit (call order is the storage log's order). */
  logged(change: Change): void {
    this.records.push(change)
    this.sinceRound += 1
    if (this.sinceRound >= this.options.everyChanges) this.runSoon()
    else if (this.timer === null && !this.stopped) {
      this.timer = setTimeout(() => this.runSoon(), this.options.intervalMs)
      this.timer.unref?.()
    }
  }

  /**
   * A state transfer moved the vector past what the log holds: store the merged documents now, before
   * any later group commit could report that vector durable (see the class comment).
   */
  stateCovered(): void {
    this.startRound()
  }

  /** Runs a last round (a clean restart then reads states, not history) and stops the timer. */
  async close(): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.running
    await this.startRound()
  }

  private runSoon(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    if (this.running !== null) {
      this.rerun = true
      return
    }
    void this.startRound()
  }

  /** Cuts a round now (saves issued synchronously) and compacts once it is durable. */
  private startRound(): Promise<void> {
    const { storage, mesh } = this.options
    const keys = mesh.takeChangedDocuments()
    const vector = new Map(mesh.vector)
    const writes: Promise<void>[] = []
    for (const key of keys) {
      const stored = mesh.storedDocument(key)
      if (stored === undefined) continue
      const [collection, docId] = splitDocumentKey(key)
      writes.push(storage.save([...CRDT_DOCUMENT_PREFIX, collection, docId], encodeStoredDocumentState(stored)))
    }
    writes.push(storage.save([...CRDT_COVERED_KEY], encodeCoveredRecord(vector, mesh.authors.records(), mesh.refusalRecords())))
    this.sinceRound = 0
    const round = (async () => {
      await Promise.all(writes)
      await storage.flush()
      this.stats.rounds += 1
      // Rounds may overlap (a state transfer starts one at once); a later cut covers an earlier one.
      this.coveredVector = vvMerge(this.coveredVector, vector)
      this.options.onDurable(vector)
      await this.compact()
    })().catch((err: unknown) => this.options.onError(err))
    const tracked = round.finally(() => {
      if (this.running === tracked) this.running = null
      if (this.rerun && !this.stopped) {
        this.rerun = false
        this.runSoon()
      }
    })
    this.running = tracked
    return tracked
  }

  /** [SG3] Drops what every member holds and the stored state covers; past the retention bound, all it covers. */
  private async compact(): Promise<void> {
    const { mesh, storage } = this.options
    let upTo: VersionVector = mesh.prunePoint(this.coveredVector)
    const held = mesh.changeCount
    let prunable = 0
    for (const [origin, seq] of upTo) prunable += seq - mesh.logBase(origin)
    if (held - prunable > this.options.retainChanges) upTo = this.coveredVector
    const dropped = mesh.compact(upTo)
    this.stats.changesCompacted += dropped
    if (dropped > 0) this.options.onCompacted?.(dropped)
    // The storage log is cut up to the first record the log still holds (its order is append order,
    // not per origin, so one old record of a lagging origin keeps later ones on disk too).
    let cut = 0
    while (this.recordsHead + cut < this.records.length) {
      const record = this.records[this.recordsHead + cut] as ChangeId
      if (record.seq > mesh.logBase(record.origin)) break
      cut += 1
    }
    if (cut === 0) return
    this.recordsHead += cut
    this.firstIndex += cut
    if (this.recordsHead > 1024 && this.recordsHead * 2 > this.records.length) {
      this.records = this.records.slice(this.recordsHead)
      this.recordsHead = 0
    }
    await storage.truncateLog(this.options.log, this.firstIndex)
  }
}

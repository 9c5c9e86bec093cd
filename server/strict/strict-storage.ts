/**
 * Strict mode's durable state in the node's one storage engine (docs/design.md §6, "One storage
 * engine"; docs/server.md, "Strict storage"): what the pure `StrictNode` hands out through its
 * callbacks, kept in the same `StorageAdapter` as the crdt documents and made durable by the same
 * commit loop, and given back to the next life as `restored`.
 *
 * ```
 * log  'strict'                          one log entry per record, index = LSN
 * log  'strict-rollbacks'                [ST5] rolled-back entries, one JSON object per record
 * blob ['strict', 'hard-state']          { epoch, votedFor }
 * blob ['strict', 'snapshot']            the last snapshot (absent until the first compaction or install)
 * blob ['strict', 'rollback-candidates'] entries cut from the log whose fate is not decided yet
 * ```
 *
 * Every call is made in the core's order through {@link OrderedEffects}. Hard state, a snapshot and the
 * rollback candidates end in a barrier: the effects after them, messages included, wait until they
 * are durable. A snapshot prunes the log only after that barrier, so the entries it covers are never
 * gone before it is. Appends are durable once a commit-loop round covers them; only then does the node
 * hear `markDurable` (through `onDurable`), and never for a round that a truncation overtook.
 */
import type { StorageAdapter } from '../../core/storage/index.js'
import type { HardState, LogEntry, StrictOp, StrictRestore, StrictSnapshot } from '../../core/strict/index.js'
import {
  decodeEntryList,
  decodeEntryRecord,
  decodeHardState,
  decodeSnapshotRecord,
  encodeEntryList,
  encodeEntryRecord,
  encodeHardState,
  encodeSnapshotRecord,
} from '../../core/codec/strict-records.js'
import type { CommitLoop, CommitParticipant } from '../storage/commit-loop.js'
import { RECORD_HEADER_BYTES } from '../storage/record-format.js'
import { OrderedEffects } from './ordered-effects.js'

export const STRICT_LOG = 'strict'
export const ROLLBACK_LOG = 'strict-rollbacks'
export const HARD_STATE_KEY = ['strict', 'hard-state'] as const
export const SNAPSHOT_KEY = ['strict', 'snapshot'] as const
export const CANDIDATES_KEY = ['strict', 'rollback-candidates'] as const
/** Log entries read per call at startup [PF4]. */
const RECOVERY_PAGE = 4096

/** Stored strict state that does not check out: the node refuses to start rather than guess. */
export class StrictStorageError extends Error {
  override readonly name = 'StrictStorageError'
}

/** What a previous life made durable; every field present (a `StrictRestore` for `new StrictNode`). */
export interface StrictRestored extends StrictRestore {
  readonly hardState: HardState
  readonly snapshot: StrictSnapshot | null
  /** Dense from `snapshot.lsn + 1` (or 1). */
  readonly entries: readonly LogEntry[]
  readonly rollbackCandidates: readonly LogEntry[]
}

/** One record of the rollback log [ST5]. */
export interface RollbackRecord {
  /** ISO 8601 time the rollback was decided. */
  readonly at: string
  /** The node that rolled the entry back. */
  readonly node: string
  readonly epoch: number
  readonly lsn: number
  readonly op: StrictOp
}

export interface StrictStorageOptions {
  /** This node's id, written into rollback records. */
  readonly nodeId: string
  /** The node's commit loop (shared with the crdt changes): its rounds make appends durable. */
  readonly loop: CommitLoop
}

const DEFAULT_HARD_STATE: HardState = { epoch: 0, votedFor: null }

export class StrictStorage implements CommitParticipant {
  /** Entries up to this LSN are durable; the node hears it through `markDurable`. Set by the host. */
  onDurable: (lsn: number) => void = () => {}
  /** A storage call or flush failed: nothing more can be reported durable. Set by the host. */
  onFailure: (err: Error) => void = () => {}

  private readonly effects: OrderedEffects
  /** The log's last LSN as the node sees it. */
  private last: number
  /** The highest LSN whose append has been issued to the adapter. */
  private issued: number
  /** The highest LSN reported durable (lowered by a truncation). */
  private reported: number
  private snapshotLsn: number
  /** Bumped by every truncation: a round prepared before it is not reported. */
  private generation = 0
  private failure: Error | null = null
  private closed = false
  /** Storage calls issued since the last barrier or commit round, which wait for them before flushing. */
  private calls: Promise<unknown>[] = []
  /** Appended records not yet handed to the adapter: one append call per round, not per write. */
  private buffered: Uint8Array[] = []
  private bufferedLsn = 0

  private constructor(
    private readonly storage: StorageAdapter,
    private readonly options: StrictStorageOptions,
    readonly restored: StrictRestored,
  ) {
    this.snapshotLsn = restored.snapshot?.lsn ?? 0
    this.last = Math.max(this.snapshotLsn, restored.entries.at(-1)?.lsn ?? 0)
    this.issued = this.last
    this.reported = this.last
    this.effects = new OrderedEffects(
      () => {
        this.issueBuffered()
        return Promise.all(this.takeCalls()).then(() => this.storage.flush())
      },
      (err) => this.fail(err),
      () => this.options.loop.request(0),
    )
    options.loop.join(this)
    // A failed round (the crdt changes' or ours) means the disk is in an unknown state for both.
    options.loop.onFailure((err) => this.fail(err))
  }

  /**
   * Reads what the previous life stored in `storage` (nothing, for a new node) and returns the
   * strict storage on top of it. Throws {@link StrictStorageError} when it does not check out.
   */
  static async open(storage: StorageAdapter, options: StrictStorageOptions): Promise<StrictStorage> {
    const [hardStateBytes, snapshotBytes, candidateBytes, bounds] = await Promise.all([
      storage.load(HARD_STATE_KEY),
      storage.load(SNAPSHOT_KEY),
      storage.load(CANDIDATES_KEY),
      storage.logBounds(STRICT_LOG),
    ])
    const hardState = hardStateBytes === undefined ? DEFAULT_HARD_STATE : decodeStored(HARD_STATE_KEY, () => decodeHardState(hardStateBytes))
    const snapshot = snapshotBytes === undefined ? null : decodeStored(SNAPSHOT_KEY, () => decodeSnapshotRecord(snapshotBytes))
    const rollbackCandidates = candidateBytes === undefined ? [] : decodeStored(CANDIDATES_KEY, () => decodeEntryList(candidateBytes))
    const base = snapshot?.lsn ?? 0
    if (bounds.firstIndex > base + 1) {
      throw new StrictStorageError(`the strict log starts at LSN ${bounds.firstIndex}, but the snapshot covers only up to ${base}: entries ${base + 1}..${bounds.firstIndex - 1} are missing`)
    }
    // A crash between a snapshot install and the log's move past it: the next append must get base + 1.
    if (bounds.lastIndex < base) await storage.truncateLog(STRICT_LOG, base + 1)
    const entries: LogEntry[] = []
    for (let from = Math.max(bounds.firstIndex, base + 1); from <= bounds.lastIndex; from += RECOVERY_PAGE) {
      const records = await storage.readLog(STRICT_LOG, from, Math.min(bounds.lastIndex, from + RECOVERY_PAGE - 1))
      records.forEach((bytes, k) => {
        const index = from + k
        const entry = decodeStored([STRICT_LOG, String(index)], () => decodeEntryRecord(bytes))
        if (entry.lsn !== index) throw new StrictStorageError(`strict log record ${index} holds LSN ${entry.lsn}`)
        entries.push(entry)
      })
    }
    return new StrictStorage(storage, options, { hardState, snapshot, entries, rollbackCandidates })
  }

  /** Epoch or vote changed: stored, and durable before any effect after it. */
  saveHardState(state: HardState): void {
    const bytes = encodeHardState(state)
    this.effects.run(() => this.issue(() => this.storage.save(HARD_STATE_KEY, bytes)))
    this.effects.barrier()
  }

  /**
   * Appends entries that must follow the log densely (else a RangeError: a programmer error).
   * Returns each entry's size in the log, in bytes (what replication lag in bytes counts).
   */
  append(entries: readonly LogEntry[]): readonly number[] {
    if (entries.length === 0) return []
    let expected = this.last + 1
    for (const entry of entries) {
      if (entry.lsn !== expected) throw new RangeError(`strict storage: append of LSN ${entry.lsn} where ${expected} was expected (entries must be dense and follow the log)`)
      expected += 1
    }
    const records = entries.map(encodeEntryRecord)
    const lsn = expected - 1
    this.last = lsn
    this.effects.run(() => {
      for (const record of records) this.buffered.push(record)
      this.bufferedLsn = lsn
      this.options.loop.request(0)
    })
    return records.map((record) => RECORD_HEADER_BYTES + record.length)
  }

  /** Cuts the log at `fromLsn` (entries >= it go); a round prepared before is not reported. */
  truncateFrom(fromLsn: number): void {
    if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) throw new RangeError(`strict storage: truncateFrom(${fromLsn}) needs an LSN >= 1`)
    const keep = Math.max(this.snapshotLsn, Math.min(this.last, fromLsn - 1))
    this.last = keep
    this.reported = Math.min(this.reported, keep)
    this.generation += 1
    this.effects.run(() => {
      this.issue(() => this.storage.truncateLogAfter(STRICT_LOG, keep))
      this.issued = Math.min(this.issued, keep)
    })
  }

  /** Stores the snapshot, durably before anything after it; then drops log entries up to `prunedToLsn`. */
  saveSnapshot(snapshot: StrictSnapshot, prunedToLsn: number): void {
    const bytes = encodeSnapshotRecord(snapshot)
    this.snapshotLsn = snapshot.lsn
    this.last = Math.max(this.last, snapshot.lsn)
    const keepFrom = Math.min(prunedToLsn, snapshot.lsn) + 1
    this.effects.run(() => this.issue(() => this.storage.save(SNAPSHOT_KEY, bytes)))
    this.effects.barrier()
    this.effects.run(() => {
      // Past the log's end (an install beyond it) this also moves the append point to snapshot.lsn + 1.
      this.issue(() => this.storage.truncateLog(STRICT_LOG, keepFrom))
      this.issued = Math.max(this.issued, snapshot.lsn)
    })
  }

  /** Replaces the list of undecided cut entries, durably before anything after it. */
  saveRollbackCandidates(candidates: readonly LogEntry[]): void {
    const bytes = encodeEntryList(candidates)
    this.effects.run(() => this.issue(() => this.storage.save(CANDIDATES_KEY, bytes)))
    this.effects.barrier()
  }

  /** Sends a message once the barriers before it are durable. */
  send(deliver: () => void): void {
    this.effects.run(deliver)
  }

  /** [ST5] Appends rolled-back entries to the rollback log, durably. Resolves with where they are. */
  recordRollback(entries: readonly LogEntry[], at: Date): Promise<string> {
    const iso = at.toISOString()
    const encoder = new TextEncoder()
    const records = entries.map((e) => encoder.encode(JSON.stringify({ at: iso, node: this.options.nodeId, epoch: e.epoch, lsn: e.lsn, op: e.op } satisfies RollbackRecord)))
    return new Promise((resolve, reject) => {
      this.effects.run(() => {
        this.storage.append(ROLLBACK_LOG, records).then(() => this.storage.flush()).then(() => resolve(`the storage log ${JSON.stringify(ROLLBACK_LOG)} (GET /admin/rollbacks)`), reject)
      })
    })
  }

  /**
   * Rollback records, oldest first: at most `limit` of them from the `from`-th (1-based) on, and the
   * position of the next page (null at the end).
   */
  async readRollbacks(from = 1, limit = Number.MAX_SAFE_INTEGER): Promise<{ records: RollbackRecord[]; next: number | null }> {
    const { firstIndex, lastIndex } = await this.storage.logBounds(ROLLBACK_LOG)
    const start = Math.max(firstIndex, from)
    if (lastIndex < start) return { records: [], next: null }
    const end = Math.min(lastIndex, start + limit - 1)
    const decoder = new TextDecoder()
    const records = (await this.storage.readLog(ROLLBACK_LOG, start, end)).map((bytes) => JSON.parse(decoder.decode(bytes)) as RollbackRecord)
    return { records, next: end < lastIndex ? end + 1 : null }
  }

  prepare(track: (call: Promise<unknown>) => void): (() => void) | null {
    if (this.failure === null) this.issueBuffered()
    for (const call of this.takeCalls()) track(call)
    if (this.failure !== null || this.closed || this.effects.holding || this.issued <= this.reported) return null
    const lsn = this.issued
    const generation = this.generation
    return () => {
      if (this.failure !== null) return
      if (generation !== this.generation) {
        // A truncation overtook the round: its LSNs may name other entries now. The next round reports.
        if (this.issued > this.reported) this.options.loop.request(0)
        return
      }
      if (lsn <= this.reported) return
      this.reported = lsn
      this.onDurable(lsn)
    }
  }

  /** Waits for held effects and makes everything issued durable; then stops taking effects. */
  async close(): Promise<void> {
    if (this.closed) return
    await this.effects.drained()
    this.closed = true
    try {
      if (this.failure === null) {
        this.issueBuffered()
        await Promise.all(this.takeCalls())
        await this.storage.flush()
      }
    } finally {
      this.effects.stop()
    }
  }

  /**
   * Issues a storage call after the appends buffered before it (the adapter keeps call order, so the
   * log's order is the core's).
   */
  private issue(call: () => Promise<unknown>): void {
    this.issueBuffered()
    this.track(call())
  }

  /** Hands the buffered appends to the adapter in one call. */
  private issueBuffered(): void {
    if (this.buffered.length === 0) return
    const records = this.buffered
    const lsn = this.bufferedLsn
    this.buffered = []
    this.track(
      this.storage.append(STRICT_LOG, records).then((index) => {
        if (index !== lsn) throw new Error(`strict log out of step: LSN ${lsn} was stored at index ${index}`)
      }),
    )
    this.issued = lsn
  }

  private track(call: Promise<unknown>): void {
    call.catch((err: unknown) => this.fail(err))
    this.calls.push(call)
  }

  private takeCalls(): Promise<unknown>[] {
    const calls = this.calls
    this.calls = []
    return calls
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return
    this.failure = err instanceof Error ? err : new Error(String(err))
    this.effects.stop()
    this.onFailure(this.failure)
  }
}

function decodeStored<T>(key: readonly string[], decode: () => T): T {
  try {
    return decode()
  } catch (err) {
    throw new StrictStorageError(`stored strict state ${JSON.stringify(key)} does not decode: ${(err as Error).message}`, { cause: err })
  }
}

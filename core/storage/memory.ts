import {
  StorageError,
  type LogBounds,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey,
} from './adapter.js'
import {
  assertBytes,
  assertIndex,
  assertLogName,
  assertStorageKey,
  assertStoragePrefix,
  compareStorageKeys,
  hasKeyPrefix,
} from './keys.js'

/** Options of {@link MemoryStorageAdapter.crash}. */
export interface MemoryCrashOptions {
  /**
   * How many of the pending (unflushed) operations, oldest first, reached the medium before the
   * crash anyway. Default 0: only flushed state survives. Each appended record counts as one
   * operation, so a value inside a batch models a torn append. A seeded simulator can pass
   * `rng.int(0, adapter.pendingOperationCount)` to explore every outcome [SG1] allows.
   */
  readonly survivingPendingOperations?: number
}

interface LogState {
  first: number
  // Records are copied on the way in and out, so durable and current state may share them.
  records: Uint8Array[]
}

interface BlobEntry {
  readonly key: readonly string[]
  readonly data: Uint8Array
}

interface State {
  readonly blobs: Map<string, BlobEntry>
  readonly logs: Map<string, LogState>
}

type Operation =
  | { readonly kind: 'save'; readonly id: string; readonly entry: BlobEntry }
  | { readonly kind: 'remove'; readonly id: string }
  | { readonly kind: 'removeRange'; readonly prefix: readonly string[] }
  | { readonly kind: 'append'; readonly log: string; readonly record: Uint8Array }
  | { readonly kind: 'truncateLog'; readonly log: string; readonly beforeIndex: number }
  | { readonly kind: 'truncateLogAfter'; readonly log: string; readonly index: number }

// JSON of a string array is injective, unlike any join with a separator.
function keyId(key: StorageKey): string {
  return JSON.stringify(key)
}

function emptyState(): State {
  return { blobs: new Map(), logs: new Map() }
}

function cloneState(state: State): State {
  const logs = new Map<string, LogState>()
  for (const [name, log] of state.logs) logs.set(name, { first: log.first, records: [...log.records] })
  return { blobs: new Map(state.blobs), logs }
}

function logOf(state: State, name: string): LogState {
  let log = state.logs.get(name)
  if (!log) {
    log = { first: 1, records: [] }
    state.logs.set(name, log)
  }
  return log
}

/** The single place where an operation changes state, used for both the live and the durable copy. */
function apply(state: State, op: Operation): void {
  switch (op.kind) {
    case 'save':
      state.blobs.set(op.id, op.entry)
      return
    case 'remove':
      state.blobs.delete(op.id)
      return
    case 'removeRange':
      for (const [id, entry] of state.blobs) if (hasKeyPrefix(entry.key, op.prefix)) state.blobs.delete(id)
      return
    case 'append':
      logOf(state, op.log).records.push(op.record)
      return
    case 'truncateLog': {
      const log = logOf(state, op.log)
      if (op.beforeIndex <= log.first) return
      log.records.splice(0, Math.min(op.beforeIndex - log.first, log.records.length))
      log.first = op.beforeIndex
      return
    }
    case 'truncateLogAfter': {
      const log = logOf(state, op.log)
      const last = log.first + log.records.length - 1
      if (op.index >= last) return
      if (op.index < log.first - 1) {
        log.records = []
        log.first = op.index + 1
      } else {
        log.records.length = op.index - log.first + 1
      }
      return
    }
  }
}

/**
 * An in-memory {@link StorageAdapter} for tests and the deterministic simulator, with a crash model:
 * it keeps the durable state (as of the last `flush`) apart from the operations still pending, and
 * {@link crash} returns a fresh adapter holding only what a real crash would leave.
 *
 * Operations take effect synchronously when called (so call order is trivially preserved) and
 * `flush` makes everything called before it durable at once.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorageAdapter()
 * await storage.append('log', [a, b])
 * await storage.flush()
 * await storage.append('log', [c])
 * const restarted = storage.crash()              // `storage` is dead from here on
 * await restarted.readLog('log', 1)              // [a, b]: c was never flushed
 * ```
 */
export class MemoryStorageAdapter implements StorageAdapter {
  private current: State = emptyState()
  private durable: State = emptyState()
  private pending: Operation[] = []
  private state: 'open' | 'closed' | 'crashed' = 'open'

  /** Operations (blob writes, removals, single appended records, truncations) not yet flushed. */
  get pendingOperationCount(): number {
    return this.pending.length
  }

  /**
   * Simulates a process or machine crash: this instance becomes unusable (every call rejects with
   * code `'closed'`) and the returned adapter holds the durable state, plus the first
   * `survivingPendingOperations` pending operations. So pending blob writes are lost and a pending
   * log tail is dropped as a suffix, leaving a prefix.
   */
  crash(options: MemoryCrashOptions = {}): MemoryStorageAdapter {
    this.assertOpen()
    const surviving = options.survivingPendingOperations ?? 0
    if (!Number.isSafeInteger(surviving) || surviving < 0) {
      throw new StorageError(
        'invalid-argument',
        `survivingPendingOperations must be an integer >= 0, got ${String(surviving)}`,
      )
    }
    for (const op of this.pending.slice(0, surviving)) apply(this.durable, op)
    const next = new MemoryStorageAdapter()
    // The dead instance never touches its state again, so the durable copy can be handed over.
    next.durable = this.durable
    next.current = cloneState(this.durable)
    this.state = 'crashed'
    this.pending = []
    this.current = emptyState()
    this.durable = emptyState()
    return next
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    this.assertOpen()
    assertStorageKey(key)
    const entry = this.current.blobs.get(keyId(key))
    return entry ? entry.data.slice() : undefined
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    this.assertOpen()
    assertStorageKey(key)
    assertBytes(data, 'data')
    this.record({ kind: 'save', id: keyId(key), entry: { key: [...key], data: data.slice() } })
  }

  async remove(key: StorageKey): Promise<void> {
    this.assertOpen()
    assertStorageKey(key)
    this.record({ kind: 'remove', id: keyId(key) })
  }

  async loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    this.assertOpen()
    assertStoragePrefix(prefix)
    const out: StorageChunk[] = []
    for (const entry of this.current.blobs.values()) {
      if (hasKeyPrefix(entry.key, prefix)) out.push({ key: [...entry.key], data: entry.data.slice() })
    }
    return out.sort((a, b) => compareStorageKeys(a.key, b.key))
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    this.assertOpen()
    assertStoragePrefix(prefix)
    this.record({ kind: 'removeRange', prefix: [...prefix] })
  }

  async append(log: string, records: readonly Uint8Array[]): Promise<number> {
    this.assertOpen()
    assertLogName(log)
    if (!Array.isArray(records)) throw new StorageError('invalid-argument', 'records must be an array')
    for (const record of records) assertBytes(record, 'record')
    for (const record of records) this.record({ kind: 'append', log, record: record.slice() })
    return this.boundsOf(log).lastIndex
  }

  async readLog(log: string, fromIndex: number, toIndex?: number): Promise<Uint8Array[]> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(fromIndex, 'fromIndex', 1)
    if (toIndex !== undefined) assertIndex(toIndex, 'toIndex', 0)
    const state = this.current.logs.get(log)
    if (!state) return []
    if (fromIndex < state.first) {
      throw new StorageError('pruned', `log '${log}' starts at ${state.first}; ${fromIndex} was pruned`)
    }
    const last = state.first + state.records.length - 1
    const to = toIndex === undefined ? last : Math.min(toIndex, last)
    if (fromIndex > to) return []
    return state.records.slice(fromIndex - state.first, to - state.first + 1).map((r) => r.slice())
  }

  async logBounds(log: string): Promise<LogBounds> {
    this.assertOpen()
    assertLogName(log)
    return this.boundsOf(log)
  }

  async truncateLog(log: string, beforeIndex: number): Promise<void> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(beforeIndex, 'beforeIndex', 1)
    this.record({ kind: 'truncateLog', log, beforeIndex })
  }

  async truncateLogAfter(log: string, index: number): Promise<void> {
    this.assertOpen()
    assertLogName(log)
    assertIndex(index, 'index', 0)
    this.record({ kind: 'truncateLogAfter', log, index })
  }

  async flush(): Promise<void> {
    this.assertOpen()
    this.flushNow()
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return
    this.flushNow()
    this.state = 'closed'
  }

  private flushNow(): void {
    for (const op of this.pending) apply(this.durable, op)
    this.pending = []
  }

  private record(op: Operation): void {
    apply(this.current, op)
    this.pending.push(op)
  }

  private boundsOf(log: string): LogBounds {
    const state = this.current.logs.get(log)
    if (!state) return { firstIndex: 1, lastIndex: 0 }
    return { firstIndex: state.first, lastIndex: state.first + state.records.length - 1 }
  }

  private assertOpen(): void {
    if (this.state !== 'open') {
      throw new StorageError('closed', `MemoryStorageAdapter is ${this.state}`)
    }
  }
}

import { checkId } from './context.js'
import { READ_PREFERENCES, type ReadPreference, type StrictReadRequest, type StrictWriteRequest } from '../core/strict/requests.js'
import {
  WRITE_CONCERNS,
  type DocumentOp,
  type JsonValue,
  type LogPosition,
  type Precondition,
  type WriteConcern,
  type WriteOp,
} from '../core/strict/types.js'
import {
  formatStrictToken,
  parseStrictToken,
  type StrictPendingWrite,
  type StrictReadAnswer,
  type StrictWriteOutcome,
  type StrictWriteResult,
} from './strict-queue.js'
import type { StrictChangeListener, StrictSubscribeOptions } from './strict-watch.js'

/** Options of `put`, `patch` and `delete`. */
export interface StrictWriteOptions {
  /** Write concern to wait for. Default `majority`. */
  readonly w?: WriteConcern
  /**
   * How long the server may take to meet the concern before answering `indeterminate` (and to find
   * a primary before rejecting `UNAVAILABLE`). Default: the server's `strict.writeTimeoutMs`. Counts
   * from when the server receives the write, not from when it was queued.
   */
  readonly timeoutMs?: number
  /** The document's version (LSN of its last write) must be exactly this; 0: it must not exist. */
  readonly expectVersion?: number
  /** true: the document must exist; false: it must not. */
  readonly exists?: boolean
}

/** Options of `batch`: preconditions go on each op. */
export interface StrictBatchOptions {
  readonly w?: WriteConcern
  readonly timeoutMs?: number
}

/** One op of a batch. `collection` defaults to the collection `batch` is called on; any strict collection may be named. */
export type StrictBatchOp =
  | { readonly kind: 'put'; readonly collection?: string; readonly id: string; readonly value: JsonValue; readonly expectVersion?: number; readonly exists?: boolean }
  | {
      readonly kind: 'patch'
      readonly collection?: string
      readonly id: string
      readonly fields: { readonly [field: string]: JsonValue }
      readonly expectVersion?: number
      readonly exists?: boolean
    }
  | { readonly kind: 'delete'; readonly collection?: string; readonly id: string; readonly expectVersion?: number; readonly exists?: boolean }

/** Fields of a patch: a value sets the field, `null` deletes it; the others are kept. */
export type StrictPatch<T> = [T] extends [{ readonly [field: string]: JsonValue }]
  ? { readonly [K in keyof T]?: T[K] | null }
  : { readonly [field: string]: JsonValue }

/** Options of `get`. */
export interface StrictReadOptions {
  /** Which node may answer. Default `primary`. */
  readonly read?: ReadPreference
  /**
   * [RD1] Never answer with state older than this token (`epoch:lsn`, e.g. a write's `token`). The
   * session's own highest position is always applied too [RD2]; the later of the two is sent.
   */
  readonly after?: string
  /** [RD3] For `nearest` / `replica`: only a node at most this stale may answer. Default: no bound. */
  readonly maxStalenessMs?: number
  /** How long the server may wait for `after` to be applied. Default: the server's `strict.readTimeoutMs`. */
  readonly timeoutMs?: number
}

/**
 * A collection's default read routing (docs/client.md, "Read routing"): `client.strict(name, { read, maxStalenessMs })`.
 * A read's own options override these, field by field.
 */
export interface StrictReadDefaults {
  /** Default `primary`. `linearizable`: the primary confirms with a majority round before answering. */
  readonly read?: ReadPreference
  /** [RD3] Default for `nearest` / `replica` reads: no bound. */
  readonly maxStalenessMs?: number
}

/** A document read from a strict collection. */
export interface StrictDocument<T> {
  readonly value: T
  /** LSN of the document's last write: pass it as `expectVersion` for a compare-and-set. */
  readonly version: number
  /** `epoch:lsn` of the state this read shows: the next read `after` it never sees older state. */
  readonly token: string
  readonly position: LogPosition
  /** The node that served the read. */
  readonly node: string
  /** [RD3] How stale that node was in ms: 0 on the primary; null when it never heard from one. */
  readonly lagMs: number | null
}

/**
 * A strict collection (docs/design.md §4): one primary orders every write; a write is acknowledged at the
 * write concern asked for, or rejected (`StrictWriteRejected`), or reported `indeterminate` [ST3].
 * Nothing is applied locally: reads ask a region.
 *
 * Writes made while offline are queued, in order, and sent once a region accepts the handshake
 * (with a store that keeps strict writes, across restarts too). A write that was sent is never sent
 * again: if its connection drops before the answer it resolves `indeterminate` (`unreachable`).
 * Reads are not queued: offline, they reject with `StrictReadFailed` (`UNAVAILABLE`).
 *
 * @example
 * ```ts
 * const accounts = client.strict<{ owner: string; balance: number }>('accounts')
 * const a = await accounts.get('alice')                       // { value, version, token, … } or null
 * if (a) {
 *   const w = await accounts.put('alice', { ...a.value, balance: a.value.balance - 10 }, { expectVersion: a.version })
 *   if (w.status === 'indeterminate') console.warn('unknown outcome', w.reason)
 * }
 * await accounts.batch([
 *   { kind: 'patch', id: 'alice', fields: { balance: 90 }, expectVersion: 7 },
 *   { kind: 'put', collection: 'ledger', id: 'tx-1', value: { from: 'alice', amount: 10 }, exists: false },
 * ])
 * ```
 */
export interface StrictCollection<T extends JsonValue = JsonValue> {
  readonly name: string
  /** Makes the document exactly `value`. */
  put(id: string, value: T, options?: StrictWriteOptions): Promise<StrictWriteResult>
  /** Shallow merge: sets the given fields, deletes those given as `null`; an absent document starts as `{}`. */
  patch(id: string, fields: StrictPatch<T>, options?: StrictWriteOptions): Promise<StrictWriteResult>
  delete(id: string, options?: StrictWriteOptions): Promise<StrictWriteResult>
  /** Applies every op atomically at one log position, or none of them (a failed precondition rejects it whole). */
  batch(ops: readonly StrictBatchOp[], options?: StrictBatchOptions): Promise<StrictWriteResult>
  /**
   * The document, or null when it does not exist. Rejects with `StrictReadFailed`. Routed by
   * `options`, else by the collection's defaults (`client.strict(name, defaults)`), else `primary`.
   */
  get(id: string, options?: StrictReadOptions): Promise<StrictDocument<T> | null>
  /** The read defaults this collection object applies (`{}` when none). */
  readonly readDefaults: StrictReadDefaults
  /**
   * The escape hatch, like Prisma's `$primary()`: the same collection with reads on the primary
   * (`accounts.primary().get(id)`), whatever its defaults. Writes are the same as through `this`.
   */
  primary(): StrictCollection<T>
  /** Writes made through this collection that are queued or awaiting their answer, oldest first. */
  pending(): StrictPendingWrite[]
  /**
   * Called once with the outcome of each write made through this collection — including writes an
   * earlier session queued, restored from the store, whose promise is gone (`write.restored`).
   * Returns the unsubscribe function.
   */
  onOutcome(listener: (outcome: StrictWriteOutcome) => void): () => void
  /**
   * Watches one document: `listener` gets its current state as soon as a region is connected
   * (`value` null and `version` 0 when it does not exist), then every change the region applies.
   * After a reconnect — to any region — it gets the state again if it changed meanwhile, and then
   * the changes; never a state older than one it already got. Nothing arrives while offline.
   * Returns the unsubscribe function.
   *
   * @example
   * ```ts
   * const stop = accounts.subscribe('alice', ({ value }) => render(value?.balance ?? 0))
   * ```
   */
  subscribe(id: string, listener: StrictChangeListener<T>, options?: StrictSubscribeOptions): () => void
  /**
   * Watches every document of the collection: first each existing one, then each change (a deleted
   * document comes with `value` null). See `subscribe`. A document deleted while the client was
   * offline is not reported: the region only sends the documents that exist.
   */
  subscribeAll(listener: StrictChangeListener<T>, options?: StrictSubscribeOptions): () => void
}

/**
 * What a strict collection runs on: the client's own strict channel and watches (client/strict.ts), or
 * in a tab that follows another, the leader tab's, over the tabs' channel (client/tab-strict.ts).
 */
export interface StrictOps {
  submit(collection: string, write: Omit<StrictWriteRequest, 'requestKey'>): Promise<StrictWriteResult>
  read(request: StrictReadRequest): Promise<StrictReadAnswer>
  pending(collection?: string): StrictPendingWrite[]
  onOutcome(collection: string | null, listener: (outcome: StrictWriteOutcome) => void): () => void
  subscribe(collection: string, id: string | null, listener: StrictChangeListener, options?: StrictSubscribeOptions): () => void
}

/**
 * The same collection with other read defaults: reads take `defaults` where their own options say
 * nothing; writes, `pending`, watches are the collection's own.
 */
export function withReadDefaults<T extends JsonValue>(base: StrictCollection<T>, defaults: StrictReadDefaults): StrictCollection<T> {
  const readDefaults = readDefaultsOf(defaults)
  const view: StrictCollection<T> = {
    ...base,
    readDefaults,
    primary: () => withReadDefaults(base, { read: 'primary' }),
    get: (id, options) =>
      base.get(id, {
        ...options,
        read: options?.read ?? readDefaults.read ?? 'primary',
        ...(options?.maxStalenessMs === undefined && readDefaults.maxStalenessMs === undefined ? {} : { maxStalenessMs: options?.maxStalenessMs ?? readDefaults.maxStalenessMs }),
      }),
  }
  return view
}

const NO_READ_DEFAULTS: StrictReadDefaults = Object.freeze({})

export function strictCollection<T extends JsonValue>(ops: StrictOps, name: string): StrictCollection<T> {
  const write = (op: WriteOp, options: StrictBatchOptions | undefined): Promise<StrictWriteResult> =>
    ops.submit(name, { op, concern: concernOf(options), timeoutMs: timeoutOf(options?.timeoutMs, 'timeoutMs') })
  const collection: StrictCollection<T> = {
    name,
    readDefaults: NO_READ_DEFAULTS, // withReadDefaults gives a view with others
    primary: () => withReadDefaults(collection, { read: 'primary' }),
    put: (id, value, options) => write(documentOp({ kind: 'put', id, value, ...preconditionFields(options) }, name), options),
    patch: (id, fields, options) =>
      write(documentOp({ kind: 'patch', id, fields: fields as { readonly [field: string]: JsonValue }, ...preconditionFields(options) }, name), options),
    delete: (id, options) => write(documentOp({ kind: 'delete', id, ...preconditionFields(options) }, name), options),
    batch: (ops, options) => {
      if (!Array.isArray(ops) || ops.length === 0) throw new TypeError('Meridian client: a strict batch needs at least one op')
      return write({ kind: 'batch', ops: ops.map((op) => documentOp(op, name)) }, options)
    },
    get: (id, options) => {
      const request: StrictReadRequest = {
        collection: name,
        id: checkId(id),
        after: options?.after === undefined ? null : parseStrictToken(options.after),
        read: readPreferenceOf(options?.read),
        maxStalenessMs: timeoutOf(options?.maxStalenessMs, 'maxStalenessMs'),
        timeoutMs: timeoutOf(options?.timeoutMs, 'timeoutMs'),
      }
      const result = ops.read(request).then((answer): StrictDocument<T> | null => {
        if (answer.document === null) return null
        const position = { epoch: answer.appliedEpoch, lsn: answer.appliedLsn }
        return {
          value: answer.document.value as T,
          version: answer.document.version,
          token: formatStrictToken(position),
          position,
          node: answer.node,
          lagMs: answer.lagMs,
        }
      })
      // Like every promise of the client: one nobody awaits must not crash Node when it rejects.
      result.catch(() => undefined)
      return result
    },
    pending: () => ops.pending(name),
    onOutcome: (listener) => ops.onOutcome(name, listener),
    subscribe: (id, listener, options) => ops.subscribe(name, checkId(id), listener as StrictChangeListener, options),
    subscribeAll: (listener, options) => ops.subscribe(name, null, listener as StrictChangeListener, options),
  }
  return collection
}

function documentOp(op: StrictBatchOp, defaultCollection: string): DocumentOp {
  if (typeof op !== 'object' || op === null) throw new TypeError('Meridian client: a strict op must be an object')
  const collection = op.collection ?? defaultCollection
  if (typeof collection !== 'string' || collection === '') throw new TypeError('Meridian client: a collection name must be a non-empty string')
  const id = checkId(op.id)
  const precondition = preconditionOf(op)
  const base = { collection, id, ...(precondition === null ? {} : { precondition }) }
  switch (op.kind) {
    case 'put':
      if (op.value === undefined) throw new TypeError('Meridian client: a strict put needs a value (null is one; undefined is not)')
      return { kind: 'put', ...base, value: op.value }
    case 'patch':
      if (typeof op.fields !== 'object' || op.fields === null || Array.isArray(op.fields)) {
        throw new TypeError('Meridian client: a strict patch takes an object of fields')
      }
      return { kind: 'patch', ...base, fields: op.fields }
    case 'delete':
      return { kind: 'delete', ...base }
    default:
      throw new TypeError(`Meridian client: unknown strict op kind ${JSON.stringify((op as { kind?: unknown }).kind)}`)
  }
}

function preconditionFields(options: StrictWriteOptions | undefined): { expectVersion?: number; exists?: boolean } {
  const out: { expectVersion?: number; exists?: boolean } = {}
  if (options?.expectVersion !== undefined) out.expectVersion = options.expectVersion
  if (options?.exists !== undefined) out.exists = options.exists
  return out
}

function preconditionOf(op: { readonly expectVersion?: number; readonly exists?: boolean }): Precondition | null {
  const { expectVersion, exists } = op
  if (expectVersion !== undefined && !(Number.isSafeInteger(expectVersion) && expectVersion >= 0)) {
    throw new TypeError('Meridian client: expectVersion must be an integer >= 0 (0: the document must not exist)')
  }
  if (exists !== undefined && typeof exists !== 'boolean') throw new TypeError('Meridian client: exists must be a boolean')
  if (expectVersion === undefined && exists === undefined) return null
  return { ...(expectVersion === undefined ? {} : { expectVersion }), ...(exists === undefined ? {} : { exists }) }
}

function concernOf(options: StrictBatchOptions | undefined): WriteConcern {
  const w = options?.w ?? 'majority'
  if (!WRITE_CONCERNS.includes(w)) throw new TypeError(`Meridian client: w must be one of ${WRITE_CONCERNS.join(', ')}`)
  return w
}

/** Checked once, where the defaults are given, so a typo fails at `client.strict()` and not at the first read. */
export function readDefaultsOf(defaults: StrictReadDefaults | undefined): StrictReadDefaults {
  if (defaults === undefined) return {}
  if (typeof defaults !== 'object' || defaults === null) throw new TypeError('Meridian client: strict read defaults must be an object { read?, maxStalenessMs? }')
  const out: { read?: ReadPreference; maxStalenessMs?: number } = {}
  if (defaults.read !== undefined) out.read = readPreferenceOf(defaults.read)
  const bound = timeoutOf(defaults.maxStalenessMs, 'maxStalenessMs')
  if (bound !== null) out.maxStalenessMs = bound
  return Object.freeze(out)
}

function readPreferenceOf(read: ReadPreference | undefined): ReadPreference {
  const preference = read ?? 'primary'
  if (!READ_PREFERENCES.includes(preference)) throw new TypeError(`Meridian client: read must be one of ${READ_PREFERENCES.join(', ')}`)
  return preference
}

function timeoutOf(value: number | undefined, name: string): number | null {
  if (value === undefined) return null
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`Meridian client: ${name} must be a finite number >= 0`)
  return value
}

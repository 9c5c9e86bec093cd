/**
 * Strict mode's vocabulary (docs/design.md §4): log entries, operations, write concerns, results and typed
 * errors. Plain data only, so the shell can persist and (later) encode them.
 */

/** A JSON value as stored in a strict document. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** `(epoch, lsn)`: identifies one log entry; also the token a write returns (`epoch:lsn`). */
export interface LogPosition {
  readonly epoch: number
  readonly lsn: number
}

/**
 * Conditions a single-document op requires of the document as the primary sees it (its whole log,
 * committed and pending). All given conditions must hold.
 */
export interface Precondition {
  /** The document's version (LSN of its last write) must equal this; 0 means "must not exist". */
  readonly expectVersion?: number
  /** true: the document must exist; false: it must not. */
  readonly exists?: boolean
}

export interface PutOp {
  readonly kind: 'put'
  readonly collection: string
  readonly id: string
  readonly value: JsonValue
  readonly precondition?: Precondition
}

/** Shallow merge of `fields` into the document (an absent document starts as `{}`); null deletes a field. */
export interface PatchOp {
  readonly kind: 'patch'
  readonly collection: string
  readonly id: string
  readonly fields: { readonly [field: string]: JsonValue }
  readonly precondition?: Precondition
}

export interface DeleteOp {
  readonly kind: 'delete'
  readonly collection: string
  readonly id: string
  readonly precondition?: Precondition
}

export type DocumentOp = PutOp | PatchOp | DeleteOp

/** Several document ops applied atomically at one LSN: all preconditions hold, or nothing is written. */
export interface BatchOp {
  readonly kind: 'batch'
  readonly ops: readonly DocumentOp[]
}

/** The entry a new primary appends at the start of its epoch, so earlier entries can commit with it. */
export interface NoopOp {
  readonly kind: 'noop'
}

export type StrictOp = DocumentOp | BatchOp | NoopOp
/** What a caller may submit (a no-op is the primary's own business). */
export type WriteOp = DocumentOp | BatchOp

export interface LogEntry {
  readonly epoch: number
  /** Dense from 1 per log. */
  readonly lsn: number
  readonly op: StrictOp
  /**
   * The caller's request key (at-most-once writes): present only on an entry written with one. Every
   * replica remembers the keys it applies, so a resend with the same key to any later primary is
   * answered with this entry's position instead of being appended again.
   */
  readonly requestKey?: string
}

/** Where one epoch's entries start in a log; a log's history is a short list of these. */
export interface EpochStart {
  readonly epoch: number
  readonly lsn: number
}

export interface StoredDocument {
  readonly value: JsonValue
  /** LSN of the last write to this document. */
  readonly version: number
}

/** The applied state at `lsn`, plus the epoch history up to it so log matching still works below it. */
export interface StrictSnapshot {
  readonly lsn: number
  readonly epoch: number
  readonly history: readonly EpochStart[]
  readonly documents: readonly (readonly [key: string, doc: StoredDocument])[]
  /**
   * The request keys the applied state remembers (oldest first) and the position of the entry that
   * carried each. Absent in snapshots taken before any keyed write: restores an empty table.
   */
  readonly requestKeys?: readonly (readonly [key: string, position: LogPosition])[]
}

export type WriteConcern = 'local' | 'one' | 'majority' | 'all'
export const WRITE_CONCERNS: readonly WriteConcern[] = ['local', 'one', 'majority', 'all']

export type StrictRole = 'follower' | 'candidate' | 'primary'

/** What must be durable before a vote or an epoch change leaves the node (Raft's currentTerm/votedFor). */
export interface HardState {
  readonly epoch: number
  readonly votedFor: string | null
}

/** A failed precondition; the whole op (batch included) was refused and nothing was written. */
export interface PreconditionFailed {
  readonly code: 'PRECONDITION_FAILED'
  readonly key: string
  /** Index of the failing op inside a batch; 0 for a single op. */
  readonly opIndex: number
  readonly expected: Precondition
  /** The document's version as the primary saw it; 0 when it does not exist. */
  readonly actualVersion: number
}

/** This node is not the primary (or is a primary that lost its majority); try `primaryHint`. */
export interface NotPrimary {
  readonly code: 'NOT_PRIMARY'
  readonly epoch: number
  readonly primaryHint: string | null
}

/** A malformed op (empty batch, bad key); a programmer error reported as data on the I/O path. */
export interface InvalidOp {
  readonly code: 'INVALID_OP'
  readonly message: string
}

/**
 * A value Meridian does not store (core/values/storable-value.ts): not JSON, a non-finite number, a
 * lone surrogate, a `__proto__` key, or over a limit. Refused before anything was logged.
 */
export interface InvalidValue {
  readonly code: 'INVALID_VALUE'
  readonly message: string
  /** Where in the write: `ops[1].value.a[2]` (`$` stands for the op's value or fields). */
  readonly path: string
  /** The rule broken: `maxDepth`, `maxDocumentBytes`, `finite-number`, `json` … (ValueRule). */
  readonly rule: string
  /** The bound exceeded, for the limit rules; null otherwise. */
  readonly limit: number | null
}

export type WriteRejection = PreconditionFailed | NotPrimary | InvalidOp | InvalidValue

/** The synchronous answer to `write`: accepted into the log (outcome comes later) or rejected. */
export type WriteSubmission =
  | {
      readonly status: 'accepted'
      readonly writeId: number
      readonly token: LogPosition
      /**
       * The request key was already in the log: nothing was appended, `token` is the original entry's
       * and the outcome reports when that entry meets this write's concern. Absent on a fresh write.
       */
      readonly duplicate?: boolean
    }
  | { readonly status: 'rejected'; readonly error: WriteRejection }

/**
 * The final outcome of an accepted write, delivered once through `onWriteOutcome`.
 * - `acknowledged`: the requested concern was met (`level` = what was reached; `local` with
 *   `degraded: true` when a `one` write fell back to semi-sync's timeout path).
 * - `indeterminate` [ST3]: the outcome is unknown (timeout, or the primary stepped down); the entry
 *   may or may not survive. Never reported as failed.
 */
export type WriteOutcome =
  | {
      readonly status: 'acknowledged'
      readonly writeId: number
      readonly token: LogPosition
      readonly requested: WriteConcern
      readonly level: WriteConcern
      readonly degraded: boolean
    }
  | {
      readonly status: 'indeterminate'
      readonly writeId: number
      readonly token: LogPosition
      readonly requested: WriteConcern
      readonly reason: 'timeout' | 'stepped-down'
      /** The highest level the write had reached when the outcome became unknown, if any. */
      readonly reached: WriteConcern | null
    }

/** A read's answer. Only applied (committed) state is ever shown. */
export type ReadResult =
  | {
      readonly status: 'ok'
      /** null when the document does not exist at `appliedLsn`. */
      readonly document: StoredDocument | null
      /** The state shown is exactly the state after this entry. */
      readonly appliedLsn: number
      readonly appliedEpoch: number
      readonly role: StrictRole
      readonly epoch: number
      /** Committed entries this node knows of but has not applied yet. */
      readonly lagEntries: number
      /** ms since this node last heard from a primary of its epoch (0 on the primary itself); null if never. */
      readonly sincePrimaryContactMs: number | null
      /**
       * [RD3] How stale this state may be: ms since this replica last had applied everything its primary
       * reported committed (0 on the primary; null if never). Understated by at most that report's delay.
       */
      readonly stalenessMs: number | null
    }
  /** [RD1] This node has not applied `after` yet: wait (the shell retries up to a timeout) or redirect. */
  | {
      readonly status: 'not-yet'
      readonly appliedLsn: number
      /** What must be applied first: `after.lsn`, or a new primary's no-op. */
      readonly waitForLsn: number
      readonly primaryHint: string | null
    }
  /** [RD1] The entry at `after.lsn` is another one: the token's write was rolled back. */
  | { readonly status: 'token-rolled-back'; readonly committedEpoch: number }

export interface ReadOptions {
  /** [RD1] Never return state older than this token. */
  readonly after?: LogPosition
}

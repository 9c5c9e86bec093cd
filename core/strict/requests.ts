import type {
  LogPosition,
  StoredDocument,
  WriteConcern,
  WriteOp,
  WriteRejection,
} from './types.js'

/*
 * What clients (and non-primary servers forwarding for them) ask of a strict cluster, and what they
 * get back. These travel on the wire (core/codec) and through REST, so they are plain data.
 */

/**
 * Where a read may be served (docs/design.md §4, [RD3]). `primary`: the primary's applied (committed)
 * state; `linearizable`: the same after a read barrier commits (no stale answer even from a primary
 * that was just deposed, at the cost of a majority round trip); `nearest`: this node if fresh enough;
 * `replica`: a replica only.
 */
export type ReadPreference = 'primary' | 'linearizable' | 'nearest' | 'replica'
export const READ_PREFERENCES: readonly ReadPreference[] = ['primary', 'linearizable', 'nearest', 'replica']

export interface StrictWriteRequest {
  readonly op: WriteOp
  readonly concern: WriteConcern
  /** After this the outcome is reported `indeterminate` [ST3]; null = the server's default. */
  readonly timeoutMs: number | null
  /**
   * At-most-once: a resend with the same key is answered with the original entry's outcome instead
   * of being written again (as long as the cluster remembers the key). Non-empty; null = none.
   */
  readonly requestKey: string | null
}

/** No primary could be reached before the write was accepted: nothing was written, retrying is safe. */
export interface Unavailable {
  readonly code: 'UNAVAILABLE'
  readonly message: string
}

/** The client's principal may not make this write (docs/security.md, "Permissions"); nothing was written. */
export interface Forbidden {
  readonly code: 'FORBIDDEN'
  readonly message: string
}

export type StrictWriteReply =
  | {
      readonly status: 'acknowledged'
      readonly token: LogPosition
      readonly requested: WriteConcern
      readonly level: WriteConcern
      /** A `one` write acknowledged at `local` because no replica answered within `semiSyncTimeoutMs`. */
      readonly degraded: boolean
      /** true: the request key was already written; `token` is that original entry (nothing new was appended). */
      readonly duplicate?: boolean
    }
  | {
      /** [ST3] The write may or may not survive; never reported as failed. */
      readonly status: 'indeterminate'
      /** null when the write was handed to a primary but its token never came back. */
      readonly token: LogPosition | null
      readonly requested: WriteConcern
      readonly reason: 'timeout' | 'stepped-down' | 'unreachable'
      readonly reached: WriteConcern | null
    }
  | { readonly status: 'rejected'; readonly error: WriteRejection | Unavailable | Forbidden }

export interface StrictReadRequest {
  readonly collection: string
  readonly id: string
  /** [RD1] Never answer with state older than this token. */
  readonly after: LogPosition | null
  readonly read: ReadPreference
  /** [RD3] A replica serves the read only if it is at most this stale; null = no bound. */
  readonly maxStalenessMs: number | null
  /** How long the server may wait for `after` to be applied before answering NOT_YET; null = default. */
  readonly timeoutMs: number | null
}

export type StrictReadErrorCode =
  /** [RD1] The entry at `after.lsn` is another one: the token's write was rolled back. */
  | 'TOKEN_ROLLED_BACK'
  /** [RD1] `after` was not applied within the timeout (and no node that has it could be reached). */
  | 'NOT_YET'
  /** [RD3] No node within `maxStalenessMs` could serve the read. */
  | 'TOO_STALE'
  | 'UNAVAILABLE'
  | 'INVALID_REQUEST'
  /** The client's principal may not read this document (docs/security.md, "Permissions"). */
  | 'FORBIDDEN'

export type StrictReadReply =
  | {
      readonly status: 'ok'
      /** null when the document does not exist at `appliedLsn`. */
      readonly document: StoredDocument | null
      /** The node that served the read. */
      readonly node: string
      /** The state shown is exactly the state after this entry; use it as the next `after`. */
      readonly appliedLsn: number
      readonly appliedEpoch: number
      /** [RD3] How stale the serving node was: 0 on the primary; null when it never heard from one. */
      readonly lagMs: number | null
      readonly lagEntries: number
    }
  | { readonly status: 'rejected'; readonly error: { readonly code: StrictReadErrorCode; readonly message: string } }

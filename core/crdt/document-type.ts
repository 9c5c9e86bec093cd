import type { Change, DocType, Hlc } from '../types.js'
import type { Random } from './random.js'

/**
 * A write that lost to a concurrent one (docs/design.md §3). Kept so apps and the lab can see what
 * last-writer-wins threw away. For Yjs and Automerge documents nothing is thrown away, so they
 * produce none.
 */
export interface ConflictRecord {
  readonly collection: string
  readonly docId: string
  readonly field: string
  readonly winner: { readonly origin: string; readonly hlc: Hlc; readonly value: unknown; readonly deleted: boolean }
  readonly loser: { readonly origin: string; readonly hlc: Hlc; readonly value: unknown; readonly deleted: boolean }
}

/** What applying one change did. */
export interface ApplyResult {
  /** False when the change had no visible effect (it lost everywhere, or was already contained). */
  readonly changed: boolean
  readonly conflicts: readonly ConflictRecord[]
}

/**
 * One replica of one document. Implementations: LWW map, Yjs, Automerge.
 * [CV1] Replicas that applied the same set of changes, in any order, produce equal `view()`s.
 */
export interface DocumentReplica {
  readonly docType: DocType
  /**
   * Apply a change made anywhere (locally or remotely). Re-applying a change leaves `view()` as it was,
   * but delivering each change at most once is the mesh's job [CV3]: an lww replica may report a
   * re-delivered losing write's conflict again.
   */
  apply(change: Change): ApplyResult
  /** The document as plain JSON-compatible data, for apps, REST and comparisons. */
  view(): unknown
  /** Everything applied so far, as bytes another replica of the same document can merge (docs/design.md §6). */
  encodeState(): Uint8Array
  /**
   * Merges a state from `encodeState` of any replica of the same document (same collection, docId, docType).
   * Commutative, associative and idempotent with `apply` and itself: merging the state of replica A into B gives the
   * same view() as applying to B every change A applied. Records no conflicts. Returns whether the view changed.
   * Throws CrdtPayloadError (core/crdt/errors.ts) on bytes it cannot read; the replica is unchanged then.
   */
  mergeState(state: Uint8Array): { changed: boolean }
}

/** What every replica factory takes (registry.ts, and each type's own `…ReplicaFor`). */
export interface CreateReplicaOptions {
  readonly collection: string
  readonly docId: string
  /** The writer this replica edits as (node id or client id). Automerge derives its actor id from it. */
  readonly localOrigin: string
  /** Injected randomness (Yjs client ids, the instance part of Automerge actor ids). */
  readonly random: Random
  /** Overrides the Automerge actor id derived from `localOrigin` and `random` (even-length hex). */
  readonly automergeActorId?: string
}

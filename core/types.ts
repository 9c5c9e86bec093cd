/**
 * The vocabulary shared by every part of core (docs/design.md §1). Plain data only: no behaviour lives here,
 * so codec, crdt, mesh and storage can all depend on it without depending on each other.
 */

/** How a collection replicates (docs/design.md §3, §4). */
export type CollectionMode = 'strict' | 'crdt'

/** The document type of a crdt collection. */
export type DocType = 'lww' | 'yjs' | 'automerge'

export const DOC_TYPES: readonly DocType[] = ['lww', 'yjs', 'automerge']

/**
 * A hybrid logical clock timestamp. Ordered by `wallMs`, then `counter`, then `node`
 * (see `compareHlc` in core/clock), so two distinct writers never produce equal timestamps.
 */
export interface Hlc {
  readonly wallMs: number
  readonly counter: number
  readonly node: string
}

/** `origin -> highest contiguous seq held`. Missing origins count as 0. */
export type VersionVector = ReadonlyMap<string, number>

/**
 * One unit of the crdt log. `(origin, seq)` is its identity: seq numbers are dense per origin,
 * starting at 1. `payload` is opaque to everything but the document type named by `docType`
 * (LWW field writes, a Yjs update, an Automerge change).
 */
export interface Change {
  readonly origin: string
  readonly seq: number
  readonly hlc: Hlc
  readonly collection: string
  readonly docId: string
  readonly docType: DocType
  readonly payload: Uint8Array
  /**
   * Who wrote it, when a region logged a client's change under its own origin (docs/design.md §3,
   * "Authors"): the client's `(origin, seq)`. The hlc is the author's; stamps and deduplication use
   * the author, positions use `(origin, seq)`. Absent for a change its origin wrote.
   */
  readonly author?: ChangeId
}

/** Identity of a change, as used in logs and conflict records. */
export interface ChangeId {
  readonly origin: string
  readonly seq: number
}

/** Where a copy of an author's change is logged: the author's seq and the change's `(origin, seq)`. */
export interface AuthorCopy {
  readonly seq: number
  readonly at: ChangeId
}

/**
 * What the cluster knows of one author (a client whose changes regions log under their own origins):
 * the highest of its seqs held, every seq up to `replicated` durable in every member region, and
 * where the seqs above that are logged (docs/design.md §3, "Authors").
 */
export interface AuthorRecord {
  readonly author: string
  readonly accepted: number
  readonly replicated: number
  readonly copies: readonly AuthorCopy[]
}

/**
 * A client's change a region refused, whose author may not know yet (docs/security.md, "Refused
 * writes"): kept beside the author table, stored by a snapshot round and sent to member peers with a
 * state transfer, so neither compacting the void entry away nor a restart forgets it.
 */
export interface RefusalRecord {
  readonly client: string
  /** The client's seq. */
  readonly seq: number
  readonly collection: string
  readonly docId: string
  /** The void entry. */
  readonly at: ChangeId
}

/**
 * One crdt document as its merged state (docs/design.md §6): what `DocumentReplica.encodeState`
 * returns, sent in a state transfer and kept in storage instead of the changes that built it.
 */
export interface DocumentState {
  readonly collection: string
  readonly docId: string
  readonly docType: DocType
  readonly state: Uint8Array
}

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
}

/** Identity of a change, as used in logs and conflict records. */
export interface ChangeId {
  readonly origin: string
  readonly seq: number
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

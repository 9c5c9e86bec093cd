import type { Change, DocType } from '../types.js'

/** The identity every replica checks a change against before applying it. */
export interface ReplicaIdentity {
  readonly docType: DocType
  readonly collection: string
  readonly docId: string
}

/**
 * Routing a change to the wrong replica is a bug in the caller, not bad input, so it throws at once
 * rather than silently merging two documents.
 */
export function assertChangeFor(replica: ReplicaIdentity, change: Change): void {
  if (change.docType !== replica.docType) {
    throw new Error(`${replica.docType} replica given a ${change.docType} change (${change.origin}:${change.seq})`)
  }
  if (change.collection !== replica.collection || change.docId !== replica.docId) {
    throw new Error(
      `replica of ${replica.collection}/${replica.docId} given a change for ${change.collection}/${change.docId}`,
    )
  }
}

/** Options every replica needs. Programmer errors throw at once (docs/design.md §10). */
export function assertReplicaOptions(kind: string, options: { readonly collection: string; readonly docId: string }): void {
  if (typeof options.collection !== 'string' || options.collection === '') {
    throw new Error(`${kind}: collection must be a non-empty string`)
  }
  if (typeof options.docId !== 'string' || options.docId === '') {
    throw new Error(`${kind}: docId must be a non-empty string`)
  }
}

import type { ReadOptions, ReadResult, StoredDocument, StrictRole } from './types.js'

/** What a node exposes to a read: its applied state only, never entries above its commit. */
export interface ReadView {
  readonly document: StoredDocument | null
  readonly appliedLsn: number
  readonly appliedEpoch: number
  readonly commitLsn: number
  readonly role: StrictRole
  readonly epoch: number
  readonly primaryHint: string | null
  readonly sincePrimaryContactMs: number | null
  readonly stalenessMs: number | null
  /** The node may answer only once this LSN is applied (a new primary's no-op); 0: no condition. */
  readonly readyLsn: number
  readonly epochAt: (lsn: number) => number | undefined
}

/**
 * [RD1] Answers a read from applied state. With `after`, the state must include that entry: if this
 * node has not applied it yet the answer is `not-yet` (the shell waits or redirects); if the entry at
 * that LSN is another one, the token's write was rolled back.
 */
export function readDocument(view: ReadView, options: ReadOptions): ReadResult {
  const after = options.after
  const waitFor = Math.max(view.readyLsn, after?.lsn ?? 0)
  if (view.appliedLsn < waitFor) return { status: 'not-yet', appliedLsn: view.appliedLsn, waitForLsn: waitFor, primaryHint: view.primaryHint }
  if (after && after.lsn > 0) {
    const epoch = view.epochAt(after.lsn) ?? 0
    if (epoch !== after.epoch) return { status: 'token-rolled-back', committedEpoch: epoch }
  }
  return {
    status: 'ok',
    document: view.document,
    appliedLsn: view.appliedLsn,
    appliedEpoch: view.appliedEpoch,
    role: view.role,
    epoch: view.epoch,
    lagEntries: Math.max(0, view.commitLsn - view.appliedLsn),
    sincePrimaryContactMs: view.sincePrimaryContactMs,
    stalenessMs: view.stalenessMs,
  }
}

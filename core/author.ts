import type { Change, ChangeId } from './types.js'

/**
 * Who wrote `change`: its author when a region logged a client's change under its own origin, else
 * its origin (docs/design.md §3, "Authors"). Stamps, deduplication and [HLC1] follow the author.
 */
export function authorOf(change: Change): ChangeId {
  return change.author ?? change
}

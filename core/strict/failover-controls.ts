/**
 * [FO3] Failover controls (docs/strict-mode.md, "Failover controls"): which members may become primary
 * and how eagerly. They only delay or forbid standing for election; the vote rule [FO1] and the epoch
 * fencing [ST2] still decide who wins, so no control lets a less up-to-date node become primary.
 */

export const DEFAULT_FAILOVER_PRIORITY = 1

export interface FailoverControls {
  /** Priority per member (missing: 1). 0: never primary. The same on every member. */
  readonly priorities?: Readonly<Record<string, number>>
  /** Members that never become primary (the same as priority 0). The same on every member. */
  readonly noFailover?: readonly string[]
  /**
   * A node whose durable log is more than this many entries behind the highest commit index it has
   * heard of does not stand for election (undefined: no limit).
   */
  readonly maxLagOnFailover?: number
}

/** The priority of `member`: 0 when it never becomes primary. */
export function failoverPriority(controls: FailoverControls, member: string): number {
  if (controls.noFailover?.includes(member)) return 0
  const p = controls.priorities?.[member]
  return p === undefined ? DEFAULT_FAILOVER_PRIORITY : p
}

/**
 * How many distinct positive priorities among `members` are above `member`'s: 0 for the most preferred.
 * Each rank waits one more election-timeout spread before standing, so among equally up-to-date
 * replicas a preferred one normally stands first and wins; a less preferred one still stands when the
 * preferred ones are gone (a delay, never a veto).
 */
export function priorityRank(controls: FailoverControls, members: readonly string[], member: string): number {
  const own = failoverPriority(controls, member)
  const above = new Set<number>()
  for (const m of members) {
    const p = failoverPriority(controls, m)
    if (p > own) above.add(p)
  }
  return above.size
}

/** [FO3] Whether a node may stand for election now, and why not. */
export function standingProblem(
  controls: FailoverControls,
  member: string,
  durableLsn: number,
  heardCommitLsn: number,
): 'no-failover' | 'lagging' | null {
  if (failoverPriority(controls, member) === 0) return 'no-failover'
  const maxLag = controls.maxLagOnFailover
  if (maxLag !== undefined && heardCommitLsn - durableLsn > maxLag) return 'lagging'
  return null
}

/** Checks the controls; throws on a programmer error (the server config validates user input first). */
export function checkFailoverControls(controls: FailoverControls, members: readonly string[]): void {
  for (const [member, p] of Object.entries(controls.priorities ?? {})) {
    if (!members.includes(member)) throw new Error(`StrictNode: priorities names ${member}, not a member`)
    if (!Number.isInteger(p) || p < 0) throw new Error(`StrictNode: priority of ${member} must be an integer >= 0`)
  }
  for (const member of controls.noFailover ?? []) if (!members.includes(member)) throw new Error(`StrictNode: noFailover names ${member}, not a member`)
  const maxLag = controls.maxLagOnFailover
  if (maxLag !== undefined && (!Number.isInteger(maxLag) || maxLag < 0)) throw new Error('StrictNode: maxLagOnFailover must be an integer >= 0')
}

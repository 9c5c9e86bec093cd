/**
 * Cascading replicas (docs/strict-mode.md, "Cascading replicas"): `replicateFrom` names, per member,
 * the member it streams the log from instead of the primary. It changes only who ships entries to whom
 * and which way acknowledgements travel; votes, the vote rule [FO1], epochs [ST2] and the commit rule
 * [ST1] are those of every other member.
 */

/** Member → the member it streams from. The same on every member. */
export type ReplicateFrom = Readonly<Record<string, string>>

/** Checks the map; throws on a programmer error (the server config validates user input first). */
export function checkReplicateFrom(replicateFrom: ReplicateFrom, members: readonly string[]): void {
  for (const [member, upstream] of Object.entries(replicateFrom)) {
    if (!members.includes(member)) throw new Error(`StrictNode: replicateFrom names ${member}, not a member`)
    if (!members.includes(upstream)) throw new Error(`StrictNode: replicateFrom.${member} names ${upstream}, not a member`)
    if (upstream === member) throw new Error(`StrictNode: replicateFrom.${member} names the member itself`)
  }
  const cycle = replicateFromCycle(replicateFrom)
  if (cycle !== null) throw new Error(`StrictNode: replicateFrom has a cycle: ${cycle.join(' → ')}`)
}

/** The first cycle in the map (its members in stream order, the first repeated at the end), or null. */
export function replicateFromCycle(replicateFrom: ReplicateFrom): string[] | null {
  for (const start of Object.keys(replicateFrom)) {
    const path = [start]
    let at = replicateFrom[start]
    while (at !== undefined) {
      const seen = path.indexOf(at)
      if (seen >= 0) return [...path.slice(seen), at]
      path.push(at)
      at = Object.hasOwn(replicateFrom, at) ? replicateFrom[at] : undefined
    }
  }
  return null
}

/** The members that stream from `member` (sorted). */
export function downstreamOf(replicateFrom: ReplicateFrom, member: string): string[] {
  return Object.keys(replicateFrom)
    .filter((m) => replicateFrom[m] === member)
    .sort()
}

/** The member `member` streams from, or null when the primary feeds it (none configured). */
export function upstreamOf(replicateFrom: ReplicateFrom, member: string): string | null {
  return Object.hasOwn(replicateFrom, member) ? (replicateFrom[member] as string) : null
}

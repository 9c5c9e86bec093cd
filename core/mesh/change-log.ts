import type { SeqRange } from '../clock/version-vector.js'
import type { Change, VersionVector } from '../types.js'

/**
 * The changes a replica holds, indexed by origin and seq. Holds only contiguous prefixes per origin
 * (seq 1..n, no holes): out-of-order arrivals wait in the mesh's gap buffer until they fit.
 * Memory-resident; the shell mirrors it to a StorageAdapter for durability.
 */
export class ChangeLog {
  private readonly byOrigin = new Map<string, Change[]>()
  private readonly heads = new Map<string, number>()
  private count = 0

  /** The version vector of what is held. Live view: do not mutate. */
  get vector(): VersionVector {
    return this.heads
  }

  head(origin: string): number {
    return this.heads.get(origin) ?? 0
  }

  /** How many changes are held; grows by one with every append. */
  get size(): number {
    return this.count
  }

  /** Appends a change that directly follows its origin's head; anything else is a caller bug. */
  append(change: Change): void {
    const head = this.head(change.origin)
    if (change.seq !== head + 1) {
      throw new Error(`ChangeLog: ${change.origin}:${change.seq} does not follow head ${head}`)
    }
    let changes = this.byOrigin.get(change.origin)
    if (!changes) {
      changes = []
      this.byOrigin.set(change.origin, changes)
    }
    changes.push(change)
    this.heads.set(change.origin, change.seq)
    this.count += 1
  }

  get(origin: string, seq: number): Change | undefined {
    return this.byOrigin.get(origin)?.[seq - 1]
  }

  /** Changes of one origin with `from <= seq <= to`, clipped to what is held. */
  range(range: SeqRange): Change[] {
    const changes = this.byOrigin.get(range.origin)
    if (!changes) return []
    return changes.slice(Math.max(range.from, 1) - 1, Math.min(range.to, changes.length))
  }

  /** Every held change, origin by origin, in seq order. */
  *all(): IterableIterator<Change> {
    for (const origin of [...this.byOrigin.keys()].sort()) yield* this.byOrigin.get(origin) ?? []
  }
}

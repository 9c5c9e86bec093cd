import type { SeqRange } from '../clock/version-vector.js'
import type { Change, VersionVector } from '../types.js'

/** One origin's retained changes: `changes[i]` has seq `base + 1 + i`. */
interface OriginTail {
  /** Every seq up to here is covered by document state only (pruned, or learnt by state transfer). */
  base: number
  changes: Change[]
}

/**
 * The tail of changes a replica still holds, per origin (docs/design.md §6, [SG3]). What a replica
 * *has* is its version vector (`vector`): per origin, every seq up to the head is in its document
 * state. What it still *holds as changes* is the tail above each origin's `base`: compaction moves
 * the base up once every member holds a change, and a state transfer moves it past changes that were
 * never seen one by one. A peer behind a base cannot be sent changes; it gets document states.
 *
 * Holes are impossible: out-of-order arrivals wait in the mesh's gap buffer until they fit.
 * Memory-resident; the shell mirrors it to a StorageAdapter for durability.
 */
export class ChangeLog {
  private readonly origins = new Map<string, OriginTail>()
  private readonly heads = new Map<string, number>()
  private count = 0

  /** The version vector of what is held, in changes or in state. Live view: do not mutate. */
  get vector(): VersionVector {
    return this.heads
  }

  head(origin: string): number {
    return this.heads.get(origin) ?? 0
  }

  /** The seq below the first change still held for `origin` (0 when everything from 1 is held). */
  base(origin: string): number {
    return this.origins.get(origin)?.base ?? 0
  }

  /** How many changes are held as changes (the tail), whatever the vector says. */
  get size(): number {
    return this.count
  }

  /** Appends a change that directly follows its origin's head; anything else is a caller bug. */
  append(change: Change): void {
    const head = this.head(change.origin)
    if (change.seq !== head + 1) {
      throw new Error(`ChangeLog: ${change.origin}:${change.seq} does not follow head ${head}`)
    }
    this.tailOf(change.origin).changes.push(change)
    this.heads.set(change.origin, change.seq)
    this.count += 1
  }

  /** The held change `(origin, seq)`, undefined when not held (above the head, or at or below the base). */
  get(origin: string, seq: number): Change | undefined {
    const tail = this.origins.get(origin)
    return tail === undefined || seq <= tail.base ? undefined : tail.changes[seq - tail.base - 1]
  }

  /** Puts `change` in place of the held change with its origin and seq (a refused change made void); false when not held. */
  replace(change: Change): boolean {
    const tail = this.origins.get(change.origin)
    const index = tail === undefined ? -1 : change.seq - tail.base - 1
    if (tail === undefined || index < 0 || index >= tail.changes.length) return false
    tail.changes[index] = change
    return true
  }

  /** Held changes of one origin with `from <= seq <= to`, clipped to the tail. */
  range(range: SeqRange): Change[] {
    const tail = this.origins.get(range.origin)
    if (!tail) return []
    const from = Math.max(range.from, tail.base + 1) - tail.base - 1
    const to = Math.min(range.to, tail.base + tail.changes.length) - tail.base
    return from < to ? tail.changes.slice(from, to) : []
  }

  /**
   * Drops held changes with `seq <= upTo[origin]` (never past the head): their effect stays in the
   * documents. Returns how many were dropped.
   */
  prune(upTo: VersionVector): number {
    let dropped = 0
    for (const [origin, seq] of upTo) {
      const tail = this.origins.get(origin)
      if (!tail) continue
      const n = Math.min(seq, this.head(origin)) - tail.base
      if (n <= 0) continue
      tail.changes.splice(0, n)
      tail.base += n
      dropped += n
    }
    this.count -= dropped
    return dropped
  }

  /**
   * The documents now cover `origin` up to `seq` (a state transfer, or state restored from storage):
   * the head moves there and every held change at or below it is dropped. No-op when already there.
   */
  coverUpTo(origin: string, seq: number): void {
    if (seq <= this.head(origin)) return
    const tail = this.tailOf(origin)
    this.count -= tail.changes.length
    tail.changes = []
    tail.base = seq
    this.heads.set(origin, seq)
  }

  /** Every held change, origin by origin, in seq order. */
  *all(): IterableIterator<Change> {
    for (const origin of [...this.origins.keys()].sort()) yield* this.origins.get(origin)?.changes ?? []
  }

  private tailOf(origin: string): OriginTail {
    let tail = this.origins.get(origin)
    if (!tail) {
      tail = { base: 0, changes: [] }
      this.origins.set(origin, tail)
    }
    return tail
  }
}

import type { ChangeId } from '../types.js'

/**
 * The set of change ids `(origin, seq)` one replica has applied, kept per origin as sorted runs of
 * consecutive seqs, so a writer that makes many changes in a row to one document costs one run.
 * Lets a replica recognise a re-delivered change whatever came in between [CV3].
 */
export class AppliedChanges {
  /** origin -> flat sorted list of inclusive runs: [start0, end0, start1, end1, ...] */
  private readonly runs = new Map<string, number[]>()

  has(id: ChangeId): boolean {
    const runs = this.runs.get(id.origin)
    if (runs === undefined) return false
    const i = this.runIndex(runs, id.seq)
    return i >= 0 && id.seq <= (runs[i + 1] as number)
  }

  /** Adds the id; returns false when it was already there. */
  add(id: ChangeId): boolean {
    const { origin, seq } = id
    let runs = this.runs.get(origin)
    if (runs === undefined) {
      runs = []
      this.runs.set(origin, runs)
    }
    const i = this.runIndex(runs, seq)
    if (i >= 0 && seq <= (runs[i + 1] as number)) return false
    const joinsLeft = i >= 0 && runs[i + 1] === seq - 1
    const next = i + 2
    const joinsRight = next < runs.length && runs[next] === seq + 1
    if (joinsLeft && joinsRight) runs.splice(i + 1, 2) // [a, seq-1] + seq + [seq+1, b] -> [a, b]
    else if (joinsLeft) runs[i + 1] = seq
    else if (joinsRight) runs[next] = seq
    else runs.splice(next, 0, seq, seq)
    return true
  }

  /** Number of runs held, for tests and memory accounting. */
  get runCount(): number {
    let count = 0
    for (const runs of this.runs.values()) count += runs.length / 2
    return count
  }

  /** Index (even) of the last run starting at or before `seq`, or -2 when there is none. */
  private runIndex(runs: readonly number[], seq: number): number {
    let lo = 0
    let hi = runs.length / 2 - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if ((runs[mid * 2] as number) <= seq) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found * 2
  }
}

import { encodeChange } from '../../core/codec/index.js'
import type { MeshNode } from '../../core/mesh/index.js'
import type { Lag } from './types.js'

/**
 * Running byte totals of one origin's changes: `sums[i]` is the encoded bytes of seqs 1..base+1+i.
 * Only the log's tail is kept; what was compacted away is folded into `baseBytes`.
 */
interface OriginBytes {
  base: number
  baseBytes: number
  sums: number[]
}

/** Lag figures for status: what a peer has not acknowledged durable, and encoded bytes per origin. */
export class LagAccounting {
  private readonly byOrigin = new Map<string, OriginBytes>()

  constructor(
    private readonly mesh: MeshNode,
    private readonly wallClock: () => number,
  ) {}

  /**
   * What this node holds that `peer` has not acknowledged durable: count, encoded bytes, and the age
   * of the oldest by HLC wall time. O(origins), not O(lag) [PF3]. Bytes of changes the log no longer
   * holds (compacted, or learnt by state transfer) are not known and not counted.
   */
  lagOf(peer: string): Lag {
    const acked = this.mesh.durableOf(peer)
    let entries = 0
    let bytes = 0
    let oldestWallMs = Infinity
    for (const [origin, head] of this.mesh.vector) {
      const have = acked?.get(origin) ?? 0
      if (have >= head) continue
      entries += head - have
      bytes += this.bytesThrough(origin, head) - this.bytesThrough(origin, have)
      const first = this.mesh.changeAt(origin, Math.max(have, this.mesh.logBase(origin)) + 1)
      if (first !== undefined && first.hlc.wallMs < oldestWallMs) oldestWallMs = first.hlc.wallMs
    }
    const ms = entries === 0 || oldestWallMs === Infinity ? null : Math.max(0, this.wallClock() - oldestWallMs)
    return { entries, bytes, ms }
  }

  /**
   * Encoded bytes of `origin`'s changes 1..seq, as far as they passed through this node's log: changes
   * below the log's base count as what they were when dropped (an estimate for resync budgets and lag).
   */
  bytesThrough(origin: string, seq: number): number {
    if (seq <= 0) return 0
    let totals = this.byOrigin.get(origin)
    if (totals === undefined) {
      totals = { base: 0, baseBytes: 0, sums: [] }
      this.byOrigin.set(origin, totals)
    }
    const logBase = this.mesh.logBase(origin)
    if (logBase > totals.base + totals.sums.length) {
      // The log skipped ahead (a state transfer, or compaction of changes never summed here).
      totals.baseBytes = totals.sums[totals.sums.length - 1] ?? totals.baseBytes
      totals.base = logBase
      totals.sums = []
    }
    while (totals.base + totals.sums.length < seq) {
      const change = this.mesh.changeAt(origin, totals.base + totals.sums.length + 1)
      if (change === undefined) break
      totals.sums.push((totals.sums[totals.sums.length - 1] ?? totals.baseBytes) + encodeChange(change).length)
    }
    if (seq <= totals.base) return totals.baseBytes
    return totals.sums[Math.min(seq - totals.base, totals.sums.length) - 1] ?? totals.baseBytes
  }

  /** Forgets the running totals below the log's base (call after compaction), keeping memory to the tail. */
  compacted(): void {
    for (const [origin, totals] of this.byOrigin) {
      const drop = Math.min(this.mesh.logBase(origin) - totals.base, totals.sums.length)
      if (drop <= 0) continue
      totals.baseBytes = totals.sums[drop - 1] as number
      totals.sums.splice(0, drop)
      totals.base += drop
    }
  }
}

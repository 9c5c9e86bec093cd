import { encodeChange } from '../../core/codec/index.js'
import type { MeshNode } from '../../core/mesh/index.js'
import type { Lag } from './types.js'

/** Lag figures for status: what a peer has not acknowledged durable, and encoded bytes per origin. */
export class LagAccounting {
  /** Cumulative encoded bytes per origin (index seq - 1), filled lazily for lag in bytes. */
  private readonly cumulativeBytes = new Map<string, number[]>()

  constructor(
    private readonly mesh: MeshNode,
    private readonly wallClock: () => number,
  ) {}

  /**
   * What this node holds that `peer` has not acknowledged durable: count, encoded bytes, and the age
   * of the oldest by HLC wall time. O(origins), not O(lag) [PF3].
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
      const first = this.mesh.changeAt(origin, have + 1)
      if (first !== undefined && first.hlc.wallMs < oldestWallMs) oldestWallMs = first.hlc.wallMs
    }
    const ms = entries === 0 || oldestWallMs === Infinity ? null : Math.max(0, this.wallClock() - oldestWallMs)
    return { entries, bytes, ms }
  }

  /** Encoded bytes of `origin`'s changes 1..seq. */
  bytesThrough(origin: string, seq: number): number {
    if (seq <= 0) return 0
    let sums = this.cumulativeBytes.get(origin)
    if (sums === undefined) {
      sums = []
      this.cumulativeBytes.set(origin, sums)
    }
    while (sums.length < seq) {
      const change = this.mesh.changeAt(origin, sums.length + 1)
      if (change === undefined) break
      sums.push((sums[sums.length - 1] ?? 0) + encodeChange(change).length)
    }
    return sums[Math.min(seq, sums.length) - 1] ?? 0
  }
}

import type { Hlc } from '../types.js'

/** Reads the wall clock in milliseconds. Injected so that core stays deterministic (docs/design.md §2). */
export type WallClock = () => number

export interface HlcClockOptions {
  /** The writer's id; the last tie-breaker of the ordering. */
  readonly node: string
  readonly wallClock: WallClock
  /**
   * [HLC3] A remote timestamp further than this in the future of our wall clock, and beyond what our
   * clock already reached, is clamped to the later of those two before it advances our clock, and
   * counted. Default 60 000 ms.
   */
  readonly maxClockSkewMs?: number
  /** Where to continue from after a restart, e.g. the highest timestamp in the durable log. */
  readonly initial?: Hlc
}

export const DEFAULT_MAX_CLOCK_SKEW_MS = 60_000

/** Total order on timestamps: wall time, then counter, then node id. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1
  if (a.node === b.node) return 0
  return a.node < b.node ? -1 : 1
}

export const ZERO_HLC: Hlc = Object.freeze({ wallMs: 0, counter: 0, node: '' })

export function maxHlc(a: Hlc, b: Hlc): Hlc {
  return compareHlc(a, b) >= 0 ? a : b
}

/** `1700000000000:3:eu-1`, for logs and tests. */
export function formatHlc(h: Hlc): string {
  return `${h.wallMs}:${h.counter}:${h.node}`
}

/**
 * A hybrid logical clock (Kulkarni et al.). Timestamps it issues strictly increase even when the
 * wall clock goes backwards [HLC1]; after `receive(ts)` every later timestamp is above `ts` [HLC2]
 * unless `ts` was beyond the skew bound, in which case it is clamped and counted [HLC3].
 */
export class HlcClock {
  readonly node: string
  readonly maxClockSkewMs: number
  private readonly wallClock: WallClock
  private wallMs: number
  private counter: number
  private clampedCount = 0

  constructor(options: HlcClockOptions) {
    if (!options.node) throw new Error('HlcClock: node id must be a non-empty string')
    const skew = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS
    if (!(skew >= 0)) throw new Error(`HlcClock: maxClockSkewMs must be >= 0, got ${skew}`)
    this.node = options.node
    this.wallClock = options.wallClock
    this.maxClockSkewMs = skew
    this.wallMs = options.initial?.wallMs ?? 0
    this.counter = options.initial?.counter ?? 0
  }

  /** How many remote timestamps were clamped because they were too far in the future [HLC3]. */
  get clampedRemoteCount(): number {
    return this.clampedCount
  }

  /** The last timestamp issued or observed, without advancing. */
  peek(): Hlc {
    return { wallMs: this.wallMs, counter: this.counter, node: this.node }
  }

  /**
   * A fresh timestamp for a local event (a write). Throws a RangeError, issuing nothing, in the one
   * state with no later timestamp to give (wall time and counter both at the largest safe integer,
   * reachable only by restoring such a timestamp).
   */
  now(): Hlc {
    const wall = this.wallClock()
    if (wall > this.wallMs) {
      this.wallMs = wall
      this.counter = 0
    } else if (!this.increment()) {
      throw new RangeError(`HlcClock: no timestamp left after ${formatHlc(this.peek())}`)
    }
    return this.peek()
  }

  /**
   * The next timestamp after the current one: counter + 1, or, at the end of the safe integers (the
   * codec writes nothing else), the next wall millisecond with counter 0, which still orders after it.
   * A remote counter is any safe integer the network sends, so this is reachable. False when no
   * timestamp is left; nothing changes then.
   */
  private increment(): boolean {
    if (this.counter < Number.MAX_SAFE_INTEGER) {
      this.counter += 1
      return true
    }
    if (this.wallMs >= Number.MAX_SAFE_INTEGER) return false
    this.wallMs += 1
    this.counter = 0
    return true
  }

  /**
   * Move past a timestamp this clock issued in an earlier life (read back from the durable log after
   * a restart). Own history is trusted: no skew bound applies, else a wall clock that stepped back
   * across the restart would make us reissue older timestamps [HLC1].
   */
  restore(own: Hlc): void {
    if (own.wallMs > this.wallMs || (own.wallMs === this.wallMs && own.counter > this.counter)) {
      this.wallMs = own.wallMs
      this.counter = own.counter
    }
  }

  /**
   * Observe a timestamp from another writer, so that anything we issue afterwards orders after it.
   * Returns false when the timestamp was beyond the skew bound and had to be clamped.
   */
  receive(remote: Hlc): boolean {
    const wall = this.wallClock()
    // A timestamp our own clock has already reached cannot drag it forward, so it is never "too far
    // ahead" — even after our wall clock stepped back. Bounding by the wall clock alone would clamp
    // replies to our own writes and order our next write before them, breaking [HLC2].
    const limit = Math.max(wall + this.maxClockSkewMs, this.wallMs)
    let remoteWall = remote.wallMs
    let remoteCounter = remote.counter
    const clamped = remoteWall > limit
    if (clamped) {
      this.clampedCount += 1
      remoteWall = limit
      remoteCounter = 0
    }
    const nextWall = Math.max(this.wallMs, remoteWall, wall)
    if (nextWall === this.wallMs && nextWall === remoteWall) {
      this.counter = Math.max(this.counter, remoteCounter)
      this.increment()
    } else if (nextWall === this.wallMs) {
      this.increment()
    } else if (nextWall === remoteWall) {
      this.wallMs = nextWall
      this.counter = remoteCounter
      this.increment()
    } else {
      this.wallMs = nextWall
      this.counter = 0
    }
    // No timestamp left (increment false) only at the largest wall time: the next now() says so.
    return !clamped
  }
}

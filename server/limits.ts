import type { ServerConfig } from './config.js'

/**
 * Per-client limits (docs/security.md, "Limits"): a token bucket for writes per connection, a count
 * of open client sockets per IP address, and the frame limit of client sockets.
 */

/**
 * The largest frame a client socket (`/sync`, `/yjs`, `/automerge`) may send: `limits.maxClientFrameBytes`,
 * never above `maxFrameBytes` (which peers keep); 0 means `maxFrameBytes`.
 */
export function clientFrameBytes(config: Pick<ServerConfig, 'limits' | 'maxFrameBytes'>): number {
  const limit = config.limits.maxClientFrameBytes
  return limit === 0 ? config.maxFrameBytes : Math.min(limit, config.maxFrameBytes)
}

/**
 * Allows `ratePerSecond` on average with bursts of `2 × ratePerSecond` — but never less than
 * `minBurst`, so that the largest frame an honest client sends (a full batch) always fits and a low
 * rate slows it rather than refusing it forever. `take(n, nowMs)` is false once the bucket is empty.
 * A rate of 0 allows everything.
 */
export class TokenBucket {
  private tokens: number
  private lastMs: number | null = null
  private readonly capacity: number

  constructor(
    private readonly ratePerSecond: number,
    minBurst = 0,
  ) {
    this.capacity = Math.max(2 * ratePerSecond, minBurst)
    this.tokens = this.capacity
  }

  take(count: number, nowMs: number): boolean {
    if (this.ratePerSecond === 0) return true
    const capacity = this.capacity
    if (this.lastMs !== null) this.tokens = Math.min(capacity, this.tokens + ((nowMs - this.lastMs) / 1000) * this.ratePerSecond)
    this.lastMs = nowMs
    if (this.tokens < count) return false
    this.tokens -= count
    return true
  }

  /** After a refused `take(count)`: how long until it would succeed (ms, at least 1). */
  retryAfterMs(count: number): number {
    if (this.ratePerSecond === 0) return 0
    return Math.max(1, Math.ceil(((Math.min(count, this.capacity) - this.tokens) / this.ratePerSecond) * 1000))
  }

  /** When the bucket last took (null: never); a bucket idle for `capacity / rate` seconds is full again. */
  get lastTakeMs(): number | null {
    return this.lastMs
  }

  /** How long an idle bucket takes to fill up again: forgetting it after that changes nothing. */
  get refillMs(): number {
    return this.ratePerSecond === 0 ? 0 : (this.capacity / this.ratePerSecond) * 1000
  }
}

/** Open client sockets per remote address; `max` 0 allows any number. */
export class ConnectionsPerIp {
  private readonly open = new Map<string, number>()

  constructor(private readonly max: number) {}

  /** Counts a new socket from `ip`, or returns false (and counts nothing) when it already has `max`. */
  admit(ip: string): boolean {
    const count = this.open.get(ip) ?? 0
    if (this.max > 0 && count >= this.max) return false
    this.open.set(ip, count + 1)
    return true
  }

  /** A socket counted by `admit` closed. */
  release(ip: string): void {
    const count = (this.open.get(ip) ?? 0) - 1
    if (count <= 0) this.open.delete(ip)
    else this.open.set(ip, count)
  }

  /** How many addresses have sockets open (for /status). */
  get addresses(): number {
    return this.open.size
  }
}

import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, Hono } from 'hono'
import { jsonResponse } from './json-response.js'
import { TokenBucket } from './limits.js'
import type { ServerMetrics } from './metrics.js'

/** Methods that only read: never charged. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Addresses whose buckets are kept at most. Past it the least recently used is forgotten even when not
 * yet full: that address gets a fresh burst, a bounded gift, while the map stays bounded whatever
 * number of addresses a flood comes from.
 */
export const MAX_TRACKED_ADDRESSES = 100_000

/**
 * One token bucket per client IP address (docs/security.md, "Limits"), in least-recently-used order.
 * A bucket idle long enough to be full again is forgotten, since a fresh one is the same; so memory
 * follows the addresses seen within the last couple of seconds, capped at `maxAddresses`.
 */
export class BucketsPerAddress {
  private readonly buckets = new Map<string, TokenBucket>()

  constructor(
    private readonly ratePerSecond: number,
    private readonly maxAddresses = MAX_TRACKED_ADDRESSES,
  ) {}

  /** Takes one write for `address` at `nowMs`: 0 when allowed, else the ms to wait before retrying. */
  take(address: string, nowMs: number): number {
    if (this.ratePerSecond === 0) return 0
    this.evict(nowMs)
    let bucket = this.buckets.get(address)
    if (bucket === undefined) bucket = new TokenBucket(this.ratePerSecond)
    else this.buckets.delete(address)
    this.buckets.set(address, bucket)
    return bucket.take(1, nowMs) ? 0 : bucket.retryAfterMs(1)
  }

  /** Addresses with a bucket (for tests and /status). */
  get size(): number {
    return this.buckets.size
  }

  /** Drops, oldest first, the buckets that are full again, and any beyond `maxAddresses`. */
  private evict(nowMs: number): void {
    for (const [address, bucket] of this.buckets) {
      const idle = bucket.lastTakeMs === null || nowMs - bucket.lastTakeMs >= bucket.refillMs
      if (!idle && this.buckets.size < this.maxAddresses) break
      this.buckets.delete(address)
    }
  }
}

/**
 * `limits.maxRestWritesPerSecondPerIp`: every `/v1` request that is not a read is charged to its
 * client's IP address, before authentication (a flood of bad credentials is limited too). Past the
 * rate: HTTP 429 with `Retry-After` (whole seconds) and `{ error: { code: TOO_MANY_REQUESTS, message } }`,
 * counted in `meridian_limit_refusals_total{limit="restWritesPerSecond"}`.
 */
export function registerRestRateLimit(app: Hono, ratePerSecond: number, metrics: ServerMetrics, now: () => number = Date.now): void {
  if (ratePerSecond === 0) return
  const buckets = new BucketsPerAddress(ratePerSecond)
  app.use('/v1/*', async (c, next) => {
    if (READS.has(c.req.method)) return next()
    const waitMs = buckets.take(remoteAddress(c), now())
    if (waitMs === 0) return next()
    metrics.limitRefusals.inc({ limit: 'restWritesPerSecond' })
    const message = `more than ${ratePerSecond} writes per second from this address (limits.maxRestWritesPerSecondPerIp); retry after ${waitMs} ms`
    return jsonResponse(c, { error: { code: 'TOO_MANY_REQUESTS', message } }, 429, { 'retry-after': String(Math.ceil(waitMs / 1000)) })
  })
}

function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? '?'
  } catch {
    // Not served by the node adapter (tests calling app.fetch): one shared address.
    return '?'
  }
}

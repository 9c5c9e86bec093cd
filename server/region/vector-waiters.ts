import { vvDominates } from '../../core/clock/version-vector.js'
import type { VersionVector } from '../../core/types.js'

/**
 * Reads waiting for their `after` token (docs/server.md, "Tokens and lag"): one timer for all of them,
 * running only while some wait, instead of a timer per request. At most `maxWaiting` wait at once; a
 * read beyond that is answered at once (as not held), so parked requests cannot grow without bound.
 */
export class VectorWaiters {
  private readonly waiting = new Set<{ readonly after: VersionVector; readonly deadline: number; readonly resolve: (held: boolean) => void }>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly vector: () => VersionVector,
    private readonly now: () => number,
    private readonly maxWaiting = 10_000,
    private readonly intervalMs = 5,
  ) {}

  /** Resolves true once `vector()` holds `after`, false at `timeoutMs` (or at once past `maxWaiting`). */
  wait(after: VersionVector, timeoutMs: number): Promise<boolean> {
    if (vvDominates(this.vector(), after)) return Promise.resolve(true)
    if (this.waiting.size >= this.maxWaiting || timeoutMs <= 0) return Promise.resolve(false)
    return new Promise((resolve) => {
      this.waiting.add({ after, deadline: this.now() + timeoutMs, resolve })
      if (this.timer === null) this.timer = setInterval(() => this.check(), this.intervalMs)
    })
  }

  /** Answers every waiting read (as not held): the node is closing. */
  close(): void {
    for (const waiter of this.waiting) waiter.resolve(false)
    this.waiting.clear()
    this.stop()
  }

  private check(): void {
    const vector = this.vector()
    const now = this.now()
    for (const waiter of this.waiting) {
      const held = vvDominates(vector, waiter.after)
      if (!held && now < waiter.deadline) continue
      this.waiting.delete(waiter)
      waiter.resolve(held)
    }
    if (this.waiting.size === 0) this.stop()
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }
}

import { timerDelayMs } from './timed-waiters.js'

/**
 * Flow control for writes a replica forwards to the primary: at most `limit` bytes of them in flight per
 * peer link (one larger write alone is always let through), later ones wait in order. Without it, a burst
 * of large writes to a replica fills its link's send buffer and the transport closes the link, and every
 * write on it ends `indeterminate`.
 */
export class ForwardWindow {
  private readonly used = new Map<string, number>()
  private readonly waiting = new Map<string, { size: number; grant: (ok: boolean) => void }[]>()

  constructor(private readonly limit: number) {}

  /** Resolves true once `size` bytes may go to `peer`, or false after `timeoutMs` (nothing was sent). */
  acquire(peer: string, size: number, timeoutMs: number): Promise<boolean> {
    const queue = this.waiting.get(peer) ?? []
    if (queue.length === 0 && this.fits(peer, size)) {
      this.used.set(peer, (this.used.get(peer) ?? 0) + size)
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const waiter = {
        size,
        grant: (ok: boolean) => {
          clearTimeout(timer)
          resolve(ok)
        },
      }
      const timer = setTimeout(() => {
        const list = this.waiting.get(peer) ?? []
        list.splice(list.indexOf(waiter), 1)
        waiter.grant(false)
        this.admit(peer)
      }, timerDelayMs(timeoutMs))
      timer.unref()
      queue.push(waiter)
      this.waiting.set(peer, queue)
    })
  }

  release(peer: string, size: number): void {
    this.used.set(peer, Math.max(0, (this.used.get(peer) ?? 0) - size))
    this.admit(peer)
  }

  private fits(peer: string, size: number): boolean {
    const used = this.used.get(peer) ?? 0
    return used === 0 || used + size <= this.limit
  }

  private admit(peer: string): void {
    const queue = this.waiting.get(peer)
    while (queue !== undefined && queue.length > 0 && this.fits(peer, (queue[0] as { size: number }).size)) {
      const next = queue.shift() as { size: number; grant: (ok: boolean) => void }
      this.used.set(peer, (this.used.get(peer) ?? 0) + next.size)
      next.grant(true)
    }
    if (queue !== undefined && queue.length === 0) this.waiting.delete(peer)
  }
}

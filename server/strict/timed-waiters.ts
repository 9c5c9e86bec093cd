/**
 * Promises that resolve when woken or after their timeout, whichever comes first (a read waiting for
 * an LSN to be applied, a request waiting for an election). A timed-out waiter is forgotten at once.
 */
export class TimedWaiters<K> {
  private readonly waiting = new Map<() => void, K>()

  /** Resolves when `wake` passes `key`, or after `timeoutMs`; the caller looks again to see which. */
  wait(key: K, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiting.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, timeoutMs))
      this.waiting.set(done, key)
    })
  }

  /** Wakes the waiters whose key passes `when` (every one when omitted). */
  wake(when: (key: K) => boolean = () => true): void {
    if (this.waiting.size === 0) return
    for (const [done, key] of [...this.waiting]) if (when(key)) done()
  }
}

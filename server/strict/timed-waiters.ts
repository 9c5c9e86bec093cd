/** The longest delay a Node timer holds (~24.8 days); beyond it Node warns and fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * `ms` as a timer delay. Request timeouts come from the network as any finite number (a client's
 * `timeoutMs: 1e300`): unclamped, each wait would print a TimeoutOverflowWarning and end after 1 ms,
 * and a read waiting for an LSN would poll every millisecond for as long as its deadline allows.
 */
export function timerDelayMs(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms))
}

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
      const timer = setTimeout(done, timerDelayMs(timeoutMs))
      this.waiting.set(done, key)
    })
  }

  /** Wakes the waiters whose key passes `when` (every one when omitted). */
  wake(when: (key: K) => boolean = () => true): void {
    if (this.waiting.size === 0) return
    for (const [done, key] of [...this.waiting]) if (when(key)) done()
  }
}

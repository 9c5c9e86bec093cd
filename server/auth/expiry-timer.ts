/** setTimeout's longest delay (about 24.8 days); a later deadline is reached in several waits. */
const MAX_DELAY_MS = 2 ** 31 - 1

/**
 * Calls `onExpired` once when the wall clock reaches `atMs` (a token's `exp`), however far away that
 * is; at once when it has passed already. `cancel` stops it.
 */
export class ExpiryTimer {
  private handle: NodeJS.Timeout | null = null

  constructor(
    private readonly atMs: number,
    private readonly onExpired: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.arm()
  }

  cancel(): void {
    if (this.handle !== null) clearTimeout(this.handle)
    this.handle = null
  }

  private arm(): void {
    const left = this.atMs - this.now()
    if (left <= 0) {
      this.handle = null
      this.onExpired()
      return
    }
    this.handle = setTimeout(() => this.arm(), Math.min(left, MAX_DELAY_MS))
    this.handle.unref()
  }
}

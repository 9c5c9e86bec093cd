/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry): exponential from
 * `minDelayMs`, capped at `maxDelayMs`, with "equal jitter" — between half and all of that — so
 * clients dropped together by a failing region do not all come back in the same millisecond, yet
 * never retry at once.
 *
 * @example
 * ```ts
 * backoffDelayMs(3, { minDelayMs: 100, maxDelayMs: 5000 }, Math.random) // 400..800
 * ```
 */
export function backoffDelayMs(
  attempt: number,
  bounds: { readonly minDelayMs: number; readonly maxDelayMs: number },
  random: () => number,
): number {
  const exponent = Math.min(Math.max(attempt, 0), 30)
  const ceiling = Math.min(bounds.maxDelayMs, bounds.minDelayMs * 2 ** exponent)
  return ceiling / 2 + (ceiling / 2) * random()
}

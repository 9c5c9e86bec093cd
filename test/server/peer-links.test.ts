import { describe, expect, it } from 'vitest'
import { backoffDelayMs } from '../../server/peer-links.js'

describe('reconnect backoff', () => {
  it('grows exponentially from minDelayMs, jittered within [d/2, d], capped at maxDelayMs', () => {
    const low = () => 0
    const high = () => 0.999_999
    expect(backoffDelayMs(0, 100, 5000, high)).toBe(100)
    expect(backoffDelayMs(0, 100, 5000, low)).toBe(100)
    expect(backoffDelayMs(3, 100, 5000, low)).toBe(400)
    expect(backoffDelayMs(3, 100, 5000, high)).toBe(800)
    expect(backoffDelayMs(10, 100, 5000, high)).toBe(5000)
    expect(backoffDelayMs(1000, 100, 5000, low)).toBe(2500)
  })
})

import { describe, expect, it } from 'vitest'
import { ForwardWindow } from '../../server/strict/forward-window.js'

describe('ForwardWindow (flow control of forwarded strict writes)', () => {
  it('lets writes through up to the limit per peer, one larger write alone, and the rest in order as room frees', async () => {
    const window = new ForwardWindow(100)
    const order: number[] = []
    expect(await window.acquire('p', 60, 1_000)).toBe(true)
    expect(await window.acquire('q', 500, 1_000)).toBe(true) // another peer; alone, however large
    const second = window.acquire('p', 60, 1_000).then((ok) => order.push(ok ? 2 : -2))
    const third = window.acquire('p', 10, 1_000).then((ok) => order.push(ok ? 3 : -3))
    await Promise.resolve()
    expect(order).toEqual([]) // the small one waits behind the first in line
    window.release('p', 60)
    await Promise.all([second, third])
    expect(order).toEqual([2, 3])
  })

  it('a write that gets no room before its timeout is refused without being sent, and does not block the next', async () => {
    const window = new ForwardWindow(100)
    expect(await window.acquire('p', 90, 1_000)).toBe(true)
    expect(await window.acquire('p', 50, 20)).toBe(false)
    const later = window.acquire('p', 50, 1_000)
    window.release('p', 90)
    expect(await later).toBe(true)
  })
})

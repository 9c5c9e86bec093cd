/** Clients on the fake network for the client tests: a tracked factory (closed after each test) and waits. */
import { afterEach, expect, vi } from 'vitest'
import { createClient, type ClientOptions, type MeridianClient } from '../../client/client.js'
import { ALL_MODULES } from '../../client/node.js'
import { seededRandom, type FakeNetwork } from './fake-server.js'

/**
 * Returns `client(net, urls, extra)`: a client on the fake network with fast reconnects and seeded
 * randomness (seeds count up from `firstSeed`), closed after each test of the calling file.
 */
export function fakeClients(firstSeed: number): (net: FakeNetwork, urls: string[], extra?: Partial<ClientOptions>) => MeridianClient {
  const open: MeridianClient[] = []
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close()))
  })
  let seed = firstSeed
  return (net, urls, extra = {}) => {
    const c = createClient({
      urls,
      WebSocket: net.WebSocket,
      random: seededRandom(seed++),
      now: () => net.wallMs,
      minDelayMs: 2,
      maxDelayMs: 10,
      handshakeTimeoutMs: 200,
      use: ALL_MODULES,
      ...extra,
    })
    open.push(c)
    return c
  }
}

export async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  await vi.waitFor(() => expect(condition()).toBe(true), { timeout: timeoutMs, interval: 2 })
}

/** Lets every queued frame and microtask run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
}

/** Whether a promise has settled, after letting pending microtasks run (but no timers or frames). */
export async function state(promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let result: 'pending' | 'resolved' | 'rejected' = 'pending'
  promise.then(
    () => (result = 'resolved'),
    () => (result = 'rejected'),
  )
  for (let i = 0; i < 10; i++) await Promise.resolve()
  return result
}

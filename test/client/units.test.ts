import { state } from './fake-client.js'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelayMs } from '../../client/backoff.js'
import { syncUrl } from '../../client/connection.js'
import { ClientClosedError, ConnectionError, isFatalConnectionCode } from '../../client/errors.js'
import { randomClientId } from '../../client/random.js'
import { WriteHandleTracker } from '../../client/write-handle.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')


describe('backoffDelayMs', () => {
  it('grows exponentially from minDelayMs, is capped at maxDelayMs, and keeps at least half the step', () => {
    const bounds = { minDelayMs: 100, maxDelayMs: 5_000 }
    expect(backoffDelayMs(0, bounds, () => 0)).toBe(50)
    expect(backoffDelayMs(0, bounds, () => 0.999999)).toBeCloseTo(100, 3)
    expect(backoffDelayMs(3, bounds, () => 0)).toBe(400)
    expect(backoffDelayMs(50, bounds, () => 0.5)).toBe(3_750)
    fc.assert(
      fc.property(fc.nat(1000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const delay = backoffDelayMs(attempt, bounds, () => r)
        return delay >= bounds.minDelayMs / 2 && delay <= bounds.maxDelayMs
      }),
    )
  })
})

describe('syncUrl', () => {
  it('adds /sync to a bare ws:// URL and keeps an explicit path', () => {
    expect(syncUrl('ws://127.0.0.1:4101')).toBe('ws://127.0.0.1:4101/sync')
    expect(syncUrl('wss://eu.example.com/')).toBe('wss://eu.example.com/sync')
    expect(syncUrl('ws://h:1/custom/sync')).toBe('ws://h:1/custom/sync')
    expect(() => syncUrl('http://h:1')).toThrow(/ws:\/\//)
    expect(() => syncUrl('not a url')).toThrow(/not a URL/)
  })
})

describe('client errors', () => {
  it('have stable codes; only UNAUTHORIZED, FORBIDDEN and VERSION_MISMATCH are fatal', () => {
    expect(new ClientClosedError().code).toBe('CLIENT_CLOSED')
    const error = new ConnectionError({ code: 'UNAUTHORIZED', url: 'ws://h/sync', closeCode: 4001 })
    expect(error).toMatchObject({ name: 'ConnectionError', code: 'UNAUTHORIZED', fatal: true, closeCode: 4001 })
    for (const code of ['UNAUTHORIZED', 'FORBIDDEN', 'VERSION_MISMATCH'] as const) expect(isFatalConnectionCode(code)).toBe(true)
    for (const code of ['OVERLOADED', 'RESYNC_LIMIT', 'SHUTTING_DOWN', 'BAD_FRAME', 'TOO_LARGE', 'NETWORK', 'HANDSHAKE_TIMEOUT'] as const) {
      expect(isFatalConnectionCode(code)).toBe(false)
    }
  })

  it('random client ids are c- and 12 base36 characters', () => {
    let i = 0
    const values = [0, 0.5, 0.999, 0.25]
    expect(randomClientId(() => values[i++ % values.length] ?? 0)).toMatch(/^c-[0-9a-z]{12}$/)
  })
})

describe('WriteHandleTracker', () => {
  it('settles durable and replicated in seq order as acknowledgements arrive', async () => {
    const tracker = new WriteHandleTracker('c-1')
    const [h1, h2, h3] = [tracker.track(1), tracker.track(2), tracker.track(3)]
    tracker.durableAt(2)
    expect([await state(h1!.durable), await state(h2!.durable), await state(h3!.durable)]).toEqual([
      'resolved',
      'resolved',
      'pending',
    ])
    // Present in every region implies durable somewhere.
    tracker.replicatedAt(3)
    expect(await state(h3!.durable)).toBe('resolved')
    expect(await state(h3!.replicated)).toBe('resolved')
    // A write already covered resolves at once.
    tracker.durableAt(5)
    expect(await state(tracker.track(4).durable)).toBe('resolved')
  })

  it('close rejects what is pending and refuses new handles', async () => {
    const tracker = new WriteHandleTracker('c-1')
    const h1 = tracker.track(1)
    const h2 = tracker.track(2)
    tracker.durableAt(1)
    tracker.close()
    expect(await state(h1.durable)).toBe('resolved')
    await expect(h1.replicated).rejects.toBeInstanceOf(ClientClosedError)
    await expect(h2.durable).rejects.toBeInstanceOf(ClientClosedError)
    expect(() => tracker.track(3)).toThrow(ClientClosedError)
  })
})

describe('browser safety', () => {
  it('client/ imports no Node built-ins and no ws, except client/node.ts', () => {
    const files = readdirSync(join(root, 'client')).filter((f) => f.endsWith('.ts') && f !== 'node.ts')
    expect(files).toContain('index.ts')
    for (const file of files) {
      const source = readFileSync(join(root, 'client', file), 'utf8')
      const imports = [...source.matchAll(/from\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '')
      for (const spec of imports) {
        expect(spec, `${file} imports ${spec}`).not.toMatch(/^node:|^ws$|^(fs|path|net|http|https|os|crypto|events|stream|url|zlib)$/)
        if (spec.startsWith('.')) expect(spec, `${file} imports ${spec}`).not.toMatch(/server\/|\/node\.js$/)
      }
    }
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ResyncBudget, resentBytes } from '../../../core/mesh/resync-budget.js'
import type { Change, VersionVector } from '../../../core/types.js'

/** Every change of origin `o` is `size(o)` bytes: cumulative bytes are linear in seq. */
const size = (origin: string): number => 10 + origin.length
const bytesThrough = (origin: string, seq: number): number => seq * size(origin)

function changes(origin: string, from: number, to: number): Change[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => ({
    origin,
    seq: from + i,
    hlc: { wallMs: 1, counter: 0, node: origin },
    collection: 'c',
    docId: 'd',
    docType: 'lww' as const,
    payload: new Uint8Array(0),
  }))
}

function clock(start = 0) {
  const c = { ms: start, now: () => c.ms }
  return c
}

const vv = (entries: Record<string, number>): VersionVector => new Map(Object.entries(entries))

describe('resentBytes', () => {
  it('counts, per origin, what lies between the announcement and what the link held, within our head', () => {
    const held = vv({ a: 10, b: 5, c: 7 })
    const head = vv({ a: 8, b: 5, c: 7 })
    // a: 3..8 (capped at head 8) = 6 changes; b: announced above held; c: nothing announced = 1..7.
    expect(resentBytes(vv({ a: 2, b: 9 }), held, head, bytesThrough)).toBe(6 * size('a') + 7 * size('c'))
    expect(resentBytes(held, held, head, bytesThrough)).toBe(0)
    expect(resentBytes(vv({}), vv({}), head, bytesThrough)).toBe(0)
  })
})

describe('ResyncBudget [IN3] [PF4]', () => {
  it('the first catch-up of a link is free; announcing empty again is charged the whole log and refused beyond the budget', () => {
    const time = clock()
    const head = vv({ w: 1000 }) // 1000 changes of 11 bytes: an 11 000-byte log
    const budget = new ResyncBudget({ budgetBytes: 15_000, windowMs: 60_000, now: time.now })
    expect(budget.announce(new Map(), head, bytesThrough)).toEqual({ allowed: true, resentBytes: 0 })
    budget.observeChanges(changes('w', 1, 1000), head) // the node sent it all
    expect(budget.announce(new Map(), head, bytesThrough)).toEqual({ allowed: true, resentBytes: 11_000 })
    expect(budget.availableBytes).toBe(4_000)
    expect(budget.announce(new Map(), head, bytesThrough)).toEqual({ allowed: false, resentBytes: 11_000, availableBytes: 4_000 })
    // Refused announcements change nothing; the budget refills with time.
    time.ms = 30_000
    expect(budget.availableBytes).toBe(11_500)
    expect(budget.announce(new Map(), head, bytesThrough).allowed).toBe(true)
    time.ms = 10_000_000
    expect(budget.availableBytes).toBe(15_000)
  })

  it('charges what the link sent us too: a writer that announces empty would be sent its own log back', () => {
    const budget = new ResyncBudget({ budgetBytes: 1_000, windowMs: 1_000, now: clock().now })
    const head = vv({ me: 200 })
    budget.observeChanges(changes('me', 1, 200), head)
    expect(budget.announce(new Map(), head, bytesThrough)).toMatchObject({ allowed: false, resentBytes: 200 * size('me') })
  })

  it('an announcement that goes back only over what was in flight costs only that', () => {
    const budget = new ResyncBudget({ budgetBytes: 1_000, windowMs: 1_000, now: clock().now })
    const head = vv({ w: 100 })
    budget.announce(vv({ w: 40 }), head, bytesThrough)
    budget.observeChanges(changes('w', 41, 100), head)
    // The other side had taken in up to 90 when it re-announced: 91..100 were in flight.
    expect(budget.announce(vv({ w: 90 }), head, bytesThrough)).toEqual({ allowed: true, resentBytes: 10 * size('w') })
  })

  it('records only origins the node holds, up to what it holds, so a link cannot grow it', () => {
    const budget = new ResyncBudget({ budgetBytes: 1_000, windowMs: 1_000, now: clock().now })
    const head = vv({ a: 3 })
    budget.announce(vv({ a: 50, fake1: 9, fake2: 9 }), head, bytesThrough)
    budget.observeChanges(changes('fake3', 1, 5), head)
    expect(budget.heldVector).toEqual(vv({ a: 3 }))
  })

  it('a clock that goes backwards refills nothing', () => {
    const time = clock(1_000)
    const head = vv({ w: 50 })
    const budget = new ResyncBudget({ budgetBytes: 1_000, windowMs: 1_000, now: time.now })
    budget.observeChanges(changes('w', 1, 50), head)
    budget.announce(new Map(), head, bytesThrough) // 550 bytes
    time.ms = 0
    expect(budget.availableBytes).toBe(450)
    time.ms = 100
    expect(budget.availableBytes).toBe(550)
  })

  it('rejects a budget or window that is not positive', () => {
    expect(() => new ResyncBudget({ budgetBytes: 0, windowMs: 1, now: () => 0 })).toThrow(/budgetBytes/)
    expect(() => new ResyncBudget({ budgetBytes: 1, windowMs: 0, now: () => 0 })).toThrow(/windowMs/)
  })

  const origins = fc.constantFrom('a', 'b', 'cc')
  const step = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), origin: origins, count: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ kind: fc.constant('send' as const), origin: origins, count: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ kind: fc.constant('receive' as const), origin: origins, count: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ kind: fc.constant('announce' as const), vector: fc.dictionary(origins, fc.integer({ min: 0, max: 400 })) }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
  )

  it('property: whatever a link announces, what it makes the node resend is at most budget × (1 + elapsed / window)', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), fc.integer({ min: 100, max: 5_000 }), fc.integer({ min: 1, max: 10_000 }), (steps, budgetBytes, windowMs) => {
        const time = clock()
        const head = new Map<string, number>()
        const sent = new Map<string, number>()
        const budget = new ResyncBudget({ budgetBytes, windowMs, now: time.now })
        let resent = 0
        for (const s of steps) {
          if (s.kind === 'wait') time.ms += s.ms
          else if (s.kind === 'write' || s.kind === 'receive') {
            const from = (head.get(s.origin) ?? 0) + 1
            head.set(s.origin, from + s.count - 1)
            if (s.kind === 'receive') budget.observeChanges(changes(s.origin, from, from + s.count - 1), head)
          } else if (s.kind === 'send') {
            const from = (sent.get(s.origin) ?? 0) + 1
            const to = Math.min(head.get(s.origin) ?? 0, from + s.count - 1)
            if (to >= from) budget.observeChanges(changes(s.origin, from, to), head)
            sent.set(s.origin, Math.max(sent.get(s.origin) ?? 0, to))
          } else {
            const verdict = budget.announce(new Map(Object.entries(s.vector).filter(([, seq]) => seq > 0)), head, bytesThrough)
            if (verdict.allowed) resent += verdict.resentBytes
            else expect(verdict.resentBytes).toBeGreaterThan(verdict.availableBytes)
          }
        }
        expect(resent).toBeLessThanOrEqual(budgetBytes * (1 + time.ms / windowMs) + 1e-6)
      }),
    )
  })

  it('property: an honest link — announcing at least what it held — is never charged nor refused', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
        const head = new Map<string, number>()
        const sent = new Map<string, number>()
        const holds = new Map<string, number>() // what the honest other side really holds
        const budget = new ResyncBudget({ budgetBytes: 1, windowMs: 1, now: () => 0 })
        for (const s of steps) {
          if (s.kind === 'write' || s.kind === 'receive') {
            const from = (head.get(s.origin) ?? 0) + 1
            head.set(s.origin, from + s.count - 1)
            if (s.kind === 'receive') {
              // The other side wrote these: it holds them before it sends them.
              holds.set(s.origin, Math.max(holds.get(s.origin) ?? 0, from + s.count - 1))
              budget.observeChanges(changes(s.origin, from, from + s.count - 1), head)
            }
          } else if (s.kind === 'send') {
            const from = (sent.get(s.origin) ?? 0) + 1
            const to = Math.min(head.get(s.origin) ?? 0, from + s.count - 1)
            if (to >= from) budget.observeChanges(changes(s.origin, from, to), head)
            sent.set(s.origin, Math.max(sent.get(s.origin) ?? 0, to))
            // Nothing in flight: it arrived before the next announcement.
            holds.set(s.origin, Math.max(holds.get(s.origin) ?? 0, to))
          } else if (s.kind === 'announce') {
            expect(budget.announce(new Map(holds), head, bytesThrough)).toEqual({ allowed: true, resentBytes: 0 })
          }
        }
      }),
    )
  })
})

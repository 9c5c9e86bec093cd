import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compareHlc,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  formatHlc,
  HlcClock,
  maxHlc,
  ZERO_HLC,
} from '../../../core/clock/index.js'
import type { Hlc } from '../../../core/types.js'

/** A wall clock the test moves by hand. */
function manualWall(start = 0) {
  let wallMs = start
  return {
    read: () => wallMs,
    set(value: number) {
      wallMs = value
    },
  }
}

const BASE_MS = 1_700_000_000_000

/** Wall readings that mostly creep forward but also jump far back and far ahead. */
const wallStep = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: -200_000, max: 200_000 }) },
)

const node = fc.constantFrom('a', 'b', 'c', 'eu-1', 'us-1')

type ClockOp =
  | { readonly kind: 'now'; readonly step: number }
  | {
      readonly kind: 'receive'
      readonly step: number
      readonly remoteOffsetMs: number
      readonly remoteCounter: number
      readonly remoteNode: string
    }

const clockOp: fc.Arbitrary<ClockOp> = fc.oneof(
  fc.record({ kind: fc.constant('now' as const), step: wallStep }),
  fc.record({
    kind: fc.constant('receive' as const),
    step: wallStep,
    // Remote timestamps around our wall clock, some well beyond any skew bound used below.
    remoteOffsetMs: fc.oneof(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -300_000, max: 300_000 })),
    remoteCounter: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 1_000_000 })),
    remoteNode: node,
  }),
)

const skewMs = fc.constantFrom(0, 10, 1_000, DEFAULT_MAX_CLOCK_SKEW_MS)

const hlc: fc.Arbitrary<Hlc> = fc.record({
  wallMs: fc.integer({ min: 0, max: 3 }),
  counter: fc.integer({ min: 0, max: 3 }),
  node: fc.constantFrom('', 'a', 'b', 'ab'),
})

describe('HlcClock', () => {
  it('[HLC1] timestamps strictly increase across now()/receive() while the wall clock jumps both ways', () => {
    fc.assert(
      fc.property(fc.array(clockOp, { maxLength: 200 }), skewMs, (ops, maxClockSkewMs) => {
        const wall = manualWall(BASE_MS)
        const clock = new HlcClock({ node: 'me', wallClock: wall.read, maxClockSkewMs })
        let lastIssued: Hlc | undefined
        let lastState = clock.peek()
        for (const op of ops) {
          wall.set(wall.read() + op.step)
          if (op.kind === 'now') {
            const ts = clock.now()
            expect(ts.node).toBe('me')
            if (lastIssued) expect(compareHlc(ts, lastIssued)).toBe(1)
            lastIssued = ts
          } else {
            clock.receive({
              wallMs: wall.read() + op.remoteOffsetMs,
              counter: op.remoteCounter,
              node: op.remoteNode,
            })
          }
          // The clock's state never goes backwards either, so no later timestamp can repeat one.
          const state = clock.peek()
          expect(compareHlc(state, lastState)).toBe(1)
          lastState = state
        }
      }),
    )
  })

  it('[HLC1] a clock restarted from its last timestamp continues above it even if the wall clock went back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.nat(50), (backMs, counter) => {
        const initial: Hlc = { wallMs: BASE_MS, counter, node: 'me' }
        const clock = new HlcClock({ node: 'me', wallClock: () => BASE_MS - backMs, initial })
        expect(compareHlc(clock.now(), initial)).toBe(1)
      }),
    )
  })

  it('[HLC2] after receive(ts) within the skew bound, the next now() is greater than ts', () => {
    fc.assert(
      fc.property(fc.array(clockOp, { maxLength: 100 }), skewMs, (ops, maxClockSkewMs) => {
        const wall = manualWall(BASE_MS)
        const clock = new HlcClock({ node: 'me', wallClock: wall.read, maxClockSkewMs })
        for (const op of ops) {
          wall.set(wall.read() + op.step)
          if (op.kind === 'now') {
            clock.now()
            continue
          }
          const remote: Hlc = {
            wallMs: wall.read() + op.remoteOffsetMs,
            counter: op.remoteCounter,
            node: op.remoteNode,
          }
          const reachedMs = clock.peek().wallMs
          const accepted = clock.receive(remote)
          expect(accepted).toBe(remote.wallMs <= Math.max(wall.read() + maxClockSkewMs, reachedMs))
          if (accepted) expect(compareHlc(clock.now(), remote)).toBe(1)
        }
      }),
    )
  })

  /**
   * Three nodes exchanging messages. `seen[i]` is the greatest timestamp in node i's causal past;
   * every timestamp node i issues must be above it. A causal edge counts only when the receiver
   * accepted the timestamp: [HLC2] exempts clamped ones [HLC3].
   */
  function runCausalNodes(
    events: readonly CausalEvent[],
    wallOf: (node: number, trueTimeMs: number, event: number) => number,
  ): HlcClock[] {
    let trueTimeMs = BASE_MS
    let eventNo = 0
    const clocks = ['a', 'b', 'c'].map(
      (name, i) => new HlcClock({ node: name, wallClock: () => wallOf(i, trueTimeMs, eventNo) }),
    )
    const seen: (Hlc | undefined)[] = [undefined, undefined, undefined]
    const issue = (i: number): Hlc => {
      const ts = (clocks[i] as HlcClock).now()
      const past = seen[i]
      if (past) expect(compareHlc(ts, past), `${formatHlc(ts)} after ${formatHlc(past)}`).toBe(1)
      seen[i] = ts
      return ts
    }
    for (const e of events) {
      trueTimeMs += e.step
      eventNo += 1
      if (e.kind === 'local') {
        issue(e.at)
        continue
      }
      const ts = issue(e.from)
      if (e.to === e.from) continue
      if ((clocks[e.to] as HlcClock).receive(ts)) {
        const past = seen[e.to]
        seen[e.to] = past ? maxHlc(past, ts) : ts
      }
    }
    return clocks
  }

  type CausalEvent =
    | { readonly kind: 'local'; readonly at: number; readonly step: number }
    | { readonly kind: 'send'; readonly from: number; readonly to: number; readonly step: number }

  const causalEvent = (step: fc.Arbitrary<number>): fc.Arbitrary<CausalEvent> =>
    fc.oneof(
      fc.record({ kind: fc.constant('local' as const), at: fc.nat(2), step }),
      fc.record({ kind: fc.constant('send' as const), from: fc.nat(2), to: fc.nat(2), step }),
    )

  it('[HLC2] happened-before implies a smaller timestamp; node clocks within the skew bound are never clamped', () => {
    fc.assert(
      fc.property(
        // Each node's error wanders within ±30 s, so its own wall clock jumps back and forth by up
        // to 60 s = the default bound, while true time only moves forward.
        fc.array(fc.integer({ min: -30_000, max: 30_000 }), { minLength: 3, maxLength: 3 * 151 }),
        fc.array(causalEvent(fc.nat(50)), { maxLength: 150 }),
        (errorsMs, events) => {
          const clocks = runCausalNodes(
            events,
            (node, trueMs, n) => trueMs + (errorsMs[(n * 3 + node) % errorsMs.length] ?? 0),
          )
          for (const clock of clocks) expect(clock.clampedRemoteCount).toBe(0)
        },
      ),
    )
  })

  it('[HLC2] happened-before implies a smaller timestamp even when wall clocks step back past the bound', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -30_000, max: 30_000 }), { minLength: 3, maxLength: 3 }),
        fc.array(causalEvent(wallStep), { maxLength: 150 }),
        (offsetsMs, events) => {
          runCausalNodes(events, (node, trueMs) => trueMs + (offsetsMs[node] ?? 0))
        },
      ),
    )
  })

  it('[HLC2] a reply to our own write is not clamped after our wall clock stepped back (regression)', () => {
    // Found by the property above: the bound used to be the wall clock alone, so after a step back
    // of more than maxClockSkewMs the reply was clamped and our next write ordered before it.
    const wallA = manualWall(BASE_MS)
    const a = new HlcClock({ node: 'a', wallClock: wallA.read })
    const c = new HlcClock({ node: 'c', wallClock: () => BASE_MS })
    const write = a.now()
    c.receive(write)
    const reply = c.now()
    wallA.set(BASE_MS - 60_001)
    expect(a.receive(reply)).toBe(true)
    expect(a.clampedRemoteCount).toBe(0)
    expect(compareHlc(a.now(), reply)).toBe(1)
  })

  it('[HLC3] a remote timestamp beyond maxClockSkewMs is clamped, counted, and cannot move the clock past wall + skew', () => {
    fc.assert(
      fc.property(fc.array(clockOp, { maxLength: 150 }), skewMs, (ops, maxClockSkewMs) => {
        const wall = manualWall(BASE_MS)
        const clock = new HlcClock({ node: 'me', wallClock: wall.read, maxClockSkewMs })
        let expectedClamped = 0
        for (const op of ops) {
          wall.set(wall.read() + op.step)
          const before = clock.peek()
          if (op.kind === 'now') {
            clock.now()
          } else {
            const remoteWallMs = wall.read() + op.remoteOffsetMs
            // Beyond the bound: ahead of our wall clock by more than the skew, and of our own clock.
            const beyond = remoteWallMs > Math.max(wall.read() + maxClockSkewMs, before.wallMs)
            const accepted = clock.receive({ wallMs: remoteWallMs, counter: op.remoteCounter, node: op.remoteNode })
            expect(accepted).toBe(!beyond)
            if (beyond) expectedClamped += 1
          }
          expect(clock.clampedRemoteCount).toBe(expectedClamped)
          // Whatever arrives, the clock never moves past our own wall clock plus the bound.
          expect(clock.peek().wallMs).toBeLessThanOrEqual(Math.max(before.wallMs, wall.read() + maxClockSkewMs))
        }
      }),
    )
  })

  it('[HLC3] a far-future timestamp cannot drag the clock along', () => {
    const wall = manualWall(BASE_MS)
    const clock = new HlcClock({ node: 'me', wallClock: wall.read, maxClockSkewMs: 1_000 })
    expect(clock.receive({ wallMs: BASE_MS + 1_000, counter: 7, node: 'ok' })).toBe(true)
    expect(clock.clampedRemoteCount).toBe(0)
    expect(clock.peek()).toEqual({ wallMs: BASE_MS + 1_000, counter: 8, node: 'me' })

    expect(clock.receive({ wallMs: BASE_MS + 10 * 365 * 86_400_000, counter: 0, node: 'evil' })).toBe(false)
    expect(clock.clampedRemoteCount).toBe(1)
    expect(clock.peek().wallMs).toBe(BASE_MS + 1_000)
    const ts = clock.now()
    expect(ts.wallMs).toBe(BASE_MS + 1_000)
    expect(compareHlc(ts, { wallMs: BASE_MS + 1_000, counter: 8, node: 'me' })).toBe(1)
  })

  it('[HLC3] the default bound is 60 s', () => {
    const clock = new HlcClock({ node: 'me', wallClock: () => BASE_MS })
    expect(clock.maxClockSkewMs).toBe(60_000)
    expect(clock.receive({ wallMs: BASE_MS + 60_000, counter: 0, node: 'x' })).toBe(true)
    expect(clock.receive({ wallMs: BASE_MS + 60_001, counter: 0, node: 'x' })).toBe(false)
    expect(clock.clampedRemoteCount).toBe(1)
  })

  it('[§10] bad options throw at once with a clear message', () => {
    expect(() => new HlcClock({ node: '', wallClock: () => 0 })).toThrow(/node id/)
    expect(() => new HlcClock({ node: 'a', wallClock: () => 0, maxClockSkewMs: -1 })).toThrow(/maxClockSkewMs/)
    expect(() => new HlcClock({ node: 'a', wallClock: () => 0, maxClockSkewMs: Number.NaN })).toThrow(
      /maxClockSkewMs/,
    )
  })

  it('[HLC1] two writers never issue equal timestamps, even at the same wall time', () => {
    const a = new HlcClock({ node: 'a', wallClock: () => BASE_MS })
    const b = new HlcClock({ node: 'b', wallClock: () => BASE_MS })
    const ta = a.now()
    const tb = b.now()
    expect(ta.wallMs === tb.wallMs && ta.counter === tb.counter).toBe(true)
    expect(compareHlc(ta, tb)).toBe(-1)
  })

  it('[HLC1] [HLC2] a remote counter at the end of the safe integers carries into the wall time, never past it', () => {
    // A client's change may carry any counter the codec reads (a safe integer). Adopting 2^53 - 1
    // and adding one made the next local timestamp unencodable: the REST write failed after its
    // change was logged, and the process crashed when the change was next sent.
    const wall = manualWall(BASE_MS)
    const clock = new HlcClock({ node: 'a', wallClock: wall.read })
    const remote: Hlc = { wallMs: BASE_MS + 5_000, counter: Number.MAX_SAFE_INTEGER, node: 'hostile' }
    expect(clock.receive(remote)).toBe(true)
    expect(Number.isSafeInteger(clock.peek().counter)).toBe(true)
    const next = clock.now()
    expect(compareHlc(next, remote)).toBe(1)
    expect(next).toEqual({ wallMs: BASE_MS + 5_001, counter: 1, node: 'a' })
    fc.assert(
      fc.property(fc.integer({ min: Number.MAX_SAFE_INTEGER - 3, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 4 }), (counter, nows) => {
        const c = new HlcClock({ node: 'b', wallClock: () => BASE_MS })
        const theirs: Hlc = { wallMs: BASE_MS, counter, node: 'x' }
        c.receive(theirs)
        let last: Hlc = theirs
        for (let i = 0; i < nows; i++) {
          const t = c.now()
          expect(Number.isSafeInteger(t.wallMs) && Number.isSafeInteger(t.counter)).toBe(true)
          expect(compareHlc(t, last)).toBe(1)
          last = t
        }
      }),
    )
  })

  it('[HLC1] a clock with no timestamp left refuses to issue one rather than repeat or leave the safe integers', () => {
    const clock = new HlcClock({ node: 'a', wallClock: () => BASE_MS })
    clock.restore({ wallMs: Number.MAX_SAFE_INTEGER, counter: Number.MAX_SAFE_INTEGER - 1, node: 'a' })
    expect(clock.now()).toEqual({ wallMs: Number.MAX_SAFE_INTEGER, counter: Number.MAX_SAFE_INTEGER, node: 'a' })
    expect(() => clock.now()).toThrow(RangeError)
    // Observing more time changes nothing and does not throw (it runs inside the replication loop).
    expect(clock.receive({ wallMs: Number.MAX_SAFE_INTEGER, counter: Number.MAX_SAFE_INTEGER, node: 'x' })).toBe(true)
    expect(clock.peek()).toEqual({ wallMs: Number.MAX_SAFE_INTEGER, counter: Number.MAX_SAFE_INTEGER, node: 'a' })
  })
})

describe('compareHlc', () => {
  it('[HLC1] is a total order: reflexive, antisymmetric, transitive; 0 only for equal timestamps', () => {
    fc.assert(
      fc.property(hlc, hlc, hlc, (a, b, c) => {
        expect(compareHlc(a, a)).toBe(0)
        expect(compareHlc(a, b)).toBe(-compareHlc(b, a) || 0)
        expect([-1, 0, 1]).toContain(compareHlc(a, b))
        const same = a.wallMs === b.wallMs && a.counter === b.counter && a.node === b.node
        expect(compareHlc(a, b) === 0).toBe(same)
        if (compareHlc(a, b) <= 0 && compareHlc(b, c) <= 0) expect(compareHlc(a, c)).toBeLessThanOrEqual(0)
        if (compareHlc(a, b) < 0 && compareHlc(b, c) <= 0) expect(compareHlc(a, c)).toBe(-1)
      }),
    )
  })

  it('[HLC1] orders by wall time, then counter, then node', () => {
    expect(compareHlc({ wallMs: 1, counter: 9, node: 'z' }, { wallMs: 2, counter: 0, node: 'a' })).toBe(-1)
    expect(compareHlc({ wallMs: 2, counter: 1, node: 'z' }, { wallMs: 2, counter: 2, node: 'a' })).toBe(-1)
    expect(compareHlc({ wallMs: 2, counter: 2, node: 'a' }, { wallMs: 2, counter: 2, node: 'b' })).toBe(-1)
  })

  it('maxHlc picks the greater and sorting is consistent with it', () => {
    fc.assert(
      fc.property(fc.array(hlc, { minLength: 1, maxLength: 20 }), (list) => {
        const sorted = [...list].sort(compareHlc)
        const max = list.reduce(maxHlc)
        expect(compareHlc(max, sorted[sorted.length - 1] as Hlc)).toBe(0)
        for (const h of list) expect(compareHlc(maxHlc(h, ZERO_HLC), h)).toBe(0)
      }),
    )
  })

  it('formatHlc prints wall:counter:node', () => {
    expect(formatHlc({ wallMs: 1_700_000_000_000, counter: 3, node: 'eu-1' })).toBe('1700000000000:3:eu-1')
  })
  it('[HLC1] restore() moves past own history even beyond the skew bound, and never backwards', () => {
    let wall = 1_000_000
    const clock = new HlcClock({ node: 'a', wallClock: () => wall, maxClockSkewMs: 1_000 })
    clock.restore({ wallMs: wall + 10 * 60_000, counter: 4, node: 'a' })
    expect(clock.clampedRemoteCount).toBe(0)
    const next = clock.now()
    expect(next).toEqual({ wallMs: wall + 10 * 60_000, counter: 5, node: 'a' })
    clock.restore({ wallMs: 5, counter: 0, node: 'a' })
    wall -= 1
    expect(compareHlc(clock.now(), next)).toBe(1)
  })
})

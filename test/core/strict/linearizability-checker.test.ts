/**
 * The register linearizability checker (test/helpers/linearizability.ts) used on histories recorded in
 * `majority` mode (issue 4, item 7): it accepts what is linearizable, rejects what is not — with an
 * explanation — and gives up with `unknown` rather than hang.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  checkRegisterHistory,
  type LinearizabilityResult,
  type RegisterOp,
  type RegisterValue,
} from '../../helpers/linearizability.js'

// ---- history builders (key "x" unless told otherwise) -------------------------------------------------------

type Interval = readonly [invokeMs: number, completeMs: number | null]

const write = (client: string, value: RegisterValue, [invokeMs, completeMs]: Interval, key = 'x'): RegisterOp => ({
  key,
  client,
  kind: 'write',
  value,
  invokeMs,
  completeMs,
  ok: completeMs !== null,
})
const failedWrite = (client: string, value: RegisterValue, [invokeMs, completeMs]: readonly [number, number], key = 'x'): RegisterOp => ({
  key,
  client,
  kind: 'write',
  value,
  invokeMs,
  completeMs,
  ok: false,
})
const read = (client: string, output: RegisterValue, [invokeMs, completeMs]: Interval, key = 'x'): RegisterOp => ({
  key,
  client,
  kind: 'read',
  output,
  invokeMs,
  completeMs,
  ok: completeMs !== null,
})
const cas = (
  client: string,
  expected: RegisterValue,
  value: RegisterValue,
  output: boolean | null,
  [invokeMs, completeMs]: Interval,
  key = 'x',
): RegisterOp => ({
  key,
  client,
  kind: 'cas',
  expected,
  value,
  ...(output === null ? {} : { output }),
  invokeMs,
  completeMs,
  ok: completeMs !== null,
})

const verdict = (history: readonly RegisterOp[]): LinearizabilityResult['ok'] => checkRegisterHistory(history).ok

function expectRejected(history: readonly RegisterOp[]) {
  const result = checkRegisterHistory(history)
  if (result.ok !== false) throw new Error(`expected a rejection, got ${JSON.stringify(result)}`)
  return result
}

// ---- an independent oracle for small histories -------------------------------------------------------------

/** Brute force: every subset of the indeterminate operations, every real-time-respecting order. */
function bruteForceLinearizable(history: readonly RegisterOp[]): boolean {
  const keys = [...new Set(history.map((op) => op.key))]
  return keys.every((key) => {
    const ops = history.filter((op) => op.key === key && (op.completeMs === null ? op.kind !== 'read' : op.ok))
    const sure = ops.filter((op) => op.completeMs !== null)
    const maybe = ops.filter((op) => op.completeMs === null)
    for (let mask = 0; mask < 1 << maybe.length; mask++) {
      const chosen = [...sure, ...maybe.filter((_, i) => mask & (1 << i))]
      if (someOrder(chosen, null)) return true
    }
    return false
  })
}

function someOrder(remaining: readonly RegisterOp[], state: RegisterValue): boolean {
  if (remaining.length === 0) return true
  return remaining.some((op, i) => {
    // `op` can go next only if nothing left had to come before it in real time.
    if (remaining.some((other) => other !== op && other.completeMs !== null && other.completeMs < op.invokeMs)) return false
    let next: RegisterValue
    const determinate = op.completeMs !== null
    if (op.kind === 'write') next = op.value
    else if (op.kind === 'read') {
      if (op.output !== state) return false
      next = state
    } else {
      const swaps = op.expected === state
      if (determinate && op.output !== swaps) return false
      next = swaps ? op.value : state
    }
    return someOrder([...remaining.slice(0, i), ...remaining.slice(i + 1)], next)
  })
}

// ---- histories linearizable by construction ----------------------------------------------------------------

interface PlannedOp {
  readonly key: string
  readonly client: number
  readonly kind: 'write' | 'read' | 'cas'
  readonly pooled: number
  readonly casHits: boolean
  readonly gap: number
  readonly before: number
  readonly after: number
  readonly fate: 'ok' | 'indeterminate, applied' | 'indeterminate, lost' | 'failed'
}

const arbPlan = (maxLength: number, keys: readonly string[], minLength = 0, maxSpread = 12): fc.Arbitrary<PlannedOp[]> =>
  fc.array(
    fc.record({
      key: fc.constantFrom(...keys),
      client: fc.nat(4),
      kind: fc.constantFrom('write', 'read', 'read', 'cas'),
      pooled: fc.nat(3),
      casHits: fc.boolean(),
      gap: fc.integer({ min: 0, max: 4 }),
      before: fc.nat(maxSpread),
      after: fc.nat(maxSpread),
      fate: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'indeterminate, applied', 'indeterminate, lost', 'failed'),
    }),
    { minLength, maxLength },
  )

interface Executed {
  readonly history: RegisterOp[]
  /** For each completed, successful read in `history`: the values its key held before the read took effect. */
  readonly earlier: Map<number, RegisterValue[]>
}

/**
 * Runs the plan against one atomic register per key: each operation takes effect at its own instant
 * (strictly increasing), and is recorded with an invocation and completion time around that instant.
 * `uniqueValues` makes every write's value distinct; otherwise values come from a pool of four.
 */
function execute(plan: readonly PlannedOp[], uniqueValues: boolean): Executed {
  const registers = new Map<string, RegisterValue>()
  const past = new Map<string, RegisterValue[]>()
  const history: RegisterOp[] = []
  const earlier = new Map<number, RegisterValue[]>()
  let now = 1000
  plan.forEach((p, i) => {
    now += p.gap + 1
    const current = registers.get(p.key) ?? null
    const newValue = uniqueValues ? `${p.key}${i}` : p.pooled
    const applies = p.fate === 'ok' || p.fate === 'indeterminate, applied'
    const base = {
      key: p.key,
      client: `c${p.client}`,
      invokeMs: now - p.before,
      completeMs: p.fate.startsWith('indeterminate') ? null : now + p.after,
      ok: p.fate === 'ok',
      id: i,
    }
    const set = (value: RegisterValue): void => {
      past.set(p.key, [...(past.get(p.key) ?? [null]), value])
      registers.set(p.key, value)
    }
    if (p.kind === 'read') {
      if (p.fate === 'ok') earlier.set(history.length, (past.get(p.key) ?? [null]).filter((v) => v !== current))
      history.push({ ...base, kind: 'read', output: current })
    } else if (p.kind === 'write') {
      if (applies) set(newValue)
      history.push({ ...base, kind: 'write', value: newValue })
    } else {
      const expected = p.casHits ? current : uniqueValues ? `${p.key}?` : p.pooled
      const swaps = applies && expected === current
      if (swaps) set(newValue)
      history.push({ ...base, kind: 'cas', expected, value: newValue, ...(p.fate === 'ok' ? { output: swaps } : {}) })
    }
  })
  return { history, earlier }
}

// ---- tests -------------------------------------------------------------------------------------------------

describe('register linearizability checker: linearizable histories', () => {
  it('accepts a sequential history, starting from the absent (null) value', () => {
    expect(
      verdict([
        read('a', null, [0, 1]),
        write('a', 1, [2, 3]),
        read('b', 1, [4, 5]),
        write('b', 2, [6, 7]),
        read('a', 2, [8, 9]),
      ]),
    ).toBe(true)
  })

  it('accepts the empty history and reports what it checked', () => {
    expect(checkRegisterHistory([])).toEqual({ ok: true, keys: 0, operations: 0, steps: 0 })
    const result = checkRegisterHistory([write('a', 1, [0, 1]), read('a', 1, [2, 3], 'x'), read('a', null, [2, 3], 'y')])
    expect(result).toMatchObject({ ok: true, keys: 2, operations: 3 })
  })

  it('accepts concurrent overlapping writes with later reads seeing either one', () => {
    for (const winner of [1, 2]) {
      expect(verdict([write('a', 1, [0, 10]), write('b', 2, [5, 15]), read('c', winner, [20, 30]), read('a', winner, [31, 32])])).toBe(
        true,
      )
    }
  })

  it('accepts reads concurrent with a write seeing the old value, the new value, or old-then-new', () => {
    const w = write('a', 1, [10, 50])
    expect(verdict([w, read('b', null, [20, 30])])).toBe(true)
    expect(verdict([w, read('b', 1, [20, 30])])).toBe(true)
    expect(verdict([w, read('b', null, [20, 30]), read('c', 1, [31, 40])])).toBe(true)
    // Two concurrent reads may disagree as long as some order explains both.
    expect(verdict([w, read('b', 1, [20, 30]), read('c', null, [25, 45])])).toBe(true)
  })

  it('counts equal timestamps as concurrent (millisecond clocks must not cause false alarms)', () => {
    expect(verdict([write('a', 1, [0, 10]), read('b', null, [10, 20])])).toBe(true)
    expect(verdict([write('a', 1, [0, 10]), read('b', null, [11, 20])])).toBe(false)
  })

  it('accepts compare-and-set chains, including a failed comparison that observed the register', () => {
    expect(
      verdict([
        write('a', 0, [0, 1]),
        cas('a', 0, 1, true, [2, 3]),
        cas('b', 0, 2, false, [4, 5]),
        cas('b', 1, 2, true, [6, 7]),
        read('a', 2, [8, 9]),
      ]),
    ).toBe(true)
    // Two concurrent increments from the same base: one wins, the other sees the new value.
    expect(verdict([write('a', 0, [0, 1]), cas('a', 0, 1, true, [2, 10]), cas('b', 0, 1, false, [3, 9]), read('a', 1, [11, 12])])).toBe(
      true,
    )
  })

  it('compares values structurally (documents as register values)', () => {
    expect(verdict([write('a', { n: 1, tags: ['a'] }, [0, 1]), read('b', { tags: ['a'], n: 1 }, [2, 3])])).toBe(true)
    expect(verdict([write('a', 1, [0, 1]), read('b', '1', [2, 3])])).toBe(false)
  })

  it('honours a configured initial value', () => {
    expect(checkRegisterHistory([read('a', 0, [0, 1])], { initial: 0 }).ok).toBe(true)
    expect(checkRegisterHistory([read('a', 0, [0, 1])]).ok).toBe(false)
  })
})

describe('register linearizability checker: non-linearizable histories', () => {
  it('rejects a stale read after a completed write, explaining the smallest failing prefix', () => {
    const history = [write('a', 1, [0, 10]), write('a', 2, [12, 18]), read('b', 1, [20, 40]), read('b', 2, [50, 60])]
    const result = expectRejected(history)
    expect(result.key).toBe('x')
    expect(result.failing).toBe(history[2])
    expect(result.prefix).toEqual(history.slice(0, 3))
    expect(result.linearization).toEqual(history.slice(0, 2))
    expect(result.reachableValues).toEqual([2])
    expect(result.explanation).toContain('key "x" is not linearizable')
    expect(result.explanation).toContain('✗ #2 b: read → 1 [20, 40]')
    expect(result.explanation).toContain('Smallest failing prefix (3 operations')
    expect(result.explanation).toContain('it read 1')
  })

  it('rejects a read of a value never written', () => {
    const result = expectRejected([write('a', 1, [0, 10]), read('b', 1, [0, 20]), read('b', 7, [5, 30])])
    expect(result.failing).toMatchObject({ kind: 'read', output: 7 })
    // #1 read 1 and completed at 20, so by 30 the write of 1 had happened.
    expect(result.reachableValues).toEqual([1])
  })

  it('rejects two reads that see concurrent writes in an order no linearization allows', () => {
    // Writes of 1 and 2 overlap everything, so either order is fine — but not 1, 2, 1.
    const history = [
      write('a', 1, [0, 100]),
      write('b', 2, [0, 100]),
      read('c', 1, [10, 20]),
      read('c', 2, [30, 40]),
      read('d', 1, [50, 60]),
    ]
    const result = expectRejected(history)
    expect(result.failing).toBe(history[4])
    expect(result.reachableValues).toEqual([2])
    expect(result.explanation).toContain('Values the register can hold just before it completes, with it not applied: 2 — it read 1.')
    // Without the last read, it is fine.
    expect(verdict(history.slice(0, 4))).toBe(true)
  })

  it('rejects a lost update: two compare-and-sets from the same value both succeeding', () => {
    const history = [write('a', 0, [0, 1]), cas('a', 0, 1, true, [2, 10]), cas('b', 0, 1, true, [3, 9])]
    const result = expectRejected(history)
    expect(result.failing.kind).toBe('cas')
    expect(result.explanation).toMatch(/it swapped, so the register held 0/)
    expect(expectRejected([write('a', 0, [0, 1]), cas('a', 0, 1, false, [2, 3])]).explanation).toMatch(/did not swap/)
  })

  it('rejects a read going back in time after a concurrent one saw the new value', () => {
    expect(verdict([write('a', 1, [0, 100]), read('b', 1, [10, 20]), read('c', null, [30, 40])])).toBe(false)
  })

  it('checks keys independently and names the offending key', () => {
    const result = expectRejected([write('a', 1, [0, 10], 'x'), read('b', 1, [20, 30], 'x'), read('b', 1, [20, 30], 'y')])
    expect(result.key).toBe('y')
  })

  it('a definitely failed write took no effect: observing it is a violation', () => {
    expect(verdict([failedWrite('a', 1, [0, 10]), read('b', null, [20, 30])])).toBe(true)
    expect(verdict([failedWrite('a', 1, [0, 10]), read('b', 1, [20, 30])])).toBe(false)
  })
})

describe('register linearizability checker: indeterminate operations ([ST3])', () => {
  it('an indeterminate write may have taken effect — at any point after its invocation', () => {
    expect(verdict([write('a', 1, [0, null]), read('b', 1, [100, 110]), read('b', 1, [200, 210])])).toBe(true)
    // …even long after, and after a later write.
    expect(verdict([write('a', 1, [0, null]), write('b', 2, [10, 20]), read('b', 2, [30, 40]), read('c', 1, [50, 60])])).toBe(true)
  })

  it('an indeterminate write may not have taken effect at all', () => {
    expect(verdict([write('a', 1, [0, null]), read('b', null, [100, 110]), read('b', null, [200, 210])])).toBe(true)
    expect(verdict([write('a', 1, [0, null]), write('a', 2, [5, null]), write('b', 3, [10, 20]), read('b', 3, [30, 40])])).toBe(true)
  })

  it('but it takes effect at most once, and not before it was invoked', () => {
    expect(verdict([write('a', 1, [0, null]), read('b', 1, [10, 20]), read('b', null, [30, 40])])).toBe(false)
    expect(
      verdict([write('z', 0, [0, 1]), write('a', 1, [10, null]), read('b', 1, [20, 30]), write('c', 0, [40, 50]), read('b', 1, [60, 70])]),
    ).toBe(false)
    expect(verdict([read('b', 1, [0, 5]), write('a', 1, [10, null])])).toBe(false)
  })

  it('an indeterminate compare-and-set may have swapped or not; an indeterminate read says nothing', () => {
    const base = [write('a', 0, [0, 1]), cas('a', 0, 1, null, [2, null])]
    expect(verdict([...base, read('b', 1, [10, 11])])).toBe(true)
    expect(verdict([...base, read('b', 0, [10, 11])])).toBe(true)
    expect(verdict([...base, read('b', 1, [10, 11]), read('b', 0, [12, 13])])).toBe(false)
    expect(verdict([write('a', 0, [0, 1]), read('b', 42, [2, null])])).toBe(true)
  })
})

describe('register linearizability checker: bounded effort and input checks', () => {
  // Eighteen mutually concurrent writes, then a read of a value none of them wrote: refuting it means
  // exploring every subset of the writes (Lowe's cache cannot collapse distinct last-written values).
  const hard = [...Array.from({ length: 18 }, (_, i) => write(`c${i}`, i, [0, 100])), read('r', 99, [200, 210])]

  it('gives up with unknown when the step budget runs out, rather than hang', () => {
    const result = checkRegisterHistory(hard, { maxSteps: 10_000 })
    expect(result).toMatchObject({ ok: 'unknown', key: 'x', steps: 10_001 })
    if (result.ok === 'unknown') expect(result.explanation).toContain('step budget (10000)')
  })

  it('gives up with unknown when the time limit runs out', () => {
    expect(checkRegisterHistory(hard, { timeLimitMs: 0, maxSteps: Infinity })).toMatchObject({ ok: 'unknown', key: 'x' })
  })

  it('a definite violation in one key wins over an unknown one', () => {
    const result = checkRegisterHistory([...hard, read('r', 1, [0, 1], 'y')], { maxSteps: 10_000 })
    expect(result).toMatchObject({ ok: false, key: 'y' })
  })

  it('with enough budget, the same shape is decided', () => {
    const smaller = [...Array.from({ length: 10 }, (_, i) => write(`c${i}`, i, [0, 100])), read('r', 99, [200, 210])]
    expect(checkRegisterHistory(smaller).ok).toBe(false)
    expect(checkRegisterHistory(smaller.slice(0, -1)).ok).toBe(true)
  })

  it('rejects malformed operations', () => {
    expect(() => checkRegisterHistory([write('a', 1, [10, 5])])).toThrow(/before it is invoked/)
    expect(() => checkRegisterHistory([write('a', 1, [Number.NaN, 5])])).toThrow(/invokeMs/)
    expect(() =>
      checkRegisterHistory([{ key: 'x', client: 'a', kind: 'read', invokeMs: 0, completeMs: 1, ok: true }]),
    ).toThrow(/needs an output/)
    expect(() =>
      checkRegisterHistory([{ key: 'x', client: 'a', kind: 'cas', expected: 0, value: 1, invokeMs: 0, completeMs: 1, ok: true }]),
    ).toThrow(/boolean output/)
  })
})

describe('register linearizability checker: properties', () => {
  it('agrees with a brute-force oracle on small random histories', () => {
    const value = fc.constantFrom<RegisterValue>(null, 1, 2, 3)
    const arbOp: fc.Arbitrary<RegisterOp> = fc
      .record({
        key: fc.constantFrom('x', 'x', 'x', 'y'),
        client: fc.constantFrom('a', 'b', 'c'),
        kind: fc.constantFrom('write', 'read', 'read', 'cas'),
        value,
        expected: value,
        output: value,
        swapped: fc.boolean(),
        invokeMs: fc.nat(20),
        duration: fc.nat(10),
        status: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'indeterminate', 'failed'),
      })
      .map((r): RegisterOp => {
        const base = {
          key: r.key,
          client: r.client,
          invokeMs: r.invokeMs,
          completeMs: r.status === 'indeterminate' ? null : r.invokeMs + r.duration,
          ok: r.status === 'ok',
        }
        if (r.kind === 'write') return { ...base, kind: 'write', value: r.value }
        if (r.kind === 'read') return { ...base, kind: 'read', output: r.output }
        return { ...base, kind: 'cas', expected: r.expected, value: r.value, output: r.swapped }
      })
    let accepted = 0
    let rejected = 0
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 7 }), (history) => {
        const result = checkRegisterHistory(history)
        expect(result.ok).toBe(bruteForceLinearizable(history))
        if (result.ok) accepted++
        else rejected++
      }),
      { numRuns: 400 },
    )
    expect(accepted).toBeGreaterThan(40)
    expect(rejected).toBeGreaterThan(40)
  })

  it('accepts every history recorded from a real atomic register (random intervals, faults, cas, several keys)', () => {
    fc.assert(
      fc.property(arbPlan(100, ['a', 'b', 'c'], 10), fc.boolean(), (plan, uniqueValues) => {
        const { history } = execute(plan, uniqueValues)
        const result = checkRegisterHistory(history)
        if (result.ok !== true) throw new Error(`false alarm: ${JSON.stringify(result, null, 2)}`)
      }),
      { numRuns: 300 },
    )
  })

  it('rejects (mostly) such histories with one read turned stale, and never the originals', () => {
    let mutated = 0
    let rejections = 0
    fc.assert(
      fc.property(arbPlan(40, ['a', 'b'], 10, 6), fc.nat(), fc.nat(), (plan, pickRead, pickValue) => {
        const { history, earlier } = execute(plan, true)
        expect(checkRegisterHistory(history).ok).toBe(true)
        const candidates = [...earlier].filter(([, values]) => values.length > 0)
        const chosen = candidates[pickRead % Math.max(1, candidates.length)]
        if (!chosen) return
        const [index, stale] = chosen
        const original = history[index]!
        if (original.kind !== 'read') throw new Error('not a read')
        const output = stale[pickValue % stale.length]
        const broken = history.map((op, i) => (i === index ? { ...original, output } : op))
        mutated++
        const result = checkRegisterHistory(broken)
        expect(result.ok).not.toBe('unknown')
        if (result.ok === false) {
          rejections++
          expect(result.key).toBe(original.key)
        }
      }),
      { numRuns: 200 },
    )
    expect(mutated).toBeGreaterThan(50)
    expect(rejections).toBeGreaterThan(0)
    // Most stale reads are caught (about 70% here); the rest are legal: the stale value's write was concurrent
    // with the read, or a read-to-be-stale overlaps the write that replaced the value.
    expect(rejections / mutated).toBeGreaterThan(0.5)
  })

  it('handles a long recorded history quickly', () => {
    const plan = fc.sample(arbPlan(3000, ['a', 'b', 'c', 'd'], 2000), { numRuns: 1, seed: 42 })[0]!
    const { history } = execute(plan, true)
    const started = performance.now()
    const result = checkRegisterHistory(history)
    expect(result.ok).toBe(true)
    expect(performance.now() - started).toBeLessThan(2000)
  })
})

/**
 * Linearizability checker for register histories: Wing & Gong's search with Lowe's memoisation, the
 * algorithm behind Porcupine and Knossos' "wgl" checker.
 *
 * A history is a list of operations on registers identified by `key`. Registers are independent, so the
 * history is partitioned by key and each key is checked on its own (P-compositionality): a history is
 * linearizable iff every key's sub-history is.
 *
 * Operation semantics:
 * - `write(value)` sets the register. `read` returns its value (`output`). `cas(expected, value)` sets it to
 *   `value` iff it holds `expected`; `output` says whether it swapped.
 * - `completeMs: null` means indeterminate (a timeout, a lost connection, [ST3]): the operation may or may not
 *   have taken effect. A write or cas is then linearizable anywhere after its invocation, or not at all (it
 *   "completes at +∞"); an indeterminate read carries no information and is ignored.
 * - `ok: false` with a completion time means the operation definitely failed and took no effect: it is ignored.
 *   A cas whose comparison failed is NOT a failure — it completed and observed the register: record it as
 *   `ok: true, output: false`.
 * - Real-time order: `a` precedes `b` iff `a.completeMs < b.invokeMs`. Equal timestamps count as concurrent,
 *   which can only accept more histories (clocks with a millisecond resolution must not cause false alarms).
 * - Every register starts at `initial` (default `null`, "absent").
 * - Values are compared structurally (canonical JSON with sorted object keys; `undefined` is its own value).
 */
import { canonicalJson } from '../sim/canonical.js'

export type RegisterValue = unknown

interface OpBase {
  readonly key: string
  readonly client: string | number
  readonly invokeMs: number
  /** `null`: indeterminate — may or may not have taken effect. */
  readonly completeMs: number | null
  /** `false` with a `completeMs`: failed definitely, took no effect. */
  readonly ok: boolean
  /** Shown in explanations; defaults to the operation's index in the history. */
  readonly id?: string | number
}

export interface RegisterWrite extends OpBase {
  readonly kind: 'write'
  readonly value: RegisterValue
}

export interface RegisterRead extends OpBase {
  readonly kind: 'read'
  /** The value read; required when the read completed with `ok: true`. */
  readonly output?: RegisterValue
}

export interface RegisterCas extends OpBase {
  readonly kind: 'cas'
  readonly expected: RegisterValue
  readonly value: RegisterValue
  /** Whether it swapped; required when the cas completed with `ok: true`. */
  readonly output?: boolean
}

export type RegisterOp = RegisterWrite | RegisterRead | RegisterCas

export interface CheckOptions {
  /** The value every register holds before the history starts. Default `null`. */
  readonly initial?: RegisterValue
  /** Search steps allowed per key before giving up with `ok: 'unknown'`. Default 2,000,000. */
  readonly maxSteps?: number
  /** Wall-clock limit for the whole check, in ms; exceeding it gives `ok: 'unknown'`. Default: none. */
  readonly timeLimitMs?: number
}

export interface Linearizable {
  readonly ok: true
  readonly keys: number
  /** Operations that took part in the search (failed ones and indeterminate reads are dropped). */
  readonly operations: number
  readonly steps: number
}

export interface NotLinearizable {
  readonly ok: false
  readonly key: string
  /** Human-readable account: the failing operation, the smallest failing prefix, a partial linearization. */
  readonly explanation: string
  /** The operation no linearization of the smallest failing prefix can place. */
  readonly failing: RegisterOp
  /**
   * The smallest failing prefix, by invocation time: every operation on `key` invoked no later than `failing`
   * completed. Everything that completed before `failing` did has a linearization; adding `failing` has none.
   */
  readonly prefix: readonly RegisterOp[]
  /** One linearization of everything that completed before `failing` (the deepest point the search reached). */
  readonly linearization: readonly RegisterOp[]
  /**
   * Values the register held whenever the search reached `failing`'s completion without having placed it
   * (capped at 16); `failing`'s output is consistent with none of them.
   */
  readonly reachableValues: readonly RegisterValue[]
}

export interface Unknown {
  readonly ok: 'unknown'
  readonly key: string
  readonly steps: number
  readonly explanation: string
}

export type LinearizabilityResult = Linearizable | NotLinearizable | Unknown

const DEFAULT_MAX_STEPS = 2_000_000
const MAX_REACHABLE_SHOWN = 16
const MAX_PREFIX_LINES = 40

/** Checks a register history; see the module comment for its semantics. Throws on malformed operations. */
export function checkRegisterHistory(history: readonly RegisterOp[], options: CheckOptions = {}): LinearizabilityResult {
  const byKey = new Map<string, IndexedOp[]>()
  history.forEach((op, index) => {
    validate(op, index)
    let ops = byKey.get(op.key)
    if (!ops) byKey.set(op.key, (ops = []))
    ops.push({ op, index })
  })

  const deadline = options.timeLimitMs === undefined ? Infinity : performance.now() + options.timeLimitMs
  let steps = 0
  let operations = 0
  let unknown: Unknown | undefined
  for (const [key, ops] of byKey) {
    const result = checkKey(key, ops, options, deadline)
    if (result.ok === false) return result
    if (result.ok === 'unknown') {
      unknown ??= result
      if (performance.now() > deadline) return unknown
      continue
    }
    steps += result.steps
    operations += result.operations
  }
  return unknown ?? { ok: true, keys: byKey.size, operations, steps }
}

/** One line describing an operation, as used in explanations. */
export function formatOp(op: RegisterOp, index?: number): string {
  const id = op.id ?? index ?? '?'
  let body: string
  switch (op.kind) {
    case 'write':
      body = `write ${formatValue(op.value)}`
      break
    case 'read':
      body = `read${'output' in op && op.ok && op.completeMs !== null ? ` → ${formatValue(op.output)}` : ''}`
      break
    case 'cas':
      body = `cas ${formatValue(op.expected)} ⇒ ${formatValue(op.value)}${
        op.output !== undefined && op.ok && op.completeMs !== null ? ` → ${op.output ? 'swapped' : 'not swapped'}` : ''
      }`
      break
  }
  const interval = `[${op.invokeMs}, ${op.completeMs === null ? '∞)' : `${op.completeMs}]`}`
  const status = op.completeMs === null ? ' (indeterminate)' : op.ok ? '' : ' (failed)'
  return `#${id} ${String(op.client)}: ${body} ${interval}${status}`
}

// ---------------------------------------------------------------------------------------------------------------

interface IndexedOp {
  readonly op: RegisterOp
  /** Index in the whole history. */
  readonly index: number
}

/** An operation prepared for the search: values interned to small integers. */
interface SearchOp {
  readonly source: IndexedOp
  readonly kind: RegisterOp['kind']
  readonly value: number
  readonly expected: number
  /** Read: the interned value read. Cas: 1 swapped, 0 not swapped, -1 unknown (indeterminate). */
  readonly output: number
  readonly indeterminate: boolean
  readonly invoke: number
  readonly complete: number
}

interface Entry {
  readonly isCall: boolean
  readonly op: number
  /** Position in the time-ordered entry list; later entries have larger positions. */
  seq: number
  match: Entry | null
  prev: Entry | null
  next: Entry | null
}

function validate(op: RegisterOp, index: number): void {
  const where = `history[${index}] (${op.kind} on ${JSON.stringify(op.key)})`
  if (!Number.isFinite(op.invokeMs)) throw new Error(`${where}: invokeMs must be a finite number`)
  if (op.completeMs !== null) {
    if (!Number.isFinite(op.completeMs)) throw new Error(`${where}: completeMs must be a finite number or null`)
    if (op.completeMs < op.invokeMs) throw new Error(`${where}: completes (${op.completeMs}) before it is invoked (${op.invokeMs})`)
  }
  if (op.completeMs !== null && op.ok) {
    if (op.kind === 'read' && !('output' in op)) throw new Error(`${where}: a completed read needs an output`)
    if (op.kind === 'cas' && typeof op.output !== 'boolean') throw new Error(`${where}: a completed cas needs a boolean output`)
  }
}

function valueKey(value: RegisterValue): string {
  return value === undefined ? 'undefined' : canonicalJson(value)
}

function checkKey(key: string, ops: readonly IndexedOp[], options: CheckOptions, deadline: number): Linearizable | NotLinearizable | Unknown {
  // Intern values so that model states are small integers.
  const ids = new Map<string, number>()
  const shown: RegisterValue[] = []
  const intern = (value: RegisterValue): number => {
    const k = valueKey(value)
    let id = ids.get(k)
    if (id === undefined) {
      ids.set(k, (id = shown.length))
      shown.push(value)
    }
    return id
  }
  const initial = intern(options.initial ?? null)

  // Drop what carries no information: definite failures (no effect) and indeterminate reads.
  const relevant = ops.filter(({ op }) => (op.completeMs === null ? op.kind !== 'read' : op.ok))

  // An indeterminate write of a value no read ever returns can be omitted from any linearization without
  // changing what any other operation observes — as long as no cas looks at the register. Dropping it up
  // front spares the search an operation that would stay pending (and a candidate) forever.
  const casFree = relevant.every(({ op }) => op.kind !== 'cas')
  const readValues = new Set(relevant.flatMap(({ op }) => (op.kind === 'read' ? [valueKey(op.output)] : [])))
  const searched = relevant.filter(
    ({ op }) => !(casFree && op.kind === 'write' && op.completeMs === null && !readValues.has(valueKey(op.value))),
  )

  const prepared: SearchOp[] = searched.map((source) => {
    const { op } = source
    const indeterminate = op.completeMs === null
    const base = { source, indeterminate, invoke: op.invokeMs, complete: op.completeMs ?? Infinity }
    switch (op.kind) {
      case 'write':
        return { ...base, kind: 'write', value: intern(op.value), expected: -1, output: -1 }
      case 'read':
        return { ...base, kind: 'read', value: -1, expected: -1, output: intern(op.output) }
      case 'cas':
        return {
          ...base,
          kind: 'cas',
          value: intern(op.value),
          expected: intern(op.expected),
          output: indeterminate ? -1 : op.output ? 1 : 0,
        }
    }
  })

  // The entry list: one call and one return entry per operation, in time order; at equal times calls come
  // first (equal timestamps are concurrent), then by history index for determinism.
  const entries: Entry[] = []
  prepared.forEach((_, i) => {
    const call: Entry = { isCall: true, op: i, seq: 0, match: null, prev: null, next: null }
    const ret: Entry = { isCall: false, op: i, seq: 0, match: null, prev: null, next: null }
    call.match = ret
    entries.push(call, ret)
  })
  const timeOf = (e: Entry): number => {
    const op = prepared[e.op]!
    return e.isCall ? op.invoke : op.complete
  }
  entries.sort((a, b) => {
    const ta = timeOf(a)
    const tb = timeOf(b)
    if (ta !== tb) return ta < tb ? -1 : 1
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1
    return prepared[a.op]!.source.index - prepared[b.op]!.source.index
  })
  const head: Entry = { isCall: false, op: -1, seq: -1, match: null, prev: null, next: null }
  let previous = head
  entries.forEach((e, i) => {
    e.seq = i
    e.prev = previous
    previous.next = e
    previous = e
  })

  const lift = (call: Entry): void => {
    call.prev!.next = call.next
    call.next!.prev = call.prev
    const ret = call.match!
    ret.prev!.next = ret.next
    if (ret.next) ret.next.prev = ret.prev
  }
  const unlift = (call: Entry): void => {
    const ret = call.match!
    ret.prev!.next = ret
    if (ret.next) ret.next.prev = ret
    call.prev!.next = call
    call.next!.prev = call
  }

  /** The register after `op` from `state`, or -1 when `op`'s recorded output is impossible from `state`. */
  const apply = (state: number, op: SearchOp): number => {
    switch (op.kind) {
      case 'write':
        return op.value
      case 'read':
        return state === op.output ? state : -1
      case 'cas':
        if (op.output === 1) return state === op.expected ? op.value : -1
        if (op.output === 0) return state !== op.expected ? state : -1
        return state === op.expected ? op.value : state
    }
  }

  // Lowe's memoisation: a (set of linearized operations, register value) pair already explored cannot lead
  // anywhere new. The set is a bitset, keyed as a string.
  const bits = new Uint16Array(Math.ceil(prepared.length / 16) + 1)
  const cache = new Set<string>()
  const cacheKey = (state: number): string => {
    bits[bits.length - 1] = state & 0xffff
    const low = bitsToString(bits)
    return `${low}${String.fromCharCode(state >>> 16)}`
  }
  const setBit = (i: number): void => {
    bits[i >> 4]! |= 1 << (i & 15)
  }
  const clearBit = (i: number): void => {
    bits[i >> 4]! &= ~(1 << (i & 15))
  }

  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS
  const stack: { call: Entry; state: number }[] = []
  let state = initial
  let remaining = prepared.filter((op) => !op.indeterminate).length
  let steps = 0
  // The deepest return entry the search stood at without having linearized its operation.
  let deepest: Entry | null = null
  let deepestLinearization: number[] = []
  const deepestStates = new Set<number>()

  let entry = head.next
  while (remaining > 0) {
    steps++
    if (steps > maxSteps || ((steps & 1023) === 0 && performance.now() > deadline)) {
      const why = steps > maxSteps ? `the step budget (${maxSteps})` : 'the time limit'
      return {
        ok: 'unknown',
        key,
        steps,
        explanation:
          `key ${JSON.stringify(key)}: gave up after ${steps} search steps (${why} ran out) over ${prepared.length} ` +
          `operations; raise maxSteps/timeLimitMs, or shorten the history (fewer concurrent or indeterminate operations).`,
      }
    }
    // While determinate operations remain, the walk meets one of their return entries before running off.
    const current = entry!
    if (current.isCall) {
      const op = prepared[current.op]!
      const next = apply(state, op)
      if (next >= 0) {
        setBit(current.op)
        const k = cacheKey(next)
        if (!cache.has(k)) {
          cache.add(k)
          stack.push({ call: current, state })
          state = next
          if (!op.indeterminate) remaining--
          lift(current)
          entry = head.next
          continue
        }
        clearBit(current.op)
      }
      entry = current.next
    } else {
      // The operation returned here but is not linearized: this path is dead.
      if (!deepest || current.seq > deepest.seq) {
        deepest = current
        deepestLinearization = stack.map((s) => s.call.op)
        deepestStates.clear()
      }
      if (current === deepest && deepestStates.size < MAX_REACHABLE_SHOWN) deepestStates.add(state)
      const top = stack.pop()
      if (!top) return explainFailure(key, prepared, entries, deepest, deepestLinearization, [...deepestStates], shown, ops.length)
      state = top.state
      clearBit(top.call.op)
      if (!prepared[top.call.op]!.indeterminate) remaining++
      unlift(top.call)
      entry = top.call.next
    }
  }
  return { ok: true, keys: 1, operations: prepared.length, steps }
}

function bitsToString(bits: Uint16Array): string {
  if (bits.length <= 4096) return String.fromCharCode(...bits)
  let out = ''
  for (let i = 0; i < bits.length; i += 4096) out += String.fromCharCode(...bits.subarray(i, i + 4096))
  return out
}

function explainFailure(
  key: string,
  prepared: readonly SearchOp[],
  entries: readonly Entry[],
  deepest: Entry,
  linearization: readonly number[],
  states: readonly number[],
  shown: readonly RegisterValue[],
  totalOps: number,
): NotLinearizable {
  const failingOp = prepared[deepest.op]!
  const failing = failingOp.source.op
  const line = (i: number): string => formatOp(prepared[i]!.source.op, prepared[i]!.source.index)

  // The smallest failing prefix: every operation whose call entry precedes the failing return entry.
  const prefixIdx = entries.filter((e) => e.isCall && e.seq < deepest.seq).map((e) => e.op)
  const linearized = new Set(linearization)
  const open = prefixIdx.filter((i) => i !== deepest.op && !linearized.has(i))
  const reachable = states.map((s) => shown[s])

  const lines: string[] = []
  lines.push(`key ${JSON.stringify(key)} is not linearizable (${prepared.length} of its ${totalOps} operations checked).`)
  lines.push(
    `Everything that completed before t=${failingOp.complete} has a linearization, but no order of the ` +
      `${prefixIdx.length} operations invoked by then fits this one:`,
  )
  lines.push(`  ✗ ${line(deepest.op)}`)
  lines.push(
    `Values the register can hold just before it completes, with it not applied: ${reachable.map(formatValue).join(', ')}` +
      (states.length >= MAX_REACHABLE_SHOWN ? ', …' : '') +
      ` — ${expectation(failingOp, shown)}.`,
  )
  if (open.length > 0) {
    lines.push(`Other operations still open at that point (not in the linearization below):`)
    for (const i of open.slice(0, MAX_PREFIX_LINES)) lines.push(`    ${line(i)}`)
    if (open.length > MAX_PREFIX_LINES) lines.push(`    … and ${open.length - MAX_PREFIX_LINES} more`)
  }
  lines.push(`Smallest failing prefix (${prefixIdx.length} operations, by invocation time):`)
  const skipped = Math.max(0, prefixIdx.length - MAX_PREFIX_LINES)
  if (skipped > 0) lines.push(`    … ${skipped} earlier operations`)
  for (const i of prefixIdx.slice(skipped)) lines.push(`  ${i === deepest.op ? '✗ ' : '  '}${line(i)}`)
  const shownLin = linearization.slice(-MAX_PREFIX_LINES)
  lines.push(
    `One linearization of what completed before it${linearization.length > shownLin.length ? ` (last ${shownLin.length} of ${linearization.length})` : ''}:` +
      (linearization.length === 0 ? ' (empty — the register still holds its initial value)' : ''),
  )
  for (const i of shownLin) lines.push(`    ${line(i)}`)

  return {
    ok: false,
    key,
    explanation: lines.join('\n'),
    failing,
    prefix: prefixIdx.map((i) => prepared[i]!.source.op),
    linearization: linearization.map((i) => prepared[i]!.source.op),
    reachableValues: reachable,
  }
}

function expectation(op: SearchOp, shown: readonly RegisterValue[]): string {
  switch (op.kind) {
    case 'read':
      return `it read ${formatValue(shown[op.output])}`
    case 'cas':
      return op.output === 1
        ? `it swapped, so the register held ${formatValue(shown[op.expected])}`
        : `it did not swap, so the register held something other than ${formatValue(shown[op.expected])}`
    case 'write':
      return 'and every placement of this write contradicts a later observation'
  }
}

function formatValue(value: RegisterValue): string {
  const text = valueKey(value)
  return text.length > 40 ? `${text.slice(0, 37)}…` : text
}

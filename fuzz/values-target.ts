import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { readJsonValue, writeJsonValue } from '../core/codec/json-value.js'
import type { JsonValue } from '../core/strict/types.js'
import { assertStorableValue, DEFAULT_VALUE_LIMITS, InvalidValueError, valueProblem, type ValueLimits } from '../core/values/index.js'
import { FuzzInvariantError, FuzzRandom, mutate, type FuzzTarget } from './targets.js'

/**
 * The value checks every write passes through (core/values, docs/server.md "Value limits"), fed what a
 * client may send: JSON bodies with their bytes mutated (what still parses is checked, as REST does) and
 * JavaScript values no JSON parser makes (NaN, -0, lone surrogates, holes, `__proto__` keys, class
 * instances, throwing getters, nesting around the depth limit). `valueProblem` must answer every one
 * with null or an `InvalidValueError`, and what it accepts the wire codec must carry: encoded in exactly
 * the size the check computed, decoded back to the same value.
 */

const SMALL_LIMITS: ValueLimits = { maxDepth: 4, maxKeyBytes: 8, maxStringBytes: 24, maxDocumentBytes: 160 }

const STRINGS = ['', 'a', '__proto__', 'constructor', 'é', '😀', '\ud800', '\udc00x', 'a\u0000b', 'x'.repeat(40), '\u2028']
const NUMBERS = [0, -0, 1, -1, 0.5, 2 ** 53, 2 ** 53 - 1, -(2 ** 53) - 2, 1e308, -1e-308, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE]

/** A value a hostile caller could hand over: mostly JSON-shaped, sometimes not JSON at all. */
function generate(r: FuzzRandom, depth: number): unknown {
  const kind = r.int(depth > 5 ? 6 : 14)
  switch (kind) {
    case 0:
      return null
    case 1:
      return r.int(2) === 0
    case 2:
      return r.int(3) === 0 ? r.pick(NUMBERS) : r.int(1_000_000) - 500_000
    case 3:
    case 4:
      return r.int(3) === 0 ? r.pick(STRINGS) : randomString(r)
    case 5:
      return r.pick([undefined, 10n, Symbol('s'), () => 1, new Date(0), new Map(), new Uint8Array(2), Object.create({ inherited: 1 }), Object.create(null)])
    case 6:
    case 7:
    case 8: {
      const array: unknown[] = []
      for (let i = r.int(4); i > 0; i--) array.push(generate(r, depth + 1))
      if (r.int(16) === 0) array.length += 1 // a hole
      return array
    }
    case 13:
      return nested(r, 60 + r.int(8))
    default: {
      const object: Record<string, unknown> = r.int(8) === 0 ? (Object.create(null) as Record<string, unknown>) : {}
      for (let i = r.int(4); i > 0; i--) {
        const key = r.int(4) === 0 ? r.pick(STRINGS) : randomString(r)
        // defineProperty: a "__proto__" key as an own field, the way JSON.parse makes it.
        Object.defineProperty(object, key, { value: generate(r, depth + 1), enumerable: true, writable: true, configurable: true })
      }
      if (r.int(64) === 0) Object.defineProperty(object, 'boom', { enumerable: true, get: () => { throw new Error('getter') } })
      return object
    }
  }
}

/** Arrays and objects `levels` deep: either side of the depth limit (64). */
function nested(r: FuzzRandom, levels: number): unknown {
  let value: unknown = r.int(2)
  for (let i = 0; i < levels; i++) value = r.int(2) === 0 ? [value] : { k: value }
  return value
}

function randomString(r: FuzzRandom): string {
  let s = ''
  for (let i = r.int(8); i > 0; i--) s += String.fromCharCode(r.int(4) === 0 ? 0xd7f0 + r.int(0x30) : r.int(4) === 0 ? r.int(0x800) : 0x20 + r.int(0x5f))
  return s
}

/** Text for a crash report: JSON with the values JSON cannot show spelled out. */
function describe(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (v === undefined) return '<undefined>'
      if (typeof v === 'number' && !Number.isFinite(v)) return `<${v}>`
      if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') return `<${typeof v}>`
      return v
    }) ?? '<undefined>'
  } catch (err) {
    return `<unprintable: ${String(err)}>`
  }
}

/** Same value, as the codec compares: -0 apart from 0, key order kept. */
function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b)
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return false
    if (!sameJson((a as Record<string, unknown>)[ka[i] as string], (b as Record<string, unknown>)[kb[i] as string])) return false
  }
  return true
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const valuesTarget: FuzzTarget = {
  name: 'value checks (hostile values, mutated JSON)',
  weight: 0.05,
  setup(random) {
    // Seeds for the JSON path: storable values as text.
    const texts: Uint8Array[] = []
    while (texts.length < 64) {
      const value = generate(random, 2)
      if (valueProblem(value) === null) texts.push(encoder.encode(JSON.stringify(value)))
    }
    texts.push(encoder.encode('{"__proto__":{"x":1},"a":[1,2.5,-0,"\\ud800"],"b":{"c":null}}'))
    return {
      current: new Uint8Array(),
      run(r) {
        let value: unknown
        let input: Uint8Array
        if (r.int(2) === 0) {
          input = mutate(r.pick(texts), r, r.pick(texts))
          this.current = input
          try {
            value = JSON.parse(decoder.decode(input))
          } catch (err) {
            if (err instanceof SyntaxError) return { outcome: 'refused', input }
            throw err
          }
        } else {
          value = generate(r, 0)
          input = encoder.encode(describe(value))
          this.current = input
        }
        const limits = r.int(4) === 0 ? SMALL_LIMITS : DEFAULT_VALUE_LIMITS
        const problem = valueProblem(value, limits)
        if (problem !== null) {
          if (!(problem instanceof InvalidValueError)) throw new FuzzInvariantError('valueProblem returned something else than an InvalidValueError')
          return { outcome: 'refused', input }
        }
        // Accepted: the codec writes it in exactly the bytes the check counted, and reads it back unchanged.
        // assertStorableValue returns the encoded size it computed (valueProblem said it does not throw).
        const size = assertStorableValue(value, limits)
        const out = encoding.createEncoder()
        writeJsonValue(out, 'value', value as JsonValue)
        const bytes = encoding.toUint8Array(out)
        if (bytes.length !== size) throw new FuzzInvariantError(`the check counted ${size} bytes, the codec wrote ${bytes.length}`)
        if (size > limits.maxDocumentBytes) throw new FuzzInvariantError(`accepted ${size} bytes over maxDocumentBytes`)
        const back = readJsonValue(decoding.createDecoder(bytes), 'value')
        if (!sameJson(back, value)) throw new FuzzInvariantError('an accepted value changed through the codec')
        return { outcome: 'accepted', input }
      },
    }
  },
}

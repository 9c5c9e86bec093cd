import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readJsonValue, writeJsonValue } from '../../../core/codec/json-value.js'
import type { JsonValue } from '../../../core/strict/types.js'
import {
  assertStorableValue,
  DEFAULT_VALUE_LIMITS,
  InvalidValueError,
  MAX_VALUE_DEPTH,
  storableSize,
  utf8Bytes,
  valueProblem,
  type ValueLimits,
} from '../../../core/values/storable-value.js'
import { writeOpValueProblem } from '../../../core/strict/op-values.js'
import { arbHostileJsonText, arbStorableJson, nested } from '../../helpers/json-arbitraries.js'

function encode(value: JsonValue): Uint8Array {
  const encoder = encoding.createEncoder()
  writeJsonValue(encoder, 'value', value)
  return encoding.toUint8Array(encoder)
}

const problemOf = (value: unknown, limits?: ValueLimits) => valueProblem(value, limits)

describe('[IN1] storable values (docs/server.md, Value limits)', () => {
  it('[PR1] every storable value encodes to exactly the size computed, and decodes to itself', () => {
    fc.assert(
      fc.property(arbStorableJson, (value) => {
        const size = assertStorableValue(value)
        const bytes = encode(value as JsonValue)
        expect(bytes.length).toBe(size)
        expect(readJsonValue(decoding.createDecoder(bytes), 'value')).toEqual(value)
      }),
      { numRuns: 300 },
    )
  })

  it('hostile JSON text is either storable (and then survives the codec) or refused with a typed error; never anything else', () => {
    fc.assert(
      fc.property(arbHostileJsonText, (text) => {
        const value: unknown = JSON.parse(text)
        const problem = problemOf(value)
        if (problem === null) {
          expect(readJsonValue(decoding.createDecoder(encode(value as JsonValue)), 'value')).toEqual(value)
        } else {
          expect(problem).toBeInstanceOf(InvalidValueError)
          expect(problem.code).toBe('INVALID_VALUE')
          expect(problem.path.startsWith('$')).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('refuses a value nested 100,000 deep at the limit, without overflowing the stack', () => {
    const deep = JSON.parse(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)
    const problem = problemOf(deep)
    expect(problem).toMatchObject({ code: 'INVALID_VALUE', rule: 'maxDepth', limit: MAX_VALUE_DEPTH })
    expect(problem?.path).toMatch(/^\$\.a(\[0\]){63}$/)
    // The reproduction: 101 levels in 206 bytes.
    expect(problemOf(JSON.parse(`{"a":${'['.repeat(100)}${']'.repeat(100)}}`))).toMatchObject({ rule: 'maxDepth' })
    // 64 levels is the most the wire carries, and is storable.
    expect(problemOf(nested(MAX_VALUE_DEPTH))).toBeNull()
    expect(problemOf(nested(MAX_VALUE_DEPTH + 1))).toMatchObject({ rule: 'maxDepth' })
  })

  it('names the rule and the path for each kind of refusal', () => {
    expect(problemOf(JSON.parse('{"a":1e999}'))).toMatchObject({ rule: 'finite-number', path: '$.a' })
    expect(problemOf({ a: [NaN] })).toMatchObject({ rule: 'finite-number', path: '$.a[0]' })
    expect(problemOf(JSON.parse('{"s":"\\ud800"}'))).toMatchObject({ rule: 'well-formed-string', path: '$.s' })
    expect(problemOf(JSON.parse('{"\\udc00":1}'))).toMatchObject({ rule: 'well-formed-string' })
    expect(problemOf(JSON.parse('{"x":{"__proto__":{"polluted":true}}}'))).toMatchObject({ rule: 'reserved-key', path: '$.x.__proto__' })
    expect(problemOf({ d: new Date(0) })).toMatchObject({ rule: 'json', path: '$.d' })
    expect(problemOf({ m: new Map() })).toMatchObject({ rule: 'json' })
    expect(problemOf({ u: undefined })).toMatchObject({ rule: 'json', path: '$.u' })
    // eslint-disable-next-line no-sparse-arrays
    expect(problemOf([1, , 3])).toMatchObject({ rule: 'json', path: '$[1]' })
    expect(problemOf({ b: 1n })).toMatchObject({ rule: 'json' })
    expect(problemOf({ 'odd key': { f() {} } })).toMatchObject({ path: '$["odd key"].f' })
    // Own keys named like Object.prototype members are ordinary data.
    expect(problemOf(JSON.parse('{"constructor":1,"prototype":{"toString":2},"":3}'))).toBeNull()
    // A null-prototype object is plain.
    expect(problemOf(Object.assign(Object.create(null) as object, { a: 1 }))).toBeNull()
  })

  it('enforces the size limits, and the defaults are what the docs say', () => {
    expect(DEFAULT_VALUE_LIMITS).toEqual({ maxDepth: 64, maxKeyBytes: 1024, maxStringBytes: 512 * 1024, maxDocumentBytes: 1024 * 1024 })
    const limits: ValueLimits = { maxDepth: 3, maxKeyBytes: 4, maxStringBytes: 8, maxDocumentBytes: 40 }
    expect(problemOf({ a: { b: 1 } }, limits)).toBeNull()
    expect(problemOf({ a: { b: [1] } }, limits)).toBeNull()
    expect(problemOf({ a: { b: [[1]] } }, limits)).toMatchObject({ rule: 'maxDepth', limit: 3, path: '$.a.b[0]' })
    expect(problemOf({ abcde: 1 }, limits)).toMatchObject({ rule: 'maxKeyBytes', limit: 4 })
    expect(problemOf({ a: 'ü'.repeat(4) }, limits)).toBeNull() // 8 bytes of UTF-8
    expect(problemOf({ a: 'ü'.repeat(5) }, limits)).toMatchObject({ rule: 'maxStringBytes', limit: 8 })
    expect(problemOf(['12345678', '12345678', '12345678', '12345678'], limits)).toMatchObject({ rule: 'maxDocumentBytes', limit: 40, path: '$' })
  })

  it('counts UTF-8 bytes like Buffer does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(utf8Bytes(s)).toBe(Buffer.byteLength(s, 'utf8'))
      }),
    )
  })

  it('a strict write is checked op by op, with REST-shaped paths, and as a whole', () => {
    const put = (value: unknown) => ({ kind: 'put' as const, collection: 'c', id: 'i', value: value as JsonValue })
    expect(writeOpValueProblem(put({ a: 1 }))).toBeNull()
    expect(writeOpValueProblem(put(JSON.parse('{"a":1e999}')))).toMatchObject({ code: 'INVALID_VALUE', path: '$.a' })
    expect(writeOpValueProblem({ kind: 'batch', ops: [put(1), { kind: 'patch', collection: 'c', id: 'j', fields: { x: nested(70) as JsonValue } }] }))
      .toMatchObject({ rule: 'maxDepth', path: expect.stringMatching(/^\$\.ops\[1\]\.fields\.x/) })
    expect(writeOpValueProblem({ ...put(1), id: '\ud800' })).toMatchObject({ rule: 'well-formed-string', path: 'id' })
    const limits = { ...DEFAULT_VALUE_LIMITS, maxDocumentBytes: 100 }
    const half = 'x'.repeat(60)
    expect(writeOpValueProblem({ kind: 'batch', ops: [put(half), put(half)] }, limits)).toMatchObject({ rule: 'maxDocumentBytes', path: '$' })
    // With the current document (the primary), a patch that makes it too large is refused.
    const current = { value: { a: half }, version: 1 }
    expect(writeOpValueProblem({ kind: 'patch', collection: 'c', id: 'i', fields: { b: half } }, limits, () => current)).toMatchObject({ rule: 'maxDocumentBytes' })
    expect(writeOpValueProblem({ kind: 'patch', collection: 'c', id: 'i', fields: { a: null, b: half } }, limits, () => current)).toBeNull()
  })

  it('storableSize never throws anything but InvalidValueError, even for hostile objects', () => {
    const throwing = new Proxy({}, { ownKeys: () => { throw new Error('boom') } })
    expect(valueProblem(throwing)).toMatchObject({ code: 'INVALID_VALUE', rule: 'json' })
    expect(() => storableSize(Symbol('s'))).toThrow(InvalidValueError)
  })
})

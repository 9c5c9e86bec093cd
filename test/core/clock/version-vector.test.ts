import * as fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { describe, expect, it } from 'vitest'
import {
  decodeVersionVector,
  EMPTY_VECTOR,
  encodeVersionVector,
  formatVersionVector,
  readVersionVector,
  vvCompare,
  vvDifference,
  vvDominates,
  vvEquals,
  vvGet,
  vvMerge,
  writeVersionVector,
  type SeqRange,
} from '../../../core/clock/index.js'
import type { VersionVector } from '../../../core/types.js'

// A small origin set so that vectors overlap; zero entries included on purpose (they mean "absent").
const origin = fc.constantFrom('a', 'b', 'c', 'eu-1', '', 'ü')
const vector: fc.Arbitrary<Map<string, number>> = fc
  .array(fc.tuple(origin, fc.nat(6)), { maxLength: 6 })
  .map((entries) => new Map(entries))
const wideVector: fc.Arbitrary<Map<string, number>> = fc
  .array(fc.tuple(fc.string({ maxLength: 8 }), fc.oneof(fc.nat(1000), fc.maxSafeNat())), { maxLength: 12 })
  .map((entries) => new Map(entries))

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

function rangesToPairs(ranges: readonly SeqRange[]): string[] {
  const out: string[] = []
  for (const r of ranges) for (let s = r.from; s <= r.to; s++) out.push(`${r.origin}#${s}`)
  return out.sort()
}

function missingPairs(a: VersionVector, b: VersionVector): string[] {
  const out: string[] = []
  for (const [o, seq] of a) for (let s = vvGet(b, o) + 1; s <= seq; s++) out.push(`${o}#${s}`)
  return out.sort()
}

describe('version vectors', () => {
  it('[CV1] merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(vector, vector, vector, (a, b, c) => {
        expect(vvEquals(vvMerge(a, b), vvMerge(b, a))).toBe(true)
        expect(vvEquals(vvMerge(vvMerge(a, b), c), vvMerge(a, vvMerge(b, c)))).toBe(true)
        expect(vvEquals(vvMerge(a, a), a)).toBe(true)
        expect(vvEquals(vvMerge(a, EMPTY_VECTOR), a)).toBe(true)
        // Canonical bytes agree too, which is what tokens and the wire see.
        expect(hex(encodeVersionVector(vvMerge(a, b)))).toBe(hex(encodeVersionVector(vvMerge(b, a))))
      }),
    )
  })

  it('[CV1] merge is the least upper bound of dominates', () => {
    fc.assert(
      fc.property(vector, vector, vector, (a, b, c) => {
        const m = vvMerge(a, b)
        expect(vvDominates(m, a)).toBe(true)
        expect(vvDominates(m, b)).toBe(true)
        if (vvDominates(c, a) && vvDominates(c, b)) expect(vvDominates(c, m)).toBe(true)
        expect(vvDominates(a, b)).toBe(vvEquals(vvMerge(a, b), a))
      }),
    )
  })

  it('[CV1] compare agrees with dominates and is mirrored', () => {
    const mirror = { equal: 'equal', before: 'after', after: 'before', concurrent: 'concurrent' } as const
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        const order = vvCompare(a, b)
        const ab = vvDominates(a, b)
        const ba = vvDominates(b, a)
        expect(order).toBe(ab && ba ? 'equal' : ab ? 'after' : ba ? 'before' : 'concurrent')
        expect(vvCompare(b, a)).toBe(mirror[order])
        expect(vvCompare(a, a)).toBe('equal')
        expect(vvCompare(vvMerge(a, b), a)).toMatch(/^(equal|after)$/)
      }),
    )
  })

  it('[CV2] difference yields exactly the missing (origin, seq) pairs, one sorted range per origin', () => {
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        const diff = vvDifference(a, b)
        expect(rangesToPairs(diff)).toEqual(missingPairs(a, b))
        const origins = diff.map((r) => r.origin)
        expect(origins).toEqual([...new Set(origins)].sort())
        for (const r of diff) {
          expect(r.from).toBe(vvGet(b, r.origin) + 1)
          expect(r.to).toBe(vvGet(a, r.origin))
          expect(r.from).toBeLessThanOrEqual(r.to)
        }
        expect(diff.length === 0).toBe(vvDominates(b, a))
        // Sending the difference brings b up to the merge.
        const received = new Map(b)
        for (const r of diff) received.set(r.origin, r.to)
        expect(vvEquals(received, vvMerge(a, b))).toBe(true)
      }),
    )
  })

  it('[PR1] encode/decode round-trips', () => {
    fc.assert(
      fc.property(wideVector, (v) => {
        const decoded = decodeVersionVector(encodeVersionVector(v))
        expect(vvEquals(decoded, v)).toBe(true)
        expect([...decoded.values()].every((seq) => seq > 0)).toBe(true)
      }),
    )
  })

  it('[PR1] equal vectors encode to equal bytes, unequal ones to different bytes', () => {
    fc.assert(
      fc.property(vector, vector, fc.array(origin, { maxLength: 3 }), (a, b, zeros) => {
        // Same content, other insertion order, extra zero entries: same bytes.
        const shuffled = new Map([...a].reverse())
        for (const o of zeros) if (!shuffled.has(o)) shuffled.set(o, 0)
        expect(vvEquals(shuffled, a)).toBe(true)
        expect(hex(encodeVersionVector(shuffled))).toBe(hex(encodeVersionVector(a)))
        expect(hex(encodeVersionVector(a)) === hex(encodeVersionVector(b))).toBe(vvEquals(a, b))
      }),
    )
  })

  it('[PR1] a vector embeds in a larger frame and truncated input throws', () => {
    fc.assert(
      fc.property(wideVector, fc.nat(1000), (v, trailer) => {
        const encoder = encoding.createEncoder()
        writeVersionVector(encoder, v)
        encoding.writeVarUint(encoder, trailer)
        const decoder = decoding.createDecoder(encoding.toUint8Array(encoder))
        expect(vvEquals(readVersionVector(decoder), v)).toBe(true)
        expect(decoding.readVarUint(decoder)).toBe(trailer)

        const bytes = encodeVersionVector(v)
        for (let cut = 0; cut < bytes.length; cut++) {
          expect(() => decodeVersionVector(bytes.subarray(0, cut))).toThrow()
        }
      }),
    )
  })

  it('[PR1] a length prefix larger than the input is refused before allocating', () => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 2 ** 40)
    expect(() => decodeVersionVector(encoding.toUint8Array(encoder))).toThrow(RangeError)
  })

  it('vvGet treats missing origins as 0; formatVersionVector is sorted and skips zeros', () => {
    const v = new Map([
      ['b', 1],
      ['a', 3],
      ['z', 0],
    ])
    expect(vvGet(v, 'a')).toBe(3)
    expect(vvGet(v, 'nope')).toBe(0)
    expect(formatVersionVector(v)).toBe('{a:3,b:1}')
    expect(formatVersionVector(EMPTY_VECTOR)).toBe('{}')
  })
})

import { describe, expect, it } from 'vitest'
import { mergePatch, patchedFields, patchFields } from '../../server/merge-patch.js'

describe('JSON merge patch (RFC 7396)', () => {
  // Examples from RFC 7396, appendix A.
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ]
  for (const [target, patch, result] of cases) {
    it(`${JSON.stringify(target)} + ${JSON.stringify(patch)}`, () => {
      expect(mergePatch(target, patch)).toEqual(result)
    })
  }

  it('maps a top-level patch to LWW field writes: null deletes, objects merge into the current value', () => {
    expect(patchFields({ a: 1, o: { x: 1, y: 2 } }, { a: null, o: { y: null, z: 3 }, n: 5 })).toEqual({
      a: undefined,
      o: { x: 1, z: 3 },
      n: 5,
    })
    expect(patchFields(null, { o: { x: null, y: 1 } })).toEqual({ o: { y: 1 } })
  })

  it('reads through a lookup only the fields the patch names [PF3]', () => {
    const doc: Record<string, unknown> = { a: 1, o: { x: 1, y: 2 }, untouched: true }
    const asked: string[] = []
    const lookup = (field: string): unknown => {
      asked.push(field)
      return Object.hasOwn(doc, field) ? doc[field] : undefined
    }
    expect(patchFields(lookup, { a: null, o: { y: null, z: 3 }, n: 5 })).toEqual(patchFields(doc, { a: null, o: { y: null, z: 3 }, n: 5 }))
    expect(asked.sort()).toEqual(['n', 'o'])
  })

  it('answers a patch with the named fields as they are now, null for deleted ones', () => {
    const now: Record<string, unknown> = { o: { x: 1, z: 3 }, n: 5 }
    const fields = patchedFields({ a: null, o: { y: null, z: 3 }, n: 5 }, (field) => now[field])
    expect(fields).toEqual({ a: null, o: { x: 1, z: 3 }, n: 5 })
    const proto = patchedFields(JSON.parse('{"__proto__": 1}') as Record<string, unknown>, () => 1)
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype)
    expect(Object.keys(proto)).toEqual(['__proto__'])
  })

  it('keeps "__proto__" as an ordinary field instead of changing prototypes', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>
    const fields = patchFields(null, patch)
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype)
    expect(Object.keys(fields)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

/**
 * fast-check arbitraries for document values: ordinary JSON that must always be stored, and hostile
 * JSON *text* (what arrives in a REST body or a client's call) that must be stored identically or
 * refused with INVALID_VALUE — deep, wide, huge numbers (`1e999`), odd strings (lone surrogates,
 * NUL, astral), odd keys (`__proto__`, `constructor`, empty, over the key limit).
 */
import fc from 'fast-check'

/** `n` arrays nested around 0: `nested(2)` is `[[0]]`. */
export function nested(n: number): unknown {
  let value: unknown = 0
  for (let i = 0; i < n; i++) value = [value]
  return value
}

const noProtoKeys = (value: unknown): boolean => {
  if (Array.isArray(value)) return value.every(noProtoKeys)
  if (typeof value === 'object' && value !== null) return Object.entries(value).every(([k, v]) => k !== '__proto__' && noProtoKeys(v))
  return true
}

/** Ordinary JSON: every one of these is storable under the default limits. */
export const arbStorableJson: fc.Arbitrary<unknown> = fc
  .jsonValue({ maxDepth: 6, depthSize: 'small' })
  .filter(noProtoKeys)

/** An ordinary document (an object at the top, as lww requires). */
export const arbStorableDocument: fc.Arbitrary<Record<string, unknown>> = fc
  .dictionary(fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__'), arbStorableJson, { maxKeys: 8 })

/** A JSON tree whose objects are key/value pair lists, so odd keys survive until serialised. */
type Tree = { readonly leaf: string } | { readonly array: readonly Tree[] } | { readonly object: readonly (readonly [string, Tree])[] }

const hostileNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom('1e308', '-0', '0.1', '9007199254740993', '123456789012345678901234567890', '5e-324'),
  fc.constantFrom('1e999', '-1e999'),
  fc.integer().map(String),
)

const hostileString = fc.oneof(
  { arbitrary: fc.string({ maxLength: 20 }), weight: 8 },
  { arbitrary: fc.string({ maxLength: 10, unit: 'binary' }), weight: 3 },
  { arbitrary: fc.constantFrom('\u0000', '😀', '\u2028', '"\\'), weight: 2 },
  { arbitrary: fc.constantFrom('\ud800', 'a\udc00b'), weight: 1 },
  // Over the default maxStringBytes (512 KiB), now and then.
  { arbitrary: fc.constant('s'.repeat(513 * 1024)), weight: 1 },
)

const hostileKey = fc.oneof(
  { arbitrary: fc.string({ maxLength: 8 }), weight: 12 },
  { arbitrary: fc.constantFrom('constructor', 'prototype', 'toString', '', 'a.b', '$', '😀'), weight: 2 },
  { arbitrary: fc.constantFrom('__proto__', '\ud800'), weight: 1 },
  // Over the default maxKeyBytes (1024).
  { arbitrary: fc.constant('k'.repeat(1100)), weight: 1 },
)

const leaf: fc.Arbitrary<Tree> = fc.oneof(
  hostileNumber.map((n) => ({ leaf: n })),
  hostileString.map((s) => ({ leaf: JSON.stringify(s) })),
  fc.constantFrom('true', 'false', 'null').map((s) => ({ leaf: s })),
)

const { tree } = fc.letrec<{ tree: Tree }>((self) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(self('tree'), { maxLength: 5 }).map((array) => ({ array })),
    fc
      .uniqueArray(fc.tuple(hostileKey, self('tree')), { maxLength: 5, selector: ([key]) => key })
      .map((object) => ({ object })),
  ),
}))

/** Wraps a tree in `depth` alternating arrays and objects. */
function deepen(inner: Tree, depth: number): Tree {
  let out = inner
  for (let i = 0; i < depth; i++) out = i % 2 === 0 ? { array: [out] } : { object: [['d', out]] }
  return out
}

const hostileTree: fc.Arbitrary<Tree> = fc.oneof(
  { arbitrary: tree, weight: 5 },
  // Around the nesting limit (64) and well past it.
  { arbitrary: fc.tuple(tree, fc.integer({ min: 55, max: 130 })).map(([t, d]) => deepen(t, d)), weight: 2 },
  // Wide: many fields.
  { arbitrary: fc.integer({ min: 100, max: 2000 }).map((n) => ({ object: Array.from({ length: n }, (_, i) => [`f${i}`, { leaf: String(i) }] as const) })), weight: 1 },
)

function serialise(t: Tree): string {
  if ('leaf' in t) return t.leaf
  if ('array' in t) return `[${t.array.map(serialise).join(',')}]`
  return `{${t.object.map(([k, v]) => `${JSON.stringify(k)}:${serialise(v)}`).join(',')}}`
}

/** Hostile JSON text for a whole document: always an object at the top. */
export const arbHostileJsonText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.uniqueArray(fc.tuple(hostileKey, hostileTree), { minLength: 1, maxLength: 4, selector: ([key]) => key }).map((fields) => serialise({ object: fields })), weight: 3 },
  { arbitrary: arbStorableDocument.map((doc) => JSON.stringify(doc)), weight: 2 },
)

/** JSON with object keys sorted (how two readers' answers are compared; lww views sort keys). */
export function canonicalText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalText((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

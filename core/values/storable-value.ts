/**
 * What Meridian stores as a document value, in one place (docs/server.md, "Value limits"). The REST
 * layer, the client, the server's client-session path, the strict primary and the wire codec all
 * ask this module, so nothing is logged that a peer could not encode, decode or read back as sent.
 *
 * A storable value is JSON as JavaScript holds it:
 * - `null`, booleans, **finite** numbers (`1e999` parses to Infinity, which JSON cannot carry back);
 * - strings that are well-formed UTF-16 (a lone surrogate would become U+FFFD on the wire);
 * - dense arrays of storable values;
 * - plain objects (prototype `Object.prototype` or `null`) whose keys are well-formed strings other
 *   than `__proto__` (assigning that key to a JavaScript object replaces its prototype instead of
 *   storing a field, so no reader could get it back as data) and whose values are storable.
 * `undefined` anywhere inside a value is refused (use null, or leave the field out).
 *
 * On top of that, four limits, each configurable downwards ({@link ValueLimits}).
 *
 * The walk recurses at most `maxDepth` (≤ {@link MAX_VALUE_DEPTH}) levels, so a hostile value nested
 * 100,000 deep is refused at level 65 instead of overflowing the stack.
 */

/** The wire's hard ceiling on nesting (the decoder recurses; docs/protocol.md, JSON values). */
export const MAX_VALUE_DEPTH = 64

export interface ValueLimits {
  /**
   * Arrays and objects nested inside each other, counting the document (or a patch's field
   * object) itself as one. At most {@link MAX_VALUE_DEPTH}.
   */
  readonly maxDepth: number
  /** UTF-8 bytes of one object key or top-level field name. */
  readonly maxKeyBytes: number
  /** UTF-8 bytes of one string value. */
  readonly maxStringBytes: number
  /**
   * Encoded bytes (docs/protocol.md, JSON values) of one document, and of the values one write
   * carries in total (a put's value, a patch's fields, every op of a strict batch).
   */
  readonly maxDocumentBytes: number
}

export const DEFAULT_VALUE_LIMITS: ValueLimits = Object.freeze({
  maxDepth: MAX_VALUE_DEPTH,
  maxKeyBytes: 1024,
  maxStringBytes: 512 * 1024,
  maxDocumentBytes: 1024 * 1024,
})

/** Which rule a refused value broke. */
export type ValueRule = 'json' | 'finite-number' | 'well-formed-string' | 'reserved-key' | keyof ValueLimits

/**
 * A value Meridian will not store. `path` says where (`$` is the value, `$.a[2]` inside it), `rule`
 * which rule it broke and `limit` the bound when the rule is a limit.
 *
 * @example
 * ```ts
 * try {
 *   assertStorableValue(JSON.parse(body))
 * } catch (err) {
 *   if (err instanceof InvalidValueError) return badRequest(err.code, err.message, { path: err.path, limit: err.limit })
 *   throw err
 * }
 * ```
 */
export class InvalidValueError extends Error {
  readonly code = 'INVALID_VALUE' as const
  readonly path: string
  readonly rule: ValueRule
  /** The bound that was exceeded (bytes or levels); null for the rules that are not limits. */
  readonly limit: number | null

  constructor(path: string, rule: ValueRule, detail: string, limit: number | null = null) {
    super(`invalid value at ${path}: ${detail}`)
    this.name = 'InvalidValueError'
    this.path = path
    this.rule = rule
    this.limit = limit
  }

  /** Plain data for an error body or a wire rejection. */
  toJSON(): { code: 'INVALID_VALUE'; message: string; path: string; rule: ValueRule; limit: number | null } {
    return { code: this.code, message: this.message, path: this.path, rule: this.rule, limit: this.limit }
  }
}

/** Checks `limits` itself (a configuration error is a programmer error: thrown at once). */
export function checkValueLimits(limits: ValueLimits): ValueLimits {
  for (const name of ['maxDepth', 'maxKeyBytes', 'maxStringBytes', 'maxDocumentBytes'] as const) {
    const n = limits[name]
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`value limits: ${name} must be a positive integer, got ${String(n)}`)
  }
  if (limits.maxDepth > MAX_VALUE_DEPTH) throw new RangeError(`value limits: maxDepth may not exceed ${MAX_VALUE_DEPTH} (the wire's ceiling), got ${limits.maxDepth}`)
  return limits
}

const SIMPLE_KEY = /^[A-Za-z_$][\w$]*$/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** `$.a`, `$["odd key"]`, `$[3]`; long keys are shortened (a path is for people). */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  if (SIMPLE_KEY.test(key) && key.length <= 64) return `${path}.${key}`
  return `${path}[${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}]`
}

/** Bytes of a varuint (lib0 encoding), for size accounting without encoding. */
export function varUintBytes(n: number): number {
  let bytes = 1
  while (n > 127) {
    n = Math.floor(n / 128)
    bytes += 1
  }
  return bytes
}

/** Encoded bytes of an object from its field count and its fields' bytes (names and values). */
export function encodedObjectBytes(fieldCount: number, fieldBytes: number): number {
  return 1 + varUintBytes(fieldCount) + fieldBytes
}

/** UTF-8 length of a well-formed string, without allocating its bytes. */
export function utf8Bytes(s: string): number {
  let bytes = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c >= 0xd800 && c <= 0xdbff) {
      // A surrogate pair: two UTF-16 units, four UTF-8 bytes.
      bytes += 2
      i += 1
    } else bytes += 2
  }
  return bytes
}

function checkString(s: string, path: string, what: 'key' | 'string', limits: ValueLimits): number {
  if (LONE_SURROGATE.test(s)) throw new InvalidValueError(path, 'well-formed-string', `the ${what} holds a lone surrogate (not valid Unicode)`)
  const bytes = utf8Bytes(s)
  if (what === 'key' && bytes > limits.maxKeyBytes) {
    throw new InvalidValueError(path, 'maxKeyBytes', `a key of ${bytes} bytes exceeds maxKeyBytes (${limits.maxKeyBytes})`, limits.maxKeyBytes)
  }
  if (what === 'string' && bytes > limits.maxStringBytes) {
    throw new InvalidValueError(path, 'maxStringBytes', `a string of ${bytes} bytes exceeds maxStringBytes (${limits.maxStringBytes})`, limits.maxStringBytes)
  }
  return bytes
}

/** Checks one object key (also a top-level lww field name); returns its encoded size. */
export function storableKeySize(key: string, path: string, limits: ValueLimits = DEFAULT_VALUE_LIMITS): number {
  if (typeof key !== 'string') throw new InvalidValueError(path, 'json', 'a key must be a string')
  if (key === '__proto__') throw new InvalidValueError(path, 'reserved-key', 'the key "__proto__" is refused: JavaScript readers would take it as the prototype, not a field')
  const bytes = checkString(key, path, 'key', limits)
  return varUintBytes(bytes) + bytes
}

function numberSize(n: number, path: string): number {
  if (!Number.isFinite(n)) throw new InvalidValueError(path, 'finite-number', `${n} is not a finite number (JSON cannot carry it)`)
  return Number.isSafeInteger(n) && !Object.is(n, -0) ? 1 + varUintBytes(Math.abs(n)) : 9
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describeType(value: unknown): string {
  if (value === undefined) return 'undefined (use null, or leave the field out)'
  if (typeof value !== 'object' || value === null) return typeof value
  return Object.prototype.toString.call(value).slice(8, -1)
}

/**
 * The encoded size of a storable value (exactly what the wire codec writes for it), or an
 * `InvalidValueError`. `depth` is the number of arrays/objects already around the value.
 * The document size limit is checked by the callers, which know what a document is.
 */
export function storableSize(value: unknown, path = '$', limits: ValueLimits = DEFAULT_VALUE_LIMITS, depth = 0): number {
  switch (typeof value) {
    case 'boolean':
      return 1
    case 'number':
      return numberSize(value, path)
    case 'string': {
      const bytes = checkString(value, path, 'string', limits)
      return 1 + varUintBytes(bytes) + bytes
    }
    case 'object': {
      if (value === null) return 1
      if (depth >= limits.maxDepth) {
        throw new InvalidValueError(path, 'maxDepth', `arrays and objects nest deeper than maxDepth (${limits.maxDepth})`, limits.maxDepth)
      }
      if (Array.isArray(value)) {
        let size = 1 + varUintBytes(value.length)
        // An index loop: holes read as undefined and are refused rather than skipped.
        for (let i = 0; i < value.length; i++) size += storableSize(value[i], childPath(path, i), limits, depth + 1)
        return size
      }
      if (!isPlainObject(value)) throw new InvalidValueError(path, 'json', `a ${describeType(value)} is not a JSON value`)
      return 1 + storableFieldsSize(value as Record<string, unknown>, path, limits, depth)
    }
    default:
      throw new InvalidValueError(path, 'json', `${describeType(value)} is not a JSON value`)
  }
}

/**
 * The encoded size of an object's fields (count, keys and values, without the object's tag);
 * `depth` counts the object itself. Fields whose value is `undefined` are refused unless
 * `undefinedDeletes` (an lww patch, where `undefined` deletes the field).
 */
export function storableFieldsSize(
  fields: Readonly<Record<string, unknown>>,
  path: string,
  limits: ValueLimits = DEFAULT_VALUE_LIMITS,
  depth = 0,
  undefinedDeletes = false,
): number {
  if (depth >= limits.maxDepth) {
    throw new InvalidValueError(path, 'maxDepth', `arrays and objects nest deeper than maxDepth (${limits.maxDepth})`, limits.maxDepth)
  }
  const keys = Object.keys(fields)
  let size = varUintBytes(keys.length)
  for (const key of keys) {
    const at = childPath(path, key)
    size += storableKeySize(key, at, limits)
    const value = fields[key]
    if (value === undefined && undefinedDeletes) continue
    size += storableSize(value, at, limits, depth + 1)
  }
  return size
}

/** Refuses a document (or write) whose encoded size is over `maxDocumentBytes`. */
export function checkDocumentSize(size: number, path: string, limits: ValueLimits = DEFAULT_VALUE_LIMITS, what = 'the document'): void {
  if (size > limits.maxDocumentBytes) {
    throw new InvalidValueError(path, 'maxDocumentBytes', `${what} takes ${size} bytes, over maxDocumentBytes (${limits.maxDocumentBytes})`, limits.maxDocumentBytes)
  }
}

/** Throws `InvalidValueError` unless `value` is a storable document value within `limits`. */
export function assertStorableValue(value: unknown, limits: ValueLimits = DEFAULT_VALUE_LIMITS, path = '$'): number {
  const size = storableSize(value, path, limits)
  checkDocumentSize(size, path, limits)
  return size
}

/** The problem with `value`, or null when it is storable. Never throws for any input. */
export function valueProblem(value: unknown, limits: ValueLimits = DEFAULT_VALUE_LIMITS, path = '$'): InvalidValueError | null {
  try {
    assertStorableValue(value, limits, path)
    return null
  } catch (err) {
    if (err instanceof InvalidValueError) return err
    // Only a hostile object (a throwing getter or proxy) gets here.
    return new InvalidValueError(path, 'json', `the value could not be read: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/**
 * JSON values on the wire (strict document values and patch fields). Internal to core/codec.
 *
 * Layout: one tag byte, then
 *
 * ```
 * 0 null   1 false   2 true
 * 3 uint          n:uint            -- a safe integer >= 0 (not -0)
 * 4 negative int  -n:uint (>= 1)    -- a safe integer < 0
 * 5 float64       8 bytes big-endian, finite (every other number, -0 included)
 * 6 string        string
 * 7 array         count:uint value*count
 * 8 object        count:uint (key:string value)*count   -- keys unique, in the sender's order
 * ```
 *
 * Arrays and objects nest at most `MAX_JSON_DEPTH` deep, on both sides: the decoder recurses, so
 * the bound keeps a hostile frame from overflowing the stack, and the encoder refuses what the
 * decoder would reject (which also turns a cyclic value into a RangeError). The decoder only ever
 * produces JSON values: null, booleans, finite numbers, strings, arrays and plain objects (a
 * `__proto__` key is an own property, never a prototype).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import type { JsonValue } from '../strict/types.js'
import { MAX_VALUE_DEPTH } from '../values/storable-value.js'
import { DecodeError } from './errors.js'
import { checkCount, invalid, readByte, readString, readUint, writeString } from './primitives.js'

/** How many arrays/objects may nest inside each other in one JSON value. */
export const MAX_JSON_DEPTH = MAX_VALUE_DEPTH

const NULL = 0
const FALSE = 1
const TRUE = 2
const UINT = 3
const NEG_INT = 4
const FLOAT = 5
const STRING = 6
const ARRAY = 7
const OBJECT = 8

type JsonObject = { [key: string]: JsonValue }

/** Writes one JSON value; `depth` is the number of arrays/objects around it. RangeError for anything else. */
export function writeJsonValue(encoder: encoding.Encoder, what: string, value: JsonValue, depth = 0): void {
  switch (typeof value) {
    case 'boolean':
      encoding.writeUint8(encoder, value ? TRUE : FALSE)
      return
    case 'number':
      writeJsonNumber(encoder, what, value)
      return
    case 'string':
      encoding.writeUint8(encoder, STRING)
      writeString(encoder, what, value, false)
      return
    case 'object': {
      if (value === null) {
        encoding.writeUint8(encoder, NULL)
        return
      }
      if (Array.isArray(value)) {
        checkDepth(what, value, depth)
        encoding.writeUint8(encoder, ARRAY)
        encoding.writeVarUint(encoder, value.length)
        // An index loop, so holes read as undefined and are refused rather than skipped.
        for (let i = 0; i < value.length; i++) writeJsonValue(encoder, what, value[i] as JsonValue, depth + 1)
        return
      }
      encoding.writeUint8(encoder, OBJECT)
      writeJsonObject(encoder, what, value, depth)
      return
    }
  }
  invalid(`${what} (want a JSON value)`, value)
}

/**
 * Writes a plain object's fields (count, then key/value pairs) without a tag: patch fields use
 * this directly. `depth` counts the object itself (0 at the top).
 */
export function writeJsonObject(
  encoder: encoding.Encoder,
  what: string,
  value: { readonly [key: string]: JsonValue },
  depth = 0,
): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(`${what} (want a plain object)`, value)
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) invalid(`${what} (want a plain object)`, value)
  checkDepth(what, value, depth)
  const keys = Object.keys(value)
  encoding.writeVarUint(encoder, keys.length)
  for (const key of keys) {
    writeString(encoder, `${what} key`, key, false)
    writeJsonValue(encoder, what, value[key] as JsonValue, depth + 1)
  }
}

function checkDepth(what: string, value: unknown, depth: number): void {
  if (depth >= MAX_JSON_DEPTH) invalid(`${what} (nested deeper than ${MAX_JSON_DEPTH})`, value)
}

function writeJsonNumber(encoder: encoding.Encoder, what: string, n: number): void {
  if (!Number.isFinite(n)) invalid(`${what} (want a finite number)`, n)
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) {
    encoding.writeUint8(encoder, n >= 0 ? UINT : NEG_INT)
    encoding.writeVarUint(encoder, Math.abs(n))
  } else {
    encoding.writeUint8(encoder, FLOAT)
    encoding.writeFloat64(encoder, n)
  }
}

/** Reads one JSON value; DecodeError for an unknown tag, a non-finite float or nesting beyond the limit. */
export function readJsonValue(decoder: decoding.Decoder, what: string, depth = 0): JsonValue {
  const tag = readByte(decoder, what)
  switch (tag) {
    case NULL:
      return null
    case FALSE:
      return false
    case TRUE:
      return true
    case UINT:
      return readUint(decoder, what)
    case NEG_INT:
      return -readUint(decoder, what, 1)
    case FLOAT: {
      const n = decoding.readFloat64(decoder)
      if (!Number.isFinite(n)) throw new DecodeError(`${what} holds a non-finite number`)
      return n
    }
    case STRING:
      return readString(decoder, what, false)
    case ARRAY: {
      checkReadDepth(what, depth)
      const count = readUint(decoder, `${what} array length`)
      checkCount(decoder, `${what} array`, count, 1)
      const out: JsonValue[] = []
      for (let i = 0; i < count; i++) out.push(readJsonValue(decoder, what, depth + 1))
      return out
    }
    case OBJECT:
      return readJsonObject(decoder, what, depth)
    default:
      throw new DecodeError(`unknown JSON tag ${tag} in ${what}`)
  }
}

/** Reads what `writeJsonObject` wrote: a plain object whose keys are unique. */
export function readJsonObject(decoder: decoding.Decoder, what: string, depth = 0): JsonObject {
  checkReadDepth(what, depth)
  const count = readUint(decoder, `${what} field count`)
  // A key takes at least its length byte, a value its tag.
  checkCount(decoder, `${what} object`, count, 2)
  const out: JsonObject = {}
  for (let i = 0; i < count; i++) {
    const key = readString(decoder, `${what} key`, false)
    if (Object.hasOwn(out, key)) throw new DecodeError(`${what} repeats the key ${JSON.stringify(key)}`)
    const value = readJsonValue(decoder, what, depth + 1)
    // defineProperty, so a "__proto__" key becomes an own property instead of replacing the prototype.
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}

function checkReadDepth(what: string, depth: number): void {
  if (depth >= MAX_JSON_DEPTH) throw new DecodeError(`${what} is nested deeper than ${MAX_JSON_DEPTH}`)
}

/**
 * Checked reads and writes shared by the message and change codecs. Internal to core/codec.
 *
 * Every reader throws `DecodeError` for content that is out of range; lib0 itself throws plain
 * errors on truncated input, which the public entry points wrap. Every writer throws a
 * `RangeError` for a value it cannot represent faithfully: that is a programmer error, and
 * encoding it anyway would put something on the wire that does not decode to what was sent.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { DecodeError } from './errors.js'
import { readVarStringFast } from './short-string.js'

// A lone surrogate is silently replaced by U+FFFD when encoded as UTF-8, so two distinct ids
// could collapse into one on the wire; refuse such strings instead.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export function invalid(what: string, value: unknown): never {
  throw new RangeError(`meridian codec: cannot encode ${what}: ${describe(value)}`)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return Object.prototype.toString.call(value)
}

export function writeUint(encoder: encoding.Encoder, what: string, n: number, min = 0): void {
  if (!Number.isSafeInteger(n) || n < min) invalid(`${what} (want a safe integer >= ${min})`, n)
  encoding.writeVarUint(encoder, n)
}

export function checkString(what: string, s: string, nonEmpty: boolean): void {
  if (typeof s !== 'string' || LONE_SURROGATE.test(s)) invalid(`${what} (want a well-formed string)`, s)
  if (nonEmpty && s.length === 0) invalid(`${what} (want a non-empty string)`, s)
}

export function writeString(encoder: encoding.Encoder, what: string, s: string, nonEmpty: boolean): void {
  checkString(what, s, nonEmpty)
  encoding.writeVarString(encoder, s)
}

export function writeBytes(encoder: encoding.Encoder, what: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array)) invalid(`${what} (want a Uint8Array)`, bytes)
  encoding.writeVarUint8Array(encoder, bytes)
}

export function readUint(decoder: decoding.Decoder, what: string, min = 0): number {
  // lib0 only checks the range between continuation bytes, so a final byte can still overshoot.
  const n = decoding.readVarUint(decoder)
  if (!Number.isSafeInteger(n)) throw new DecodeError(`${what} is beyond the safe integer range`)
  if (n < min) throw new DecodeError(`${what} is ${n}, below ${min}`)
  return n
}

/** lib0 decodes with a fatal TextDecoder, so invalid UTF-8 throws (and is wrapped by the caller). */
export function readString(decoder: decoding.Decoder, what: string, nonEmpty: boolean): string {
  const s = readVarStringFast(decoder)
  if (nonEmpty && s.length === 0) throw new DecodeError(`${what} is empty`)
  return s
}

/** A view into the frame, not a copy; lib0 checks the length against the input before slicing. */
export function readBytes(decoder: decoding.Decoder): Uint8Array {
  return decoding.readVarUint8Array(decoder)
}

export function readByte(decoder: decoding.Decoder, what: string): number {
  // lib0's readUint8 does not bounds-check; it would return undefined past the end.
  if (decoder.pos >= decoder.arr.length) throw new DecodeError(`unexpected end of frame reading ${what}`)
  return decoding.readUint8(decoder)
}

/**
 * Guards a loop over `count` elements that each take at least `minBytesEach` bytes, so a lying
 * count fails at once instead of driving a long loop or a large allocation.
 */
export function checkCount(decoder: decoding.Decoder, what: string, count: number, minBytesEach: number): void {
  const remaining = decoder.arr.length - decoder.pos
  if (count * minBytesEach > remaining) {
    throw new DecodeError(`${what} count ${count} exceeds the ${remaining} bytes left`)
  }
}

/** Turns whatever a lib0 read threw into a DecodeError, keeping the original as `cause`. */
export function toDecodeError(err: unknown): DecodeError {
  if (err instanceof DecodeError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new DecodeError(message, { cause: err })
}

/** Refuses anything but a non-null object (the shape of every composite field). */
export function checkObject(what: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null) invalid(`${what} (want an object)`, value)
}

export function checkArray(what: string, value: unknown): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) invalid(`${what} (want an array)`, value)
}

export function writeBool(encoder: encoding.Encoder, what: string, b: boolean): void {
  if (typeof b !== 'boolean') invalid(`${what} (want a boolean)`, b)
  encoding.writeUint8(encoder, b ? 1 : 0)
}

export function readBool(decoder: decoding.Decoder, what: string): boolean {
  const b = readByte(decoder, what)
  if (b > 1) throw new DecodeError(`${what} is ${b}, not a boolean (0 or 1)`)
  return b === 1
}

/** A duration in ms: any finite number >= 0, written as a float64 so fractional clocks survive intact. */
export function writeMillis(encoder: encoding.Encoder, what: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) invalid(`${what} (want a finite number >= 0)`, ms)
  encoding.writeFloat64(encoder, ms)
}

export function readMillis(decoder: decoding.Decoder, what: string): number {
  // lib0's readFloat64 bounds-checks (subdataview) and throws on truncation.
  const ms = decoding.readFloat64(decoder)
  if (!Number.isFinite(ms) || ms < 0) throw new DecodeError(`${what} is ${ms}, not a finite number >= 0`)
  return ms
}

/**
 * `value` behind a presence byte (0 null, 1 present). `undefined` is refused: the field's type
 * says null, and an undefined would not come back as itself.
 */
export function writeNullable<T>(
  encoder: encoding.Encoder,
  what: string,
  value: T | null,
  write: (value: T) => void,
): void {
  if (value === undefined) invalid(`${what} (want a value or null)`, value)
  if (value === null) {
    encoding.writeUint8(encoder, 0)
  } else {
    encoding.writeUint8(encoder, 1)
    write(value)
  }
}

export function readNullable<T>(decoder: decoding.Decoder, what: string, read: () => T): T | null {
  return readBool(decoder, `${what} presence`) ? read() : null
}

/**
 * A sub-tag table for a string union: the wire number of each member (a `Record`, so the compiler
 * insists every member has one) and the reverse lookup. Wire numbers are part of the format: never
 * renumber or reuse one.
 */
export interface TagTable<T extends string> {
  readonly code: Readonly<Record<T, number>>
  readonly byCode: readonly (T | undefined)[]
}

export function tagTable<T extends string>(code: Readonly<Record<T, number>>): TagTable<T> {
  const byCode: (T | undefined)[] = []
  for (const [name, n] of Object.entries(code) as [T, number][]) {
    if (byCode[n] !== undefined) throw new Error(`tag ${n} is used twice`)
    byCode[n] = name
  }
  return { code, byCode }
}

export function writeTag<T extends string>(encoder: encoding.Encoder, what: string, table: TagTable<T>, value: T): void {
  const n = typeof value === 'string' && Object.hasOwn(table.code, value) ? table.code[value] : undefined
  if (n === undefined) invalid(what, value)
  encoding.writeUint8(encoder, n)
}

export function readTag<T extends string>(decoder: decoding.Decoder, what: string, table: TagTable<T>): T {
  const n = readByte(decoder, what)
  const value = table.byCode[n]
  if (value === undefined) throw new DecodeError(`unknown ${what} ${n}`)
  return value
}

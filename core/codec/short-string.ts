import * as decoding from 'lib0/decoding'

/** Longest string the ASCII fast path decodes by hand; longer ones go to TextDecoder at once. */
const FAST_PATH_MAX_BYTES = 64

/**
 * `lib0/decoding.readVarString`, faster for the short ASCII strings that fill stamps and keys (node
 * ids, origins, field names, document ids). A TextDecoder call costs about 0.5 µs however short the
 * string; a cold start of 10,000 stored documents decodes ~120,000 of them (61 ms of 240 in Chromium).
 * ASCII bytes are valid UTF-8 that decodes to the same code units, so the result is the same string;
 * anything else goes to lib0's fatal TextDecoder, which refuses invalid UTF-8 as before.
 */
export function readVarStringFast(decoder: decoding.Decoder): string {
  const lengthAt = decoder.pos
  const length = decoding.readVarUint(decoder)
  const bytes = decoder.arr
  const start = decoder.pos
  const end = start + length
  if (length <= FAST_PATH_MAX_BYTES && end <= bytes.length) {
    // One pass: ASCII only, and a hash for the cache (FNV-1a).
    let hash = 0x811c9dc5
    let i = start
    for (; i < end; i++) {
      const byte = bytes[i] as number
      if (byte >= 0x80) break
      hash = Math.imul(hash ^ byte, 0x01000193)
    }
    if (i === end) {
      decoder.pos = end
      const slot = (hash >>> 0) & (CACHE_SLOTS - 1)
      const cached = cache[slot]
      if (cached !== undefined && sameAscii(cached, bytes, start, length)) return cached
      // One string, not one per character: a cold start decodes ~120,000 of these, and the garbage
      // of building them a character at a time cost more than the decoding.
      const text = String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[])
      cache[slot] = text
      return text
    }
  }
  // Back to the length prefix: lib0 checks the bounds and decodes (and validates) the rest.
  decoder.pos = lengthAt
  return decoding.readVarString(decoder)
}

/**
 * The strings decoded last, by hash: node ids, origins and field names repeat in every stamp and
 * register, and returning the same string again spares the allocation (and the collector). A cache
 * hit is checked byte for byte, so the result is exactly what decoding would give.
 */
const CACHE_SLOTS = 1024
const cache: (string | undefined)[] = new Array<string | undefined>(CACHE_SLOTS)

function sameAscii(text: string, bytes: Uint8Array, start: number, length: number): boolean {
  if (text.length !== length) return false
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) !== bytes[start + i]) return false
  return true
}

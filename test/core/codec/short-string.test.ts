import fc from 'fast-check'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { readVarStringFast } from '../../../core/codec/short-string.js'

/** What lib0 does with the same bytes: the string and where it stopped, or that it threw. */
function both(bytes: Uint8Array): { lib0: unknown; fast: unknown } {
  const run = (read: (d: decoding.Decoder) => string): unknown => {
    const decoder = decoding.createDecoder(bytes)
    try {
      return { text: read(decoder), pos: decoder.pos }
    } catch {
      return 'threw'
    }
  }
  return { lib0: run(decoding.readVarString), fast: run(readVarStringFast) }
}

describe('readVarStringFast', () => {
  it('reads what lib0 wrote, exactly, for any string (ASCII, UTF-8, long) followed by more bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ maxLength: 100 }), fc.string({ minLength: 60, maxLength: 70 })), fc.uint8Array({ maxLength: 4 }), (text, rest) => {
        const encoder = encoding.createEncoder()
        encoding.writeVarString(encoder, text)
        encoding.writeUint8Array(encoder, rest)
        const { lib0, fast } = both(encoding.toUint8Array(encoder))
        expect(fast).toEqual(lib0)
      }),
    )
  })

  it('agrees with lib0 on arbitrary bytes: invalid UTF-8 and cut-off strings throw in both', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), fc.uint8Array({ maxLength: 90 }), (length, body) => {
        const encoder = encoding.createEncoder()
        encoding.writeVarUint(encoder, length)
        encoding.writeUint8Array(encoder, body)
        const { lib0, fast } = both(encoding.toUint8Array(encoder))
        expect(fast).toEqual(lib0)
      }),
    )
  })
})

import fc from 'fast-check'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import {
  DecodeError,
  MessageType,
  authoredChange,
  decodeChange,
  decodeMessage,
  encodeChange,
  encodeMessage,
  readChange,
  writeChange,
  type ChangeBatchMessage,
} from '../../../core/codec/index.js'
import type { Change } from '../../../core/types.js'
import { arbChange, arbId, arbSeq } from '../../helpers/arbitraries.js'
import { bytes, toPlain } from './plain.js'

const RUNS = 300

function change(overrides: Partial<Change> = {}): Change {
  return {
    origin: 'eu-1',
    seq: 1,
    hlc: { wallMs: 1_700_000_000_000, counter: 0, node: 'eu-1' },
    collection: 'todos',
    docId: 'a',
    docType: 'yjs',
    payload: bytes(1, 2, 3),
    ...overrides,
  }
}

/** True when `view` is a window onto `frame`'s memory rather than a copy. */
function isViewInto(view: Uint8Array, frame: Uint8Array): boolean {
  return (
    view.buffer === frame.buffer &&
    view.byteOffset >= frame.byteOffset &&
    view.byteOffset + view.byteLength <= frame.byteOffset + frame.byteLength
  )
}

describe('change codec', () => {
  it('[PR1] a change round-trips through encodeChange/decodeChange', () => {
    fc.assert(
      fc.property(arbChange, (c) => {
        expect(toPlain(decodeChange(encodeChange(c)))).toEqual(toPlain(c))
      }),
      { numRuns: RUNS },
    )
  })

  it('[PF1] a client change logged under a member origin: the spliced bytes are exactly its encoding, and decode to it', () => {
    fc.assert(
      fc.property(arbChange, arbId, arbSeq, (c, origin, seq) => {
        const expected: Change = { ...c, origin, seq, author: { origin: c.origin, seq: c.seq } }
        const plainBytes = encodeChange({ ...expected })
        // From the decoder (spliced, when the client's change names no author) and from a plain object.
        for (const source of [decodeChange(encodeChange(c)), { ...c }]) {
          const authored = authoredChange(source, origin, seq)
          expect(toPlain(authored)).toEqual(toPlain(expected))
          expect(encodeChange(authored)).toEqual(plainBytes)
          expect(toPlain(decodeChange(encodeChange(authored)))).toEqual(toPlain(expected))
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('[PR1] writeChange/readChange compose inside a larger encoding', () => {
    fc.assert(
      fc.property(fc.array(arbChange, { maxLength: 4 }), (changes) => {
        const encoder = encoding.createEncoder()
        encoding.writeVarUint(encoder, changes.length)
        for (const c of changes) writeChange(encoder, c)
        encoding.writeVarString(encoder, 'end')
        const decoder = decoding.createDecoder(encoding.toUint8Array(encoder))
        const count = decoding.readVarUint(decoder)
        const read = Array.from({ length: count }, () => readChange(decoder))
        expect(decoding.readVarString(decoder)).toBe('end')
        expect(toPlain(read)).toEqual(toPlain(changes))
      }),
      { numRuns: 100 },
    )
  })

  it('[PR1] decodeChange throws only DecodeError, for truncation, trailing bytes and garbage', () => {
    const encoded = encodeChange(change())
    for (let length = 0; length < encoded.length; length++) {
      expect(() => decodeChange(encoded.subarray(0, length))).toThrow(DecodeError)
    }
    expect(() => decodeChange(Uint8Array.from([...encoded, 0]))).toThrow(/trailing/)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (input) => {
        try {
          decodeChange(input)
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('[PR1] readChange wraps lib0 errors in DecodeError', () => {
    expect(() => readChange(decoding.createDecoder(bytes(4, 0x61)))).toThrow(DecodeError)
  })
})

describe('[PF1] encode once, forward bytes', () => {
  it('[PF1] encodeChange returns the very same buffer for the same change', () => {
    const c = change()
    const first = encodeChange(c)
    expect(encodeChange(c)).toBe(first)
    // An equal but distinct object is encoded separately, to equal bytes.
    const twin = change()
    expect(encodeChange(twin)).not.toBe(first)
    expect(encodeChange(twin)).toEqual(first)
  })

  it('[PF1] writeChange copies the cached encoding', () => {
    const c = change()
    const encoder = encoding.createEncoder()
    writeChange(encoder, c)
    expect(encoding.toUint8Array(encoder)).toEqual(encodeChange(c))
  })

  it('[PF1] a batch frame is the concatenation of the cached change encodings', () => {
    const a = change({ seq: 1 })
    const b = change({ seq: 2, payload: new Uint8Array(200).fill(7) })
    const ea = encodeChange(a)
    const eb = encodeChange(b)
    const frame = encodeMessage({ type: MessageType.ChangeBatch, changes: [a, b] })
    // type, count, then (varUint length, bytes) per change; b's length needs two varUint bytes.
    expect(Array.from(frame)).toEqual([MessageType.ChangeBatch, 2, ea.length, ...ea, 0x80 | (eb.length & 0x7f), eb.length >> 7, ...eb])
  })

  it('[PF1] decoded changes carry their exact bytes from the frame, so forwarding never re-encodes', () => {
    fc.assert(
      fc.property(fc.array(arbChange, { minLength: 1, maxLength: 5 }), (changes) => {
        const frame = encodeMessage({ type: MessageType.ChangeBatch, changes })
        const received = decodeMessage(frame) as ChangeBatchMessage
        received.changes.forEach((c, i) => {
          const cached = encodeChange(c)
          // A view into the received frame: the cache was filled by decoding, not by a new encode.
          expect(isViewInto(cached, frame)).toBe(true)
          expect(cached).toEqual(encodeChange(changes[i]!))
          expect(encodeChange(c)).toBe(cached)
        })
        // Forwarding the batch as-is reproduces the received frame byte for byte.
        expect(encodeMessage({ type: MessageType.ChangeBatch, changes: received.changes })).toEqual(frame)
      }),
      { numRuns: RUNS },
    )
  })

  it('[PF1] forwarded changes can be regrouped with local ones without re-encoding', () => {
    const remote = [change({ origin: 'us-1', seq: 1 }), change({ origin: 'us-1', seq: 2 })]
    const frame = encodeMessage({ type: MessageType.ChangeBatch, changes: remote })
    const received = (decodeMessage(frame) as ChangeBatchMessage).changes
    const local = change({ origin: 'eu-1', seq: 9 })
    const out = encodeMessage({ type: MessageType.ChangeBatch, changes: [received[1]!, local, received[0]!] })
    const back = (decodeMessage(out) as ChangeBatchMessage).changes
    expect(toPlain(back)).toEqual(toPlain([remote[1], local, remote[0]]))
    expect(isViewInto(encodeChange(received[0]!), frame)).toBe(true)
    expect(isViewInto(encodeChange(received[1]!), frame)).toBe(true)
  })

  it('[PF1] a change decoded with decodeChange (e.g. from storage) has those very bytes as its encoding', () => {
    const stored = Uint8Array.from(encodeChange(change({ seq: 42 })))
    const c = decodeChange(stored)
    expect(encodeChange(c)).toBe(stored)
  })

  it('[PF1] readChange registers the exact bytes it consumed', () => {
    const a = change({ seq: 1 })
    const b = change({ seq: 2 })
    const encoder = encoding.createEncoder()
    writeChange(encoder, a)
    writeChange(encoder, b)
    const buffer = encoding.toUint8Array(encoder)
    const decoder = decoding.createDecoder(buffer)
    readChange(decoder)
    const second = readChange(decoder)
    const cached = encodeChange(second)
    expect(isViewInto(cached, buffer)).toBe(true)
    expect(cached.byteOffset - buffer.byteOffset).toBe(encodeChange(a).length)
    expect(cached).toEqual(encodeChange(b))
  })

  it('[PF1] a payload is a view into the frame, not a copy', () => {
    const frame = encodeMessage({ type: MessageType.ChangeBatch, changes: [change({ payload: new Uint8Array(1000) })] })
    const [c] = (decodeMessage(frame) as ChangeBatchMessage).changes
    expect(isViewInto(c!.payload, frame)).toBe(true)
  })
})

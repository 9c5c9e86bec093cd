import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage } from '../../../core/codec/index.js'
import { MessageType } from '../../../core/codec/messages.js'
import type { MeshNode } from '../../../core/mesh/index.js'
import { MeshHarness } from '../../helpers/mesh-harness.js'

/**
 * A node is the only writer of its own origin, so a peer's word that it holds more of that origin than
 * the node issued is false, and must not move the node's own head: 2^53 − 1 there would make every
 * later own seq unencodable (docs/fuzzing.md, "Findings": the mesh fuzz target's crash).
 */
const MAX_SEQ = Number.MAX_SAFE_INTEGER
const MEMBERS = new Set(['r1', 'r2'])
const HLC = { wallMs: 1_700_000_000_000, counter: 1, node: 'r2' }

/** r1 linked to region r2 and client c1, handshakes done. */
function region(): { h: MeshHarness; r1: MeshNode; c1: MeshNode } {
  const h = new MeshHarness()
  const r1 = h.add('r1', { ackGossipMembers: MEMBERS })
  h.add('r2', { ackGossipMembers: MEMBERS })
  const c1 = h.add('c1', { ownChangesOnly: true, sendsStateTransfers: false })
  h.link('r1', 'r2')
  h.link('c1', 'r1')
  h.pump()
  return { h, r1, c1 }
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))

describe('a peer claim about this node\'s own origin beyond what it issued', () => {
  it('replay of the fuzz finding: StateCovered {r1: 2^53-1} from r2, then a client write, logs the write as r1:1', () => {
    const { h, r1 } = region()
    h.write('c1')
    const clientFrame = h.inFlight.find((f) => f.from === 'c1' && decodeMessage(f.bytes).type === MessageType.ChangeBatch)
    expect(clientFrame).toBeDefined()
    h.inFlight.length = 0
    // The frames of docs/fuzzing.md: the claim (protocol 7 adds the empty refusal list), then c1's change c1:1.
    const claim = decodeMessage(hex('12000001027231ffffffffffffff0f80d095ffbc31000272320000'))
    expect(claim).toMatchObject({ type: MessageType.StateCovered, documents: 0, vector: new Map([['r1', MAX_SEQ]]) })
    r1.receive('r2', claim)
    expect(r1.vector.get('r1') ?? 0).toBe(0)
    expect(() => r1.receive('c1', decodeMessage(hex('0401150263310180d095ffbc310002633101630164000100')))).not.toThrow()
    expect(r1.vector.get('r1')).toBe(1)
    expect(r1.changeAt('r1', 1)?.author).toEqual({ origin: 'c1', seq: 1 })
    // The recorded honest frame does the same.
    expect(() => r1.receive('c1', decodeMessage((clientFrame as { bytes: Uint8Array }).bytes))).not.toThrow()
  })

  it('the rest of the claimed vector is still believed; the own entry is ignored whatever its size', () => {
    const { h, r1 } = region()
    h.write('r1')
    h.pump()
    for (const seq of [2, 1_000, MAX_SEQ]) {
      r1.receive('r2', { type: MessageType.StateCovered, transfer: 0, documents: 0, vector: new Map([['r1', seq], ['r2', 4]]), hlc: HLC, authors: [], refusals: [] })
      expect(r1.vector.get('r1')).toBe(1)
      expect(r1.vector.get('r2')).toBe(4)
    }
    // Another origin at the codec's largest seq harms nothing: this node never numbers r2's changes.
    r1.receive('r2', { type: MessageType.StateCovered, transfer: 0, documents: 0, vector: new Map([['r2', MAX_SEQ]]), hlc: HLC, authors: [], refusals: [] })
    expect(r1.vector.get('r2')).toBe(MAX_SEQ)
    expect(() => encodeMessage({ type: MessageType.VersionVector, vector: r1.vector })).not.toThrow()
    h.write('c1')
    expect(() => h.pump()).not.toThrow()
    expect(r1.vector.get('r1')).toBe(2)
    expect(h.write('r1').seq).toBe(3)
  })

  it('a client ignores a Skipped run over its own origin: its next write still follows its last', () => {
    const { h, r1, c1 } = region()
    h.write('c1')
    h.pump()
    for (const to of [5, MAX_SEQ]) {
      c1.receive('r1', { type: MessageType.Skipped, ranges: [{ origin: 'c1', from: 1, to }], hlc: HLC })
      expect(c1.vector.get('c1')).toBe(1)
    }
    // A run that starts beyond the head waits in no gap buffer for a change that never comes.
    c1.receive('r1', { type: MessageType.Skipped, ranges: [{ origin: 'c1', from: 3, to: MAX_SEQ }], hlc: HLC })
    expect(c1.hasBuffered).toBe(false)
    expect(h.write('c1').seq).toBe(2)
    h.pump()
    expect(r1.changeAt('r1', 2)?.author).toEqual({ origin: 'c1', seq: 2 })
  })

  it('a client ignores a StateCovered claim about its own origin too', () => {
    const { h, c1 } = region()
    h.write('c1')
    h.pump()
    c1.receive('r1', { type: MessageType.StateCovered, transfer: 0, documents: 0, vector: new Map([['c1', MAX_SEQ], ['r1', 1]]), hlc: HLC, authors: [], refusals: [] })
    expect(c1.vector.get('c1')).toBe(1)
    expect(h.write('c1').seq).toBe(2)
    expect(() => h.pump()).not.toThrow()
  })
})

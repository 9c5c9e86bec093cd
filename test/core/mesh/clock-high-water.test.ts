import { describe, expect, it } from 'vitest'
import { compareHlc, HlcClock } from '../../../core/clock/hlc.js'
import { createReplica, lwwPatchPayload, type LwwReplica } from '../../../core/crdt/index.js'
import { MeshNode } from '../../../core/mesh/index.js'

/**
 * [HLC2] across a restart for what no stored document carries: a client's clock moves past the
 * timestamps of runs its region skipped (partial replication), and its store keeps only the covered
 * vector and the documents. The clock's high-water mark, stored with the vector and handed back to
 * `restoreDocuments`, keeps the next write after them (simulator seed lww:chain:1621275032).
 */
function node(wallMs: number): MeshNode {
  return new MeshNode({
    id: 'c1',
    clock: new HlcClock({ node: 'c1', wallClock: () => wallMs }),
    random: () => 0.5,
    createReplica,
    send: () => undefined,
  })
}

describe('[HLC2] the clock high-water mark survives a restart', () => {
  it('a node restored with the high-water mark writes after it, even with its wall clock far behind', () => {
    const before = node(1_700_000_000_500)
    const seen = { wallMs: 1_700_000_000_900, counter: 4, node: 's1' }
    // As a Skipped run does: the clock moves past a timestamp that no document will carry.
    before.restoreDocuments([], new Map([['s1', 3]]), [], seen)
    const highWater = before.clockHighWater
    expect([highWater.wallMs, highWater.counter]).toEqual([seen.wallMs, seen.counter])

    const after = node(1_700_000_000_000)
    after.restoreDocuments([], new Map([['s1', 3]]), [], highWater)
    after.finishRestore()
    const payload = lwwPatchPayload(after.replica('notes', 'd1', 'lww') as LwwReplica, { title: 'x' })
    const change = after.commit('notes', 'd1', 'lww', payload)
    expect(compareHlc(change.hlc, seen)).toBeGreaterThan(0)

    // Without it, the same restart writes before what it had seen.
    const forgetful = node(1_700_000_000_000)
    forgetful.restoreDocuments([], new Map([['s1', 3]]), [])
    forgetful.finishRestore()
    const early = forgetful.commit('notes', 'd1', 'lww', lwwPatchPayload(forgetful.replica('notes', 'd1', 'lww') as LwwReplica, { title: 'y' }))
    expect(compareHlc(early.hlc, seen)).toBeLessThan(0)
  })
})

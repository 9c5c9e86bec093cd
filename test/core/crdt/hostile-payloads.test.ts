/**
 * Yjs and Automerge payloads are bytes from the network (a client's change over /sync, forwarded by
 * every region). docs/crdt.md: a payload its type cannot read keeps its place in the log and is not
 * applied. Here: real malformed bytes are refused with a CrdtPayloadError and nothing else, the
 * replica (and every other replica in the process) keeps working, and payloads built to make the
 * libraries do far more work than their size — or take the Automerge module down — are either
 * refused up front or applied at a cost proportional to their size.
 */
import * as Automerge from '@automerge/automerge'
import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { AutomergeReplica, automergeEdit } from '../../../core/crdt/automerge.js'
import { CrdtPayloadError } from '../../../core/crdt/errors.js'
import { YjsReplica, yjsEdit } from '../../../core/crdt/yjs.js'
import type { Change, DocType } from '../../../core/types.js'
import { COLLECTION, DOC_ID, hlc, seededRandom } from './helpers.js'

function change(docType: DocType, seq: number, payload: Uint8Array, origin = 'hostile'): Change {
  return { origin, seq, hlc: hlc(seq, 0, origin), collection: COLLECTION, docId: DOC_ID, docType, payload }
}

function yjs(seed = 1): YjsReplica {
  return new YjsReplica({ collection: COLLECTION, docId: DOC_ID, random: seededRandom(seed) })
}

function automerge(origin = 'r', seed = 1): AutomergeReplica {
  return new AutomergeReplica({ collection: COLLECTION, docId: DOC_ID, localOrigin: origin, random: seededRandom(seed) })
}

/** Applies `payload`; a refusal must be a CrdtPayloadError, whatever the bytes. */
function applyOrRefuse(replica: YjsReplica | AutomergeReplica, payload: Uint8Array, seq = 1): 'applied' | 'refused' {
  try {
    replica.apply(change(replica.docType, seq, payload))
    return 'applied'
  } catch (err) {
    expect(err).toBeInstanceOf(CrdtPayloadError)
    return 'refused'
  }
}

function mutations(): fc.Arbitrary<{ at: number; byte: number }[]> {
  return fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 })
}

function mutate(bytes: Uint8Array, edits: { at: number; byte: number }[], cut: number | null): Uint8Array {
  const out = Uint8Array.from(bytes)
  for (const { at, byte } of edits) out[at % out.length] = byte
  return cut === null ? out : out.subarray(0, cut % (out.length + 1))
}

// ------------------------------------------------------------------------------------------ Yjs

/** A real Yjs update of a map and a text, and a second one that builds on it. */
function yjsUpdates(): [Uint8Array, Uint8Array] {
  const writer = yjs(9)
  const first = yjsEdit(writer, (doc) => {
    doc.getMap('root').set('title', 'hello')
    doc.getMap('root').set('tags', ['a', 'b'])
    doc.getText('text').insert(0, 'héllo 😀')
  })
  const second = yjsEdit(writer, (doc) => {
    doc.getText('text').delete(0, 2)
    doc.getMap('root').set('n', 1)
  })
  return [first, second]
}

/**
 * An update of `structs` struct sections announced for client 1 and nothing after: Yjs 13's
 * `readClientsStructRefs` allocates `new Array(structs)` before reading a single struct.
 */
function yjsClaimingStructs(structs: number): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1) // one client section
  encoding.writeVarUint(e, structs) // "this many structs follow"
  encoding.writeVarUint(e, 1) // client
  encoding.writeVarUint(e, 0) // clock
  return encoding.toUint8Array(e)
}

/** No structs; a delete set for `client` of `ranges` copies of [0, len). */
function yjsOverlappingDeletes(client: number, ranges: number, len: number): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, ranges)
  for (let i = 0; i < ranges; i++) {
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, len)
  }
  return encoding.toUint8Array(e)
}

describe('[IN2] hostile Yjs payloads', () => {
  it('refuses real malformed updates with a CrdtPayloadError and keeps applying good ones', () => {
    const [first, second] = yjsUpdates()
    const malformed = [
      new Uint8Array([]),
      new Uint8Array([1]),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      first.subarray(0, Math.floor(first.length / 2)),
      Buffer.from('d9fffcee8365f6a2a70df78a11559532bc1ed29eb54ff1f4a9606e94c1', 'hex'), // found by fuzzing
      Uint8Array.from([...first.subarray(0, 12), 0xc3, 0x28, 0xa0, 0xa1]), // invalid UTF-8 where a string is
      yjsClaimingStructs(33_554_431),
    ]
    const replica = yjs()
    for (const payload of malformed) expect(applyOrRefuse(replica, payload)).toBe('refused')
    replica.apply(change('yjs', 1, first, 'w'))
    replica.apply(change('yjs', 2, second, 'w'))
    expect(replica.view()).toEqual({ root: { n: 1, tags: ['a', 'b'], title: 'hello' }, text: 'llo 😀' })
  })

  it('any corruption of a real update is applied or refused with a CrdtPayloadError; the replica stays usable', () => {
    const [first, second] = yjsUpdates()
    fc.assert(
      fc.property(fc.boolean(), mutations(), fc.option(fc.nat(), { nil: null }), (useSecond, edits, cut) => {
        const replica = yjs(2)
        applyOrRefuse(replica, mutate(useSecond ? second : first, edits, cut))
        yjsEdit(replica, (doc) => doc.getMap('root').set('after', true))
        expect((replica.view().root as Record<string, unknown>).after).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('refuses an update that announces more structs than it has bytes, before Yjs allocates for them', () => {
    // Before: 20 updates of 8 bytes each took ~17 s (an array of 33 million slots each).
    const payload = yjsClaimingStructs(33_554_431)
    expect(payload.length).toBeLessThan(10)
    const replica = yjs()
    const started = performance.now()
    for (let i = 0; i < 20; i++) expect(applyOrRefuse(replica, payload)).toBe('refused')
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  it('refuses an update whose delete set repeats overlapping ranges (quadratic in Yjs), not ordinary deletes', () => {
    // A document of 10 000 items (one struct each: distinct map keys).
    const source = new Y.Doc()
    source.clientID = 42
    source.transact(() => {
      for (let i = 0; i < 10_000; i++) source.getMap('root').set(`k${i}`, i)
    })
    const replica = yjs()
    replica.apply(change('yjs', 1, Y.encodeStateAsUpdate(source), 'w'))
    // 10 000 copies of "delete everything of client 42": 30 KB that made Yjs walk 10^8 structs (~3 s).
    const hostile = yjsOverlappingDeletes(42, 10_000, 10_000)
    const started = performance.now()
    expect(applyOrRefuse(replica, hostile, 2)).toBe('refused')
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(Object.keys(replica.view().root)).toHaveLength(10_000)
    // One such range (what an honest writer sends) deletes the lot.
    replica.apply(change('yjs', 3, yjsOverlappingDeletes(42, 1, 10_000), 'w'))
    expect(replica.view().root).toEqual({})
  })

  it('applies a deeply nested update in time proportional to its size, without a stack overflow escaping', () => {
    const source = new Y.Doc()
    const updates: Uint8Array[] = []
    source.on('update', (update: Uint8Array) => updates.push(update))
    source.transact(() => {
      let map = source.getMap('root')
      for (let i = 0; i < 20_000; i++) {
        const inner = new Y.Map()
        map.set('c', inner)
        map = inner
      }
    })
    const replica = yjs()
    const started = performance.now()
    expect(applyOrRefuse(replica, updates[0] as Uint8Array)).toBe('applied')
    expect(performance.now() - started).toBeLessThan(5_000)
    // The view of 20 000 levels does not fit JavaScript's stack: a RangeError for this document only.
    expect(() => replica.view()).toThrow(RangeError)
    const other = yjs(3)
    yjsEdit(other, (doc) => doc.getMap('root').set('fine', 1))
    expect(other.view().root).toEqual({ fine: 1 })
  })
})

// ------------------------------------------------------------------------------------ Automerge

function automergeChanges(): [Uint8Array, Uint8Array] {
  const writer = automerge('w', 9)
  const first = automergeEdit<Record<string, unknown>>(writer, (d) => {
    d.title = 'hello'
    d.items = [{ n: 1 }, 'x']
  })
  const second = automergeEdit<Record<string, unknown>>(writer, (d) => {
    ;(d.items as unknown[]).push('y')
  })
  return [first, second]
}

/** One change creating `depth` maps, each inside the previous one, written through the backend API. */
function automergeNested(depth: number): Uint8Array {
  const backend = Automerge.getBackend(Automerge.init<Record<string, unknown>>({ actor: 'aa' }))
  let obj = '_root'
  for (let i = 0; i < depth; i++) obj = backend.putObject(obj, 'c', {})
  backend.commit('', 0)
  const payload = backend.getLastLocalChange()
  if (payload === null) throw new Error('no change')
  return payload
}

describe('[IN2] hostile Automerge payloads', () => {
  it('refuses real malformed changes with a CrdtPayloadError and keeps applying good ones', () => {
    const [first, second] = automergeChanges()
    const malformed = [
      new Uint8Array([]),
      new Uint8Array([0x85, 0x6f, 0x4a, 0x83]), // the magic bytes alone
      first.subarray(0, first.length - 3),
      Uint8Array.from(first.subarray(0, 8)).fill(0xff, 4),
      new Uint8Array(64).fill(0x42),
    ]
    const replica = automerge()
    for (const payload of malformed) expect(applyOrRefuse(replica, payload)).toBe('refused')
    replica.apply(change('automerge', 1, first, 'w'))
    replica.apply(change('automerge', 2, second, 'w'))
    expect(replica.view()).toEqual({ items: [{ n: 1 }, 'x', 'y'], title: 'hello' })
  })

  it('any corruption of a real change is applied or refused with a CrdtPayloadError; every replica stays usable', () => {
    const [first, second] = automergeChanges()
    const bystander = automerge('b', 4)
    let n = 0
    fc.assert(
      fc.property(fc.boolean(), mutations(), fc.option(fc.nat(), { nil: null }), (useSecond, edits, cut) => {
        const replica = automerge('r', 2)
        replica.apply(change('automerge', 1, first, 'w'))
        applyOrRefuse(replica, mutate(useSecond ? second : first, edits, cut), 2)
        automergeEdit<Record<string, unknown>>(replica, (d) => {
          d.after = true
        })
        expect(replica.view().after).toBe(true)
        n += 1
        automergeEdit<Record<string, unknown>>(bystander, (d) => {
          d.n = n
        })
        expect(bystander.view().n).toBe(n)
      }),
      { numRuns: 300 },
    )
  })

  it('applies a change nested 10 000 deep quickly, and the Automerge module survives it', () => {
    // Before: Automerge.applyChanges computed a patch per nested map with its whole path (quadratic):
    // 20 KB took ~45 s, then the wasm module trapped ("unreachable") and every Automerge document of
    // the process failed from then on with "Module terminated".
    const payload = automergeNested(10_000)
    expect(payload.length).toBeLessThan(25_000)
    const replica = automerge()
    const started = performance.now()
    expect(applyOrRefuse(replica, payload)).toBe('applied')
    expect(performance.now() - started).toBeLessThan(5_000)
    // Other documents, and this one, go on working.
    const other = automerge('o', 5)
    automergeEdit<Record<string, unknown>>(other, (d) => {
      d.ok = true
    })
    expect(other.view()).toEqual({ ok: true })
    automergeEdit<Record<string, unknown>>(replica, (d) => {
      d.top = 1
    })
    expect(Automerge.getBackend(replica.doc).get('_root', 'top')).toBe(1)
  })

  it('a writer that edits after receiving remote changes sends changes every replica applies', () => {
    const [first, second] = automergeChanges()
    const local = automerge('l', 6)
    local.apply(change('automerge', 1, first, 'w'))
    const mine = automergeEdit<Record<string, unknown>>(local, (d) => {
      d.title = 'changed'
    })
    local.apply(change('automerge', 2, second, 'w'))
    expect(local.view()).toEqual({ items: [{ n: 1 }, 'x', 'y'], title: 'changed' })
    expect(local.doc.title).toBe('changed')
    expect((local.doc.items as unknown[]).length).toBe(3)
    const reader = automerge('x', 7)
    for (const [seq, p, origin] of [[1, mine, 'l'], [1, first, 'w'], [2, second, 'w']] as const) reader.apply(change('automerge', seq, p, origin))
    expect(reader.view()).toEqual(local.view())
  })
})

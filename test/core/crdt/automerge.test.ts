import * as Automerge from '@automerge/automerge'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ACTOR_INSTANCE_BYTES, AutomergeReplica, actorIdForOrigin, automergeEdit } from '../../../core/crdt/automerge.js'
import { CrdtPayloadError } from '../../../core/crdt/errors.js'
import { COLLECTION, DOC_ID, assertConverges, hlc, historyArb, makeChange, seededRandom } from './helpers.js'

type Root = Record<string, unknown>

type AutomergeEditOp =
  | { readonly op: 'set'; readonly key: string; readonly value: unknown }
  | { readonly op: 'del'; readonly key: string }
  | { readonly op: 'listInsert'; readonly pos: number; readonly value: number }
  | { readonly op: 'listDelete'; readonly pos: number }
  | { readonly op: 'splice'; readonly pos: number; readonly remove: number; readonly text: string }
  | { readonly op: 'count'; readonly by: number }

const keyArb = fc.constantFrom('a', 'b', 'c')
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom('x', 'y'),
  fc.boolean(),
  fc.constant(null),
  fc.record({ n: fc.integer({ min: 0, max: 3 }) }, { noNullPrototype: true }),
)
const editArb: fc.Arbitrary<AutomergeEditOp> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: keyArb, value: valueArb }),
  fc.record({ op: fc.constant('del' as const), key: keyArb }),
  fc.record({ op: fc.constant('listInsert' as const), pos: fc.nat(10), value: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ op: fc.constant('listDelete' as const), pos: fc.nat(10) }),
  fc.record({
    op: fc.constant('splice' as const),
    pos: fc.nat(10),
    remove: fc.integer({ min: 0, max: 2 }),
    text: fc.constantFrom('', 'a', 'bc'),
  }),
  fc.record({ op: fc.constant('count' as const), by: fc.integer({ min: -3, max: 3 }) }),
)

function applyEdit(d: Root, edit: AutomergeEditOp): void {
  switch (edit.op) {
    case 'set':
      d[edit.key] = edit.value
      return
    case 'del':
      if (edit.key in d) delete d[edit.key]
      return
    case 'listInsert': {
      if (!Array.isArray(d.list)) d.list = []
      const list = d.list as number[]
      list.splice(edit.pos % (list.length + 1), 0, edit.value)
      return
    }
    case 'listDelete': {
      const list = d.list
      if (Array.isArray(list) && list.length > 0) list.splice(edit.pos % list.length, 1)
      return
    }
    case 'splice': {
      if (typeof d.text !== 'string') d.text = ''
      const length = (d.text as string).length
      const at = edit.pos % (length + 1)
      Automerge.splice(d, ['text'], at, Math.min(edit.remove, length - at), edit.text)
      return
    }
    case 'count':
      if (d.count instanceof Automerge.Counter) d.count.increment(edit.by)
      else d.count = new Automerge.Counter(edit.by)
  }
}

function writerEdit(replica: AutomergeReplica, edit: AutomergeEditOp): Uint8Array {
  return automergeEdit<Root>(replica, (d) => applyEdit(d, edit))
}

function replica(origin = 'w', seed = 1): AutomergeReplica {
  return new AutomergeReplica({ collection: COLLECTION, docId: DOC_ID, localOrigin: origin, random: seededRandom(seed) })
}

function change(origin: string, seq: number, payload: Uint8Array) {
  return makeChange({ origin, seq, hlc: hlc(seq, 0, origin), payload, docType: 'automerge' })
}

describe('automerge documents', () => {
  it('[CV1] [CV3] automerge replicas converge whatever the delivery order, duplication or history', () => {
    fc.assert(
      fc.property(historyArb(editArb), (history) => {
        assertConverges('automerge', history, writerEdit)
      }),
      { numRuns: 100 },
    )
  })

  it('[CV1] a change arriving before its dependency is queued, then applied when the dependency comes', () => {
    const writer = replica()
    const first = automergeEdit<Root>(writer, (d) => {
      d.items = ['a']
    })
    const second = automergeEdit<Root>(writer, (d) => {
      ;(d.items as string[]).push('b')
    })
    const reader = replica('r')
    expect(reader.apply(change('w', 2, second))).toEqual({ changed: false, conflicts: [] })
    expect(reader.view()).toEqual({})
    expect(reader.apply(change('w', 1, first)).changed).toBe(true)
    expect(reader.view()).toEqual({ items: ['a', 'b'] })
  })

  it('[CV3] duplicates are ignored, including the writer applying its own change', () => {
    const writer = replica()
    const payload = automergeEdit<Root>(writer, (d) => {
      d.x = 1
    })
    expect(writer.apply(change('w', 1, payload))).toEqual({ changed: false, conflicts: [] })
    const reader = replica('r')
    expect(reader.apply(change('w', 1, payload)).changed).toBe(true)
    expect(reader.apply(change('w', 1, payload))).toEqual({ changed: false, conflicts: [] })
    expect(reader.view()).toEqual({ x: 1 })
  })

  it('derives the actor id from the origin plus a per-instance part drawn from the injected random', () => {
    const hexOrigin = Buffer.from('eu-1', 'utf8').toString('hex')
    const id = actorIdForOrigin('eu-1', seededRandom(3))
    expect(id).toMatch(new RegExp(`^${hexOrigin}[0-9a-f]{${ACTOR_INSTANCE_BYTES * 2}}$`))
    expect(actorIdForOrigin('eu-1', seededRandom(3))).toBe(id)
    expect(actorIdForOrigin('eu-1', seededRandom(4))).not.toBe(id)
    // Long and non-ASCII origins are kept whole: Automerge has no length limit on actor ids.
    const long = new AutomergeReplica({ collection: COLLECTION, docId: DOC_ID, localOrigin: 'région-'.repeat(20), random: seededRandom(1) })
    expect(Automerge.getActorId(long.doc)).toBe(long.actorId)
    automergeEdit<Root>(long, (d) => {
      d.ok = true
    })
    expect(long.view()).toEqual({ ok: true })
  })

  it('accepts an explicit actor id and refuses one that is not even-length hex', () => {
    const explicit = new AutomergeReplica({ collection: COLLECTION, docId: DOC_ID, localOrigin: 'w', random: seededRandom(1), actorId: 'abcd' })
    expect(Automerge.getActorId(explicit.doc)).toBe('abcd')
    for (const actorId of ['', 'abc', 'zz', 'ABCD']) {
      expect(() => new AutomergeReplica({ collection: COLLECTION, docId: DOC_ID, localOrigin: 'w', random: seededRandom(1), actorId })).toThrow(/actorId/)
    }
    expect(() => actorIdForOrigin('', seededRandom(1))).toThrow(/origin/)
  })

  it('[CV2] a writer that restarts without its last change does not reuse that change\'s actor and seq', () => {
    const before = replica('w', 1)
    const kept = automergeEdit<Root>(before, (d) => {
      d.x = 1
    })
    const lost = automergeEdit<Root>(before, (d) => {
      d.y = 'sent, then lost in a crash'
    })
    const restarted = replica('w', 2) // a new instance: a new actor
    restarted.apply(change('w', 1, kept))
    const after = automergeEdit<Root>(restarted, (d) => {
      d.z = 'after restart'
    })
    const peer = replica('p', 3)
    for (const [seq, payload] of [[1, kept], [2, lost], [3, after]] as const) peer.apply(change('w', seq, payload))
    expect(peer.view()).toEqual({ x: 1, y: 'sent, then lost in a crash', z: 'after restart' })
  })

  it('records time 0 unless told otherwise, and yields an empty change when the edit changes nothing', () => {
    const writer = replica()
    const payload = automergeEdit<Root>(writer, (d) => {
      d.x = 1
    })
    expect(Automerge.decodeChange(payload).time).toBe(0)
    const timed = automergeEdit<Root>(writer, (d) => { d.x = 2 }, { timeSec: 1_700_000_000, message: 'x to 2' })
    expect(Automerge.decodeChange(timed)).toMatchObject({ time: 1_700_000_000, message: 'x to 2' })
    const empty = automergeEdit<Root>(writer, () => {})
    expect(Automerge.decodeChange(empty).ops).toEqual([])
    expect(Automerge.decodeChange(empty).seq).toBe(3)
    const reader = replica('r')
    for (const [seq, p] of [[3, empty], [1, payload], [2, timed]] as const) reader.apply(change('w', seq, p))
    expect(reader.view()).toEqual({ x: 2 })
    expect(Automerge.getHeads(reader.doc)).toEqual(Automerge.getHeads(writer.doc))
  })

  it('views counters as numbers and text as strings, keys sorted', () => {
    const writer = replica()
    automergeEdit<Root>(writer, (d) => {
      d.z = new Automerge.Counter(2)
      d.a = 'text'
      d.m = { y: 1, b: 2 }
    })
    automergeEdit<Root>(writer, (d) => {
      ;(d.z as Automerge.Counter).increment(3)
    })
    const view = writer.view()
    expect(view).toEqual({ a: 'text', m: { b: 2, y: 1 }, z: 5 })
    expect(JSON.stringify(view)).toBe('{"a":"text","m":{"b":2,"y":1},"z":5}')
  })

  it('takes apart a sync message entry holding several changes back to back, or a bundle, whose first change depends on changes outside it (automerge-repo sends such an entry when a throttled message carries several changes)', () => {
    let client = Automerge.from<{ n: number }>({ n: 0 }, { actor: 'aa11' })
    const held = Automerge.getAllChanges(client)
    for (let i = 1; i <= 3; i++) client = Automerge.change(client, (d) => void (d.n = i))
    const later = Automerge.getAllChanges(client).slice(held.length)
    const hashes = later.map((c) => Automerge.decodeChange(c).hash)
    const concatenated = new Uint8Array(later.reduce((n, c) => n + c.length, 0))
    later.reduce((at, c) => (concatenated.set(c, at), at + c.length), 0)
    const bundle = Automerge.saveBundle(client, hashes)
    for (const entry of [concatenated, bundle]) {
      expect(() => Automerge.decodeChange(entry)).toThrow() // not one change
      expect(() => Automerge.load(entry)).toThrow() // nor loadable on its own
      const reader = replica('r')
      held.forEach((bytes, i) => reader.apply(change('w', i + 1, bytes)))
      const message = Automerge.encodeSyncMessage({ heads: Automerge.getHeads(client), need: [], have: [], changes: [entry] })
      const read = reader.readSyncMessage(Automerge.initSyncState(), message)
      expect(read.changes.map((c) => Automerge.decodeChange(c).hash)).toEqual(hashes)
      read.changes.forEach((bytes, i) => reader.apply(change('w', held.length + i + 1, bytes)))
      expect(reader.view()).toEqual({ n: 3 })
    }
  })

  it('refuses a change that is not one with a CrdtPayloadError, and stays usable', () => {
    const reader = replica('r')
    expect(() => reader.apply(change('w', 1, new Uint8Array([1, 2, 3])))).toThrow(CrdtPayloadError)
    automergeEdit<Root>(reader, (d) => {
      d.ok = true
    })
    expect(reader.view()).toEqual({ ok: true })
  })
})

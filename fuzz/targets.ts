import fc from 'fast-check'
import { decodeMessage, encodeMessage, isCodecError, MessageType, type Message } from '../core/codec/index.js'
import { AutomergeReplica, automergeEdit } from '../core/crdt/automerge.js'
import { CrdtPayloadError } from '../core/crdt/errors.js'
import { LwwReplica, lwwPatchPayload, lwwPutPayload } from '../core/crdt/lww.js'
import { YjsReplica, yjsEdit } from '../core/crdt/yjs.js'
import { StrictNode, type LogEntry, type StrictMessage } from '../core/strict/index.js'
import type { Change, DocType } from '../core/types.js'
import { arbMessage } from '../test/helpers/arbitraries.js'

/**
 * Fuzz targets (docs/fuzzing.md): everything that takes bytes or messages from the network, driven with
 * inputs mostly derived from valid ones so that they reach deep into the code. A target returns the
 * outcome of one input; anything it throws that is not the documented typed error is a crash.
 */

/** A fast seeded generator (xorshift32): millions of inputs need more speed than fast-check gives. */
export class FuzzRandom {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9
  }

  next(): number {
    let x = this.state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.state = x >>> 0
    return this.state
  }

  int(below: number): number {
    return this.next() % below
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }
}

export type Outcome = 'accepted' | 'refused'

export interface FuzzTarget {
  readonly name: string
  /** Share of the total input budget. */
  readonly weight: number
  /** Builds the target's state (seeds, replicas); called once per run. */
  setup(random: FuzzRandom): FuzzCase
}

export interface FuzzCase {
  /** One input; returns its outcome and its bytes. Throws on a crash. */
  run(random: FuzzRandom): { outcome: Outcome; input: Uint8Array }
  /** The bytes of the input being run (what a crash report prints). */
  current: Uint8Array
}

/** Thrown for an input that broke a rule without throwing by itself (a round trip that changed a message). */
export class FuzzInvariantError extends Error {}

/** Mutates `bytes` the way fuzzers do: flips, overwrites, inserts, deletes, truncation, splices, length inflation. */
export function mutate(bytes: Uint8Array, random: FuzzRandom, other: Uint8Array): Uint8Array {
  let out = Uint8Array.from(bytes)
  const edits = 1 + random.int(4)
  for (let i = 0; i < edits; i++) {
    const at = out.length === 0 ? 0 : random.int(out.length)
    switch (random.int(8)) {
      case 0:
        if (out.length > 0) out[at] = (out[at] as number) ^ (1 << random.int(8))
        break
      case 1:
        if (out.length > 0) out[at] = random.int(256)
        break
      case 2: {
        const inserted = new Uint8Array(out.length + 1)
        inserted.set(out.subarray(0, at))
        inserted[at] = random.int(256)
        inserted.set(out.subarray(at), at + 1)
        out = inserted
        break
      }
      case 3:
        if (out.length > 0) out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)])
        break
      case 4:
        out = out.subarray(0, at)
        break
      case 5: {
        // Splice: the head of this frame with the tail of another.
        const cut = other.length === 0 ? 0 : random.int(other.length)
        out = Uint8Array.from([...out.subarray(0, at), ...other.subarray(cut)])
        break
      }
      case 6:
        // A length or count field blown up: a varint of many 0xff bytes.
        if (out.length > 0) out = Uint8Array.from([...out.subarray(0, at), 0xff, 0xff, 0xff, 0xff, 0x0f, ...out.subarray(at + 1)])
        break
      default:
        if (out.length > 0) out[at] = random.pick([0, 1, 0x7f, 0x80, 0xff])
    }
  }
  return out
}

// ------------------------------------------------------------------------------------------ frames

/** Real strict peer messages: what a small cluster sends while it elects, writes, compacts and catches up. */
function strictTraffic(): StrictMessage[] {
  const ids = ['a', 'b', 'c']
  const sent: StrictMessage[] = []
  const queue: { to: string; message: StrictMessage }[] = []
  let r = 0.37
  const nodes = new Map(
    ids.map((id) => [
      id,
      new StrictNode({
        id,
        members: ids,
        random: () => (r = (r * 9.73) % 1),
        send: (to, message) => {
          sent.push(message)
          queue.push({ to, message })
        },
        replicateFrom: { c: 'b' },
      }),
    ]),
  )
  const node = (id: string) => nodes.get(id) as StrictNode
  const deliver = () => {
    for (let i = 0; i < 2_000 && queue.length > 0; i++) {
      const { to, message } = queue.shift() as { to: string; message: StrictMessage }
      node(to).receive(message)
    }
    for (const n of nodes.values()) n.markDurable(n.lastPosition.lsn)
  }
  for (const n of nodes.values()) n.tick(1_000)
  node('a').promote()
  deliver()
  deliver()
  for (let i = 0; i < 12; i++) {
    node('a').write(
      i % 3 === 0
        ? { kind: 'batch', ops: [{ kind: 'put', collection: 'acc', id: `k${i}`, value: { n: i, s: 'x'.repeat(i) } }, { kind: 'delete', collection: 'acc', id: 'gone' }] }
        : { kind: 'patch', collection: 'acc', id: `k${i % 4}`, fields: { n: i, nested: { a: [1, 2, { b: null }] } }, precondition: { exists: i % 2 === 0 } },
      { concern: 'majority', requestKey: i % 2 === 0 ? `key-${i}` : null },
    )
    deliver()
  }
  node('b').compact()
  node('a').compact()
  node('a').tick(1_100)
  deliver()
  return sent
}

/** Valid frames of every kind: the crdt and handshake frames from fast-check, strict frames from real traffic. */
export function seedFrames(seed: number, count = 400): Uint8Array[] {
  const frames = fc.sample(arbMessage, { seed, numRuns: count }).map((m) => encodeMessage(m))
  for (const message of strictTraffic()) frames.push(encodeMessage({ type: MessageType.Strict, message }))
  const entry: LogEntry = { epoch: 1, lsn: 1, op: { kind: 'put', collection: 'acc', id: 'x', value: { a: 1 } } }
  const client: Message[] = [
    { type: MessageType.StrictWrite, requestId: 1, request: { op: entry.op as never, concern: 'majority', timeoutMs: 100, requestKey: 'k' } },
    { type: MessageType.StrictWrite, requestId: 2, request: { op: { kind: 'batch', ops: [{ kind: 'patch', collection: 'acc', id: 'y', fields: { b: [1, 'two', null] }, precondition: { expectVersion: 3 } }] }, concern: 'all', timeoutMs: null, requestKey: null } },
    { type: MessageType.StrictRead, requestId: 3, request: { collection: 'acc', id: 'x', after: { epoch: 2, lsn: 9 }, read: 'nearest', maxStalenessMs: 50, timeoutMs: null } },
    { type: MessageType.StrictSubscribe, requestId: 4, collection: 'acc', id: null },
  ]
  for (const m of client) frames.push(encodeMessage(m))
  return frames
}

/** The decoders: mutated valid frames (most inputs) and plain random bytes. */
export const decodeTarget: FuzzTarget = {
  name: 'decode (every frame type, mutated)',
  weight: 0.7,
  setup(random) {
    const frames = seedFrames(random.next())
    let roundTrips = 0
    return {
      current: new Uint8Array(),
      run(r) {
        const input = r.int(16) === 0 ? randomBytes(r, r.int(64)) : mutate(r.pick(frames), r, r.pick(frames))
        this.current = input
        let message: Message
        try {
          message = decodeMessage(input, { maxFrameBytes: 1 << 20 })
        } catch (err) {
          if (isCodecError(err)) return { outcome: 'refused', input }
          throw err
        }
        // What decodes must encode again, and that encoding must decode to the same message (checked
        // for one accepted input in eight: a deep comparison costs more than the decode).
        if ((roundTrips++ & 7) === 0) {
          const again = decodeMessage(encodeMessage(message), { maxFrameBytes: 1 << 21 })
          if (JSON.stringify(again, replacer) !== JSON.stringify(message, replacer)) throw new FuzzInvariantError('a decoded message changed on a round trip')
        }
        return { outcome: 'accepted', input }
      },
    }
  },
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return [...value.entries()]
  if (value instanceof Uint8Array) return [...value]
  if (typeof value === 'bigint') return value.toString()
  return value
}

function randomBytes(random: FuzzRandom, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = random.int(256)
  return out
}

// ------------------------------------------------------------------------------------------ strict state machine

/**
 * Valid-but-adversarial strict message sequences: real cluster traffic, replayed to the wrong node, out
 * of order, duplicated, with epochs, LSNs, rounds and senders changed, mixed with ticks and operator
 * actions. A node may do anything such a peer tells it (peers are trusted with the protocol); it may not
 * throw or loop.
 */
export const strictTarget: FuzzTarget = {
  name: 'strict node (adversarial message sequences)',
  weight: 0.15,
  setup(random) {
    const traffic = strictTraffic()
    const ids = ['a', 'b', 'c']
    let nodes: StrictNode[] = []
    let sends = 0
    let now = 1_000
    const fresh = () => {
      sends = 0
      nodes = ids.map(
        (id) =>
          new StrictNode({
            id,
            members: ids,
            random: () => random.next() / 2 ** 32,
            send: () => void (sends += 1),
            replicateFrom: random.int(2) === 0 ? { c: 'b' } : {},
            failover: random.int(2) === 0 ? { noFailover: ['c'], maxLagOnFailover: 3 } : {},
          }),
      )
    }
    fresh()
    return {
      current: new Uint8Array(),
      run(r) {
        if (r.int(200) === 0) fresh()
        // Only what the wire can carry: a tampered message that does not encode (a changed type without
        // its fields, an empty sender) could never arrive, so the untampered one is sent instead.
        const base = r.pick(traffic)
        let input: Uint8Array
        try {
          input = encodeMessage({ type: MessageType.Strict, message: tamper(base, r, ids) })
        } catch {
          input = encodeMessage({ type: MessageType.Strict, message: base })
        }
        this.current = input
        const decoded = decodeMessage(input)
        const message = (decoded as { message: StrictMessage }).message
        const target = r.pick(nodes)
        const before = sends
        const action = r.int(20)
        if (action === 0) target.tick((now += r.int(400)))
        else if (action === 1) target.promote()
        else if (action === 2) target.stepDown()
        else if (action === 3) target.markDurable(r.int(40))
        else if (action === 4) target.compact()
        else if (action === 5) target.write({ kind: 'put', collection: 'acc', id: `w${r.int(5)}`, value: r.int(100) }, { concern: 'majority' })
        else target.receive(message)
        // One message in must not make a node send without bound.
        if (sends - before > 10_000) throw new FuzzInvariantError(`one input made a node send ${sends - before} messages`)
        return { outcome: 'accepted', input }
      },
    }
  },
}

function tamper(message: StrictMessage, r: FuzzRandom, ids: readonly string[]): StrictMessage {
  const m = { ...message } as Record<string, unknown>
  const fields = ['epoch', 'prevLsn', 'prevEpoch', 'commitLsn', 'round', 'confirmedRound', 'matchLsn', 'durableLsn', 'receivedLsn', 'appliedLsn', 'retryFromLsn', 'lastLsn', 'lastEpoch']
  for (let i = r.int(4); i > 0; i--) {
    const field = r.pick(fields)
    if (field in m) m[field] = r.pick([0, 1, 2, 3, 7, 40, 2 ** 31, Number.MAX_SAFE_INTEGER, (m[field] as number) + 1, Math.max(0, (m[field] as number) - 1)])
  }
  if (r.int(8) === 0) m.from = r.pick([...ids, 'stranger', ''])
  if (r.int(8) === 0 && Array.isArray(m.entries)) m.entries = (m.entries as LogEntry[]).map((e) => ({ ...e, lsn: e.lsn + r.int(3) - 1, epoch: e.epoch + r.int(3) - 1 }))
  if (r.int(16) === 0 && typeof m.type === 'string') m.type = r.pick(['append', 'relayed-append', 'relayed-reply', 'append-reply', 'lend', 'vote', 'pre-vote', 'timeout-now'])
  return m as unknown as StrictMessage
}

// ------------------------------------------------------------------------------------------ crdt payloads

/** Mutated LWW, Yjs and Automerge change payloads: applied, or refused with CrdtPayloadError and nothing else. */
export function payloadTarget(docType: DocType, weight: number): FuzzTarget {
  return {
    name: `${docType} payloads (mutated)`,
    weight,
    setup(random) {
      const seeds = payloadSeeds(docType)
      let replica = replicaOf(docType, random)
      let seq = 0
      return {
        current: new Uint8Array(),
        run(r) {
          if (r.int(500) === 0) replica = replicaOf(docType, r)
          const input = mutate(r.pick(seeds), r, r.pick(seeds))
          this.current = input
          const change: Change = { origin: `o${r.int(3)}`, seq: ++seq, hlc: { wallMs: 1_700_000_000_000 + seq, counter: r.int(4), node: 'o' }, collection: 'c', docId: 'd', docType, payload: input }
          try {
            replica.apply(change)
            return { outcome: 'accepted', input }
          } catch (err) {
            if (err instanceof CrdtPayloadError) return { outcome: 'refused', input }
            throw err
          }
        },
      }
    },
  }
}

function replicaOf(docType: DocType, random: FuzzRandom): LwwReplica | YjsReplica | AutomergeReplica {
  const seed = random.next()
  let s = seed || 1
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32)
  if (docType === 'lww') return new LwwReplica({ collection: 'c', docId: 'd' })
  if (docType === 'yjs') return new YjsReplica({ collection: 'c', docId: 'd', random: rnd })
  return new AutomergeReplica({ collection: 'c', docId: 'd', localOrigin: 'fuzz', random: rnd })
}

function payloadSeeds(docType: DocType): Uint8Array[] {
  if (docType === 'lww') {
    const w = new LwwReplica({ collection: 'c', docId: 'd' })
    return [lwwPutPayload(w, { title: 'hello', n: 1, tags: ['a', 'b'], nested: { x: null } }), lwwPatchPayload(w, { title: null, n: 2.5 }), lwwPutPayload(w, {})]
  }
  if (docType === 'yjs') {
    const w = new YjsReplica({ collection: 'c', docId: 'd', random: () => 0.42 })
    const first = yjsEdit(w, (doc) => {
      doc.getMap('root').set('title', 'hello')
      doc.getText('t').insert(0, 'some text')
    })
    const second = yjsEdit(w, (doc) => {
      doc.getText('t').delete(2, 3)
      doc.getArray('list').push([1, 'two', { three: 3 }])
    })
    return [first, second]
  }
  const w = new AutomergeReplica({ collection: 'c', docId: 'd', localOrigin: 'seed', random: () => 0.42 })
  const first = automergeEdit<{ items?: string[]; title?: string }>(w, (d) => {
    d.items = ['milk', 'eggs']
    d.title = 'list'
  })
  const second = automergeEdit<{ items?: string[] }>(w, (d) => {
    d.items?.push('bread')
  })
  return [first, second]
}

export const ALL_TARGETS: readonly FuzzTarget[] = [decodeTarget, strictTarget, payloadTarget('lww', 0.09), payloadTarget('yjs', 0.05), payloadTarget('automerge', 0.01)]

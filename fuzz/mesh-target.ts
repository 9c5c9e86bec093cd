import { HlcClock } from '../core/clock/hlc.js'
import { decodeMessage, encodeMessage, isCodecError, MessageType, type Message } from '../core/codec/index.js'
import { automergeEdit, type AutomergeReplica } from '../core/crdt/automerge.js'
import { createReplica } from '../core/crdt/index.js'
import { lwwPatchPayload, lwwPutPayload, type LwwReplica } from '../core/crdt/lww.js'
import { yjsEdit, type YjsReplica } from '../core/crdt/yjs.js'
import { MeshNode } from '../core/mesh/index.js'
import type { Change, DocType } from '../core/types.js'
import { FuzzInvariantError, FuzzRandom, mutate, type FuzzTarget } from './targets.js'

/**
 * The crdt mesh under hostile peers (docs/fuzzing.md): two regions and a client, with real lww, Yjs and
 * Automerge documents, are sent frames recorded from their own honest traffic — mutated as bytes (what
 * still decodes is delivered) or changed as messages (seqs, origins, authors, document types, vectors,
 * acks, state transfers, subscriptions) — each followed by a few honest deliveries so the damage travels.
 * `receive` may refuse, ignore or count anything; it may not throw, loop, send without bound, or move a
 * version vector backwards.
 */

const REGIONS = ['r1', 'r2'] as const
const CLIENT = 'c1'
const WALL_MS = 1_700_000_000_000

interface Frame {
  readonly from: string
  readonly to: string
  readonly bytes: Uint8Array
}

/** Three wired mesh nodes and the messages between them, delivered only when the fuzzer says so. */
class MeshWorld {
  readonly nodes = new Map<string, MeshNode>()
  readonly queue: Frame[] = []
  sends = 0
  /** Every frame sent, while `recording`. */
  readonly recorded: Frame[] = []
  recording = false

  constructor(seed: number) {
    let s = seed >>> 0 || 1
    const random = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32
    const members = new Set<string>(REGIONS)
    for (const id of [...REGIONS, CLIENT]) {
      const client = id === CLIENT
      this.nodes.set(
        id,
        new MeshNode({
          id,
          clock: new HlcClock({ node: id, wallClock: () => WALL_MS }),
          random,
          createReplica: (docType, context) => createReplica(docType, context),
          send: (peer, message) => {
            this.sends += 1
            const frame = { from: id, to: peer, bytes: encodeMessage(message) }
            if (this.recording) this.recorded.push(frame)
            // Bounded: a flood from one input is detected by the send count, not by memory.
            if (this.queue.length < 2_000) this.queue.push(frame)
          },
          ...(client ? { ownChangesOnly: true, sendsStateTransfers: false } : { ackGossipMembers: members }),
        }),
      )
    }
    this.link('r1', 'r2')
    this.link(CLIENT, 'r1')
    this.link(CLIENT, 'r2')
  }

  node(id: string): MeshNode {
    return this.nodes.get(id) as MeshNode
  }

  private link(a: string, b: string): void {
    this.node(a).connect(b)
    this.node(b).connect(a)
  }

  /** Delivers up to `limit` queued frames in order. */
  pump(limit: number): void {
    for (let i = 0; i < limit && this.queue.length > 0; i++) {
      const frame = this.queue.shift() as Frame
      this.node(frame.to).receive(frame.from, decodeMessage(frame.bytes))
    }
  }

  /** One small lww write at `id`, made durable (and so sent) at once. */
  ownWrite(id: string, n: number): void {
    const node = this.node(id)
    const replica = node.replica('c', 'l0', 'lww')
    if (replica.docType !== 'lww') return
    node.commit('c', 'l0', 'lww', lwwPatchPayload(replica as LwwReplica, { n }))
    node.markDurable(new Map(node.vector))
  }

  /** One honest write of each document type at `id`, made durable at once. */
  write(id: string, round: number): void {
    const node = this.node(id)
    const commit = (docId: string, docType: DocType, payload: (replica: unknown) => Uint8Array): void => {
      const replica = node.replica('c', docId, docType)
      node.commit('c', docId, docType, payload(replica))
    }
    commit(`l${round % 3}`, 'lww', (r) =>
      round % 2 === 0
        ? lwwPutPayload(r as LwwReplica, { title: `t${round}`, n: round, tags: ['a', id], nested: { at: id, deep: [1, { x: null }] } })
        : lwwPatchPayload(r as LwwReplica, { n: round * 1.5, title: null }),
    )
    commit('y0', 'yjs', (r) =>
      yjsEdit(r as YjsReplica, (doc) => {
        doc.getText('t').insert(0, `${id}${round}`)
        doc.getMap('m').set(id, round)
      }),
    )
    if (round < 2) {
      commit('a0', 'automerge', (r) =>
        automergeEdit<{ items?: string[] }>(r as AutomergeReplica, (doc) => {
          doc.items = [...(doc.items ?? []), `${id}${round}`]
        }),
      )
    }
    node.markDurable(new Map(node.vector))
  }
}

/** Frames of a whole honest session: handshake vectors, batches, acks, a state transfer and a subscription. */
export function honestFrames(seed: number): Frame[] {
  const world = new MeshWorld(seed)
  world.recording = true
  for (let round = 0; round < 4; round++) {
    for (const id of [...REGIONS, CLIENT]) world.write(id, round)
    world.pump(500)
    for (const node of world.nodes.values()) node.markDurable(new Map(node.vector))
    world.pump(500)
  }
  for (const node of world.nodes.values()) node.antiEntropy()
  world.pump(500)
  const r1 = world.node('r1')
  const extra: { from: string; to: string; message: Message }[] = [
    { from: 'r1', to: 'r2', message: { type: MessageType.DocumentStates, transfer: 1, documents: r1.allDocumentStates() } },
    { from: 'r1', to: 'r2', message: { type: MessageType.StateCovered, transfer: 1, documents: r1.documentCount, vector: new Map(r1.vector), hlc: { wallMs: WALL_MS, counter: 9, node: 'r1' }, authors: [], refusals: [] } },
    { from: CLIENT, to: 'r1', message: { type: MessageType.Subscribe, id: 1, collections: ['c'], documents: [{ collection: 'c', docId: 'y0' }], fetchCollections: ['c'], fetchDocuments: [] } },
    { from: 'r1', to: CLIENT, message: { type: MessageType.Skipped, ranges: [{ origin: 'r2', from: 1, to: 3 }], hlc: { wallMs: WALL_MS, counter: 1, node: 'r1' } } },
    { from: 'r1', to: CLIENT, message: { type: MessageType.Fetched, fetch: 1, transfer: 2, documents: 1, hlc: { wallMs: WALL_MS, counter: 2, node: 'r1' } } },
  ]
  for (const { from, to, message } of extra) world.recorded.push({ from, to, bytes: encodeMessage(message) })
  return world.recorded
}

/** A decoded mesh message changed the way a buggy or hostile peer would: still well-formed, no longer honest. */
function tamper(message: Message, r: FuzzRandom, origins: readonly string[]): Message {
  // 2^53 - 1 is the largest seq the codec carries: a node told it holds its own origin up to there used
  // to be unable to number its next change (docs/fuzzing.md, "Findings").
  const seq = (n: number) => r.pick([0, 1, n - 1, n + 1, n + 2, n + 1_000, 2 ** 31, 2 ** 40, 2 ** 53 - 1].filter((x) => x >= 0))
  const vector = (v: ReadonlyMap<string, number>) => {
    const out = new Map(v)
    const origin = r.pick(origins)
    out.set(origin, seq(out.get(origin) ?? 0))
    if (r.int(4) === 0) out.delete(r.pick(origins))
    return out
  }
  switch (message.type) {
    case MessageType.ChangeBatch: {
      let changes = message.changes.map((c): Change => {
        if (r.int(3) !== 0) return c
        const changed: Record<string, unknown> = { ...c }
        const what = r.int(7)
        if (what === 0) changed.seq = seq(c.seq)
        else if (what === 1) changed.origin = r.pick(origins)
        else if (what === 2) changed.docType = r.pick(['lww', 'yjs', 'automerge'])
        else if (what === 3) changed.author = { origin: r.pick(origins), seq: seq(c.seq) }
        else if (what === 4) changed.hlc = { wallMs: r.pick([0, WALL_MS * 2, 2 ** 47]), counter: r.int(70_000), node: r.pick(origins) }
        else if (what === 5) changed.docId = r.pick(['l0', 'y0', 'a0', 'new'])
        else changed.payload = c.payload.subarray(0, r.int(c.payload.length + 1))
        return changed as unknown as Change
      })
      if (r.int(4) === 0) changes = [...changes].reverse()
      if (r.int(4) === 0) changes = [...changes, ...changes]
      return { ...message, changes }
    }
    case MessageType.VersionVector:
      return { ...message, vector: vector(message.vector) }
    case MessageType.Ack:
      return { ...message, node: r.int(3) === 0 ? r.pick(origins) : message.node, durable: vector(message.durable) }
    case MessageType.StateCovered:
      return { ...message, vector: vector(message.vector), documents: r.int(3) === 0 ? r.int(5) : message.documents, transfer: r.int(3) }
    case MessageType.DocumentStates:
      return { ...message, transfer: r.int(3), documents: message.documents.map((d) => (r.int(2) === 0 ? d : { ...d, docType: r.pick(['lww', 'yjs', 'automerge'] as const) })) }
    case MessageType.Skipped:
      return { ...message, ranges: message.ranges.map((g) => ({ origin: r.pick(origins), from: seq(g.from), to: seq(g.to) })) }
    case MessageType.Fetched:
      return { ...message, fetch: r.int(4), transfer: r.int(4), documents: r.int(4) }
    case MessageType.Subscribe:
      return { ...message, id: seq(message.id) }
    default:
      return message
  }
}

/** Every origin a tampered message may name: the nodes, a stranger and an empty-ish id. */
const ORIGINS = [...REGIONS, CLIENT, 'c2', 'x'] as const

export const meshTarget: FuzzTarget = {
  name: 'mesh node (hostile crdt peers)',
  weight: 0.04,
  setup(random) {
    const frames = honestFrames(random.next())
    let world = new MeshWorld(random.next())
    let inputs = 0
    return {
      current: new Uint8Array(),
      run(r) {
        // A fresh world now and then keeps its documents small and the inputs fast.
        if (++inputs % 500 === 0) world = new MeshWorld(r.next())
        const frame = r.pick(frames)
        let input: Uint8Array
        let message: Message
        if (r.int(2) === 0) {
          input = mutate(frame.bytes, r, r.pick(frames).bytes)
          this.current = input
          try {
            message = decodeMessage(input, { maxFrameBytes: 1 << 20 })
          } catch (err) {
            if (isCodecError(err)) return { outcome: 'refused', input }
            throw err
          }
        } else {
          // Only what the wire can carry: a tampered message that does not encode could never arrive.
          try {
            input = encodeMessage(tamper(decodeMessage(frame.bytes), r, ORIGINS))
          } catch {
            input = frame.bytes
          }
          this.current = input
          message = decodeMessage(input)
        }
        // Sent by its sender, or by the wrong peer (a region speaking as a client, a client as a region).
        const to = r.int(8) === 0 ? r.pick([...REGIONS, CLIENT]) : frame.to
        const from = r.int(8) === 0 ? r.pick([...REGIONS, CLIENT].filter((id) => id !== to)) : frame.from
        const node = world.node(to)
        const before = new Map(node.vector)
        const sends = world.sends
        if (from !== to) node.receive(from, message)
        if (r.int(16) === 0) node.antiEntropy()
        if (r.int(16) === 0) node.markDurable(new Map(node.vector))
        // Whatever it was told, a node can still number, encode and send its next own change.
        if (r.int(32) === 0) world.ownWrite(to, inputs)
        world.pump(r.int(8))
        if (world.sends - sends > 5_000) throw new FuzzInvariantError(`one frame made the mesh send ${world.sends - sends} messages`)
        for (const [origin, seq] of before) {
          if ((node.vector.get(origin) ?? 0) < seq) throw new FuzzInvariantError(`${to}'s vector for ${origin} went back from ${seq} to ${node.vector.get(origin) ?? 0}`)
        }
        // Cheap to keep, costly to check: the log and the documents, every 64 inputs.
        if ((inputs & 63) === 0) checkConsistent(world)
        return { outcome: 'accepted', input }
      },
    }
  },
}

/** Every logged change is within its node's vector, and every document can still be read. */
function checkConsistent(world: MeshWorld): void {
  for (const [id, node] of world.nodes) {
    for (const change of node.changes()) {
      if (change.seq > (node.vector.get(change.origin) ?? 0)) throw new FuzzInvariantError(`${id} logs ${change.origin}:${change.seq} beyond its vector`)
    }
    node.views()
  }
}

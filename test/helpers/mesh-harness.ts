import { HlcClock } from '../../core/clock/hlc.js'
import { decodeMessage, encodeMessage } from '../../core/codec/index.js'
import type { Message } from '../../core/codec/messages.js'
import type { ApplyResult, DocumentReplica } from '../../core/crdt/document-type.js'
import { LwwReplica, lwwPatchPayload, lwwPutPayload } from '../../core/crdt/index.js'
import { MeshNode, type MeshNodeOptions } from '../../core/mesh/index.js'
import type { Change, DocType } from '../../core/types.js'

/** A document replica that just remembers what it was given, in order: enough to test the mesh alone. */
export class RecordingReplica implements DocumentReplica {
  readonly applied: string[] = []
  constructor(readonly docType: DocType) {}
  apply(change: Change): ApplyResult {
    this.applied.push(`${change.origin}:${change.seq}`)
    return { changed: true, conflicts: [] }
  }
  view(): unknown {
    return [...this.applied].sort()
  }
  encodeState(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.applied))
  }
  mergeState(state: Uint8Array): { changed: boolean } {
    const before = this.applied.length
    for (const id of JSON.parse(new TextDecoder().decode(state)) as string[]) if (!this.applied.includes(id)) this.applied.push(id)
    return { changed: this.applied.length > before }
  }
}

interface InFlight {
  from: string
  to: string
  bytes: Uint8Array
}

/**
 * Mesh nodes wired together through the real codec with a manual message queue, so a test decides
 * exactly what is delivered, dropped, duplicated or reordered.
 */
export class MeshHarness {
  readonly nodes = new Map<string, MeshNode>()
  readonly inFlight: InFlight[] = []
  wallMs = 1_700_000_000_000

  /** Adds a node; `Kind` swaps in a subclass (a deliberately broken one, for a mutant test). */
  add(id: string, options: Partial<MeshNodeOptions> & { wallOffsetMs?: number; Kind?: typeof MeshNode } = {}): MeshNode {
    const offset = options.wallOffsetMs ?? 0
    const Kind = options.Kind ?? MeshNode
    const node = new Kind({
      id,
      clock: new HlcClock({ node: id, wallClock: () => this.wallMs + offset }),
      random: () => 0.5,
      createReplica: (docType) => new RecordingReplica(docType),
      send: (peer: string, message: Message) => this.inFlight.push({ from: id, to: peer, bytes: encodeMessage(message) }),
      ...options,
    })
    this.nodes.set(id, node)
    return node
  }

  node(id: string): MeshNode {
    const node = this.nodes.get(id)
    if (!node) throw new Error(`no node ${id}`)
    return node
  }

  link(a: string, b: string): void {
    this.node(a).connect(b)
    this.node(b).connect(a)
  }

  /** Writes one change at `id` and makes it durable at once. */
  write(id: string, docId = 'doc'): Change {
    const node = this.node(id)
    const change = node.commit('c', docId, 'lww', new Uint8Array([1]))
    node.markDurable(new Map(node.vector))
    return change
  }

  /** Delivers messages in order until none is left (or `limit`, against livelock). */
  pump(limit = 10_000): number {
    let delivered = 0
    while (this.inFlight.length > 0 && delivered < limit) {
      const next = this.inFlight.shift() as InFlight
      this.node(next.to).receive(next.from, decodeMessage(next.bytes))
      delivered += 1
    }
    return delivered
  }
}

/** A client's lww write to `notes/docId` (a put or a patch of `fields`), durable in its own store at once. */
export function clientWrite(client: MeshNode, docId: string, fields: Record<string, unknown>, kind: 'put' | 'patch' = 'put'): Change {
  const replica = client.replica('notes', docId, 'lww') as LwwReplica
  const payload = kind === 'put' ? lwwPutPayload(replica, fields) : lwwPatchPayload(replica, fields)
  const change = client.commit('notes', docId, 'lww', payload)
  client.markDurable(new Map([[client.id, change.seq]]))
  return change
}

/** Every member makes what it holds durable, twice (a member releases its own changes only then). */
export function flushMembers(h: MeshHarness, members: Iterable<string>): void {
  for (let round = 0; round < 2; round++) {
    for (const id of members) h.node(id).markDurable(new Map(h.node(id).vector))
    h.pump()
  }
}

import { encodeMessage, MessageType } from '../core/codec/index.js'
import { StrictNode, type StrictMessage } from '../core/strict/index.js'
import { FuzzInvariantError, FuzzRandom, type FuzzTarget } from './targets.js'

/**
 * Strict mode over a hostile network (docs/fuzzing.md): three StrictNodes whose messages the fuzzer
 * delivers in order, out of order, twice, late or never, between random ticks, promotions, step-downs,
 * compactions, fsyncs and writes. Every message is one a correct node sent, so here the protocol's safety
 * must hold, not just "no throw": after every event, at most one node is primary in any epoch, no
 * node's commit index goes back, and every two nodes agree on the epoch of each entry both have committed
 * (and not compacted away). The input recorded per event is the frame delivered (or a one-byte action).
 */

const IDS = ['a', 'b', 'c'] as const

interface InFlight {
  readonly to: string
  readonly message: StrictMessage
}

class StrictCluster {
  readonly nodes: StrictNode[]
  readonly queue: InFlight[] = []
  now = 1_000
  /** Highest commit index each node has reported, to catch one going back. */
  readonly commits = new Map<string, number>()
  /** The primary of each epoch seen so far. */
  readonly primaries = new Map<number, string>()

  constructor(r: FuzzRandom) {
    this.nodes = IDS.map(
      (id) =>
        new StrictNode({
          id,
          members: IDS,
          random: () => r.next() / 2 ** 32,
          send: (to, message) => {
            if (this.queue.length < 5_000) this.queue.push({ to, message })
          },
          ...(r.int(3) === 0 ? { replicateFrom: { c: 'b' } } : {}),
          ...(r.int(3) === 0 ? { preVote: true } : {}),
          ...(r.int(4) === 0 ? { maxEntriesPerMessage: 2 } : {}),
        }),
    )
  }

  node(id: string): StrictNode {
    return this.nodes[IDS.indexOf(id as (typeof IDS)[number])] as StrictNode
  }

  /** Delivers queued message `index` (removed unless `keep`), after handing its frame to `noting` for a crash report. */
  deliver(index: number, keep: boolean, noting: (frame: Uint8Array) => void): void {
    const inFlight = this.queue[index] as InFlight
    if (!keep) this.queue.splice(index, 1)
    noting(encodeMessage({ type: MessageType.Strict, message: inFlight.message }))
    const target = this.node(inFlight.to)
    target.receive(inFlight.message)
    // The node's storage keeps up (most of the time): what it logged becomes durable.
    if (this.now % 5 !== 0) target.markDurable(target.lastPosition.lsn)
  }

  check(): void {
    for (const node of this.nodes) {
      const before = this.commits.get(node.id) ?? 0
      if (node.commit < before) throw new FuzzInvariantError(`${node.id}'s commit index went back from ${before} to ${node.commit}`)
      this.commits.set(node.id, node.commit)
      if (node.currentRole === 'primary') {
        const primary = this.primaries.get(node.currentEpoch)
        if (primary === undefined) this.primaries.set(node.currentEpoch, node.id)
        else if (primary !== node.id) throw new FuzzInvariantError(`two primaries in epoch ${node.currentEpoch}: ${primary} and ${node.id}`)
      }
    }
    // Committed entries agree: the same epoch at every lsn two nodes have both committed.
    const [x, y, z] = this.nodes as [StrictNode, StrictNode, StrictNode]
    for (const [p, q] of [[x, y], [y, z], [x, z]] as const) {
      const upTo = Math.min(p.commit, q.commit)
      for (let lsn = Math.max(1, upTo - 4); lsn <= upTo; lsn++) {
        const ep = p.epochAt(lsn)
        const eq = q.epochAt(lsn)
        if (ep !== undefined && eq !== undefined && ep !== eq) throw new FuzzInvariantError(`${p.id} and ${q.id} committed lsn ${lsn} in epochs ${ep} and ${eq}`)
      }
    }
  }
}

export const strictClusterTarget: FuzzTarget = {
  name: 'strict cluster (lossy, reordering network)',
  weight: 0.05,
  setup(random) {
    let cluster = new StrictCluster(random)
    let events = 0
    let writes = 0
    return {
      current: new Uint8Array(),
      run(r) {
        if (++events % 3_000 === 0) cluster = new StrictCluster(r)
        const queue = cluster.queue
        const roll = r.int(100)
        this.current = Uint8Array.of(roll)
        const noting = (frame: Uint8Array): void => void (this.current = frame)
        const node = r.pick(cluster.nodes)
        if (roll < 45 && queue.length > 0) cluster.deliver(0, false, noting)
        else if (roll < 62 && queue.length > 0) cluster.deliver(r.int(queue.length), false, noting)
        else if (roll < 65 && queue.length > 0) cluster.deliver(r.int(queue.length), true, noting)
        else if (roll < 70 && queue.length > 0) queue.splice(r.int(queue.length), 1)
        else if (roll < 85) {
          // Mostly short steps, sometimes a long silence: elections happen, but so do commits.
          cluster.now += r.int(48) === 0 ? 150 + r.int(300) : 1 + r.int(25)
          for (const n of cluster.nodes) if (r.int(4) !== 0) n.tick(cluster.now)
        } else if (roll < 93) {
          const id = `k${r.int(6)}`
          // Mostly to a primary (writes elsewhere are refused NOT_PRIMARY at once).
          const writer = r.int(4) === 0 ? node : (cluster.nodes.find((n) => n.currentRole === 'primary') ?? node)
          writer.write(
            r.int(3) === 0 ? { kind: 'patch', collection: 'acc', id, fields: { n: writes, s: 'x' }, precondition: { exists: true } } : { kind: 'put', collection: 'acc', id, value: { n: writes++ } },
            { concern: r.pick(['majority', 'all', 'one', 'local'] as const), requestKey: r.int(4) === 0 ? `key-${r.int(20)}` : null },
          )
        } else if (roll < 95) node.promote()
        else if (roll < 96) node.stepDown()
        else if (roll < 98) node.compact()
        else node.markDurable(node.lastPosition.lsn)
        cluster.check()
        return { outcome: 'accepted', input: this.current }
      },
    }
  },
}

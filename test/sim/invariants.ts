import { compareHlc, formatHlc } from '../../core/clock/hlc.js'
import { authorOf } from '../../core/author.js'
import { createReplica } from '../../core/crdt/index.js'
import { documentKey, type MeshNode } from '../../core/mesh/index.js'
import type { DocumentReplica } from '../../core/crdt/document-type.js'
import type { Change } from '../../core/types.js'
import { canonicalJson } from './canonical.js'
import type { SimRandom } from './random.js'

/** A local write as its writer made it, with what the writer had seen at that moment (for [HLC2]). */
export interface CommitRecord {
  readonly change: Change
  readonly seen: ReadonlyMap<string, number>
  /**
   * Changes the writer's position covers that a region skipped (it did not subscribe to their
   * documents): never observed, so nothing it wrote happened after them.
   */
  readonly skipped?: (origin: string, seq: number) => boolean
}

export interface FinalReplica {
  readonly id: string
  readonly mesh: MeshNode
  readonly appliedCount: ReadonlyMap<string, number>
}

export interface InvariantInput {
  readonly replicas: readonly FinalReplica[]
  readonly commits: readonly CommitRecord[]
  /** Every change that was durable somewhere at some point: none of them may be missing at the end. */
  readonly everDurable: ReadonlyMap<string, Change>
  /**
   * Per change id, the change that survived: durable somewhere, or kept in a document a torn snapshot
   * round stored (logs are compacted, so replicas no longer hold every change to compare).
   */
  readonly survivors: ReadonlyMap<string, Change>
  /** Own seqs lost unsynced whose number a later surviving change may have used up: held, with no effect. */
  readonly burnt: ReadonlySet<string>
  readonly converged: boolean
  readonly shuffle: SimRandom
}

export const sameChange = (a: Change, b: Change): boolean =>
  compareHlc(a.hlc, b.hlc) === 0 && a.docId === b.docId && canonicalJson(a.payload) === canonicalJson(b.payload)

/** Checks [CV1]–[CV3] and [HLC1]–[HLC2] on the state a simulation ended in. Returns violations. */
export function checkInvariants(input: InvariantInput): string[] {
  const violations: string[] = []
  const [reference, ...others] = input.replicas
  if (!reference) return ['no replicas']

  // [CV2] everyone holds the same changes and shows the same documents.
  if (!input.converged) violations.push('[CV2] replicas did not converge within the budget')
  const referenceViews = viewsOf(reference.mesh)
  for (const other of others) {
    const views = viewsOf(other.mesh)
    if (views !== referenceViews) {
      violations.push(`[CV2] ${other.id} shows ${views}\n        but ${reference.id} shows ${referenceViews}`)
    }
  }


  // [CV1] "the same set of changes" must mean the same thing everywhere: one id, one change. A writer
  // that reused a seq after a crash shows up here even when later writes mask it in the documents.
  const contentById = new Map<string, { holder: string; content: string }>()
  for (const replica of input.replicas) {
    for (const change of replica.mesh.changes()) {
      const id = `${change.origin}:${change.seq}`
      const content = `${formatHlc(change.hlc)} ${change.docId} ${canonicalJson(change.payload)}`
      const first = contentById.get(id)
      if (!first) contentById.set(id, { holder: replica.id, content })
      else if (first.content !== content) {
        violations.push(`[CV1] ${id} differs between ${first.holder} and ${replica.id}: the id was reused`)
      }
    }
  }

  // [CV3] applied at most once per replica lifetime.
  for (const replica of input.replicas) {
    for (const [id, count] of replica.appliedCount) {
      if (count > 1) violations.push(`[CV3] ${replica.id} applied ${id} ${count} times`)
    }
  }

  // Every change the reference holds (in its log or only in its documents), in origin, seq order.
  const finalChanges: Change[] = []
  for (const origin of [...reference.mesh.vector.keys()].sort()) {
    for (let seq = 1; seq <= (reference.mesh.vector.get(origin) ?? 0); seq++) {
      const id = `${origin}:${seq}`
      const change = input.survivors.get(id)
      if (change) finalChanges.push(change)
      else if (!input.burnt.has(id)) violations.push(`[CV2] ${reference.id} holds ${id}, which never survived anywhere`)
    }
  }
  const byId = new Map(finalChanges.map((c) => [`${c.origin}:${c.seq}`, c]))
  // A client's write is held as a region's change naming it as author (once, or twice when two
  // regions took a resend before either learnt of the other: same author, same stamp, same payload).
  const byAuthor = new Map<string, Change>()
  for (const change of finalChanges) {
    const { origin, seq } = authorOf(change)
    const first = byAuthor.get(`${origin}:${seq}`)
    if (first === undefined) byAuthor.set(`${origin}:${seq}`, change)
    else if (!sameChange(first, change)) violations.push(`[CV1] ${origin}:${seq} was logged twice with different contents`)
  }

  // [CV2] nothing that was durable anywhere was lost: held by the reference, or (a client's) by its author.
  for (const [id, change] of input.everDurable) {
    const held = Math.max(reference.mesh.vector.get(change.origin) ?? 0, byAuthor.has(id) ? change.seq : 0)
    if (held < change.seq) violations.push(`[CV2] durable change ${id} lost (${reference.id} holds ${change.origin} up to ${held})`)
  }

  // [HLC1] each writer's surviving timestamps strictly increase with its seq (a client's by author).
  const lastByAuthor = new Map<string, [number, Change]>()
  for (const change of [...byAuthor.values()].sort((a, b) => authorOf(a).seq - authorOf(b).seq)) {
    const { origin, seq } = authorOf(change)
    const previous = lastByAuthor.get(origin)
    if (previous && compareHlc(previous[1].hlc, change.hlc) >= 0) {
      violations.push(`[HLC1] ${origin}:${seq} at ${formatHlc(change.hlc)} is not after #${previous[0]} at ${formatHlc(previous[1].hlc)}`)
    }
    lastByAuthor.set(origin, [seq, change])
  }

  // [HLC2] a write orders after every write its writer had seen.
  for (const { change, seen, skipped } of input.commits) {
    const survivor = byAuthor.get(`${change.origin}:${change.seq}`)
    if (!survivor || !sameChange(survivor, change)) continue // lost before it was durable: never observed
    for (const [origin, head] of seen) {
      if (origin === change.origin) continue
      let seq = head
      while (seq > 0 && skipped?.(origin, seq)) seq -= 1
      if (seq === 0) continue
      const before = byId.get(`${origin}:${seq}`)
      if (before && compareHlc(before.hlc, change.hlc) >= 0) {
        violations.push(`[HLC2] ${change.origin}:${change.seq} at ${formatHlc(change.hlc)} had seen ${origin}:${seq} at ${formatHlc(before.hlc)}`)
      }
    }
  }

  // [CV1] the same set of changes, delivered in another order with duplicates, gives the same state.
  const replay = new Map<string, DocumentReplica>()
  const delivery = input.shuffle.shuffle([...finalChanges, ...finalChanges.filter(() => input.shuffle.chance(0.2))])
  for (const change of delivery) {
    // A refused change's void entry [RW1] applies nothing and makes no document.
    if (change.payload.length === 0) continue
    const key = documentKey(change.collection, change.docId)
    let replica = replay.get(key)
    if (!replica) {
      replica = createReplica(change.docType, {
        collection: change.collection,
        docId: change.docId,
        localOrigin: 'replay',
        random: () => input.shuffle.next(),
      })
      replay.set(key, replica)
    }
    replica.apply(change)
  }
  const replayed = canonicalJson(
    [...replay.keys()]
      .sort()
      .map((key) => [key, replay.get(key)?.view()])
      .filter(([, view]) => view !== null),
  )
  if (replayed !== referenceViews) {
    violations.push(`[CV1] reordered redelivery gives ${replayed}\n        but ${reference.id} shows ${referenceViews}`)
  }
  return violations
}

function viewsOf(mesh: MeshNode): string {
  return canonicalJson([...mesh.views()].filter(([, view]) => view !== null))
}

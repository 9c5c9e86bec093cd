import fc from 'fast-check'
import { expect } from 'vitest'
import { HlcClock } from '../../../core/clock/hlc.js'
import { createReplica } from '../../../core/crdt/registry.js'
import type { DocumentReplica } from '../../../core/crdt/document-type.js'
import type { Change, DocType, Hlc } from '../../../core/types.js'

export const COLLECTION = 'c'
export const DOC_ID = 'd'
export const BASE_WALL_MS = 1_700_000_000_000

/** A small seeded PRNG (mulberry32), so fast-check only has to generate seeds. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = out[i] as T
    out[i] = out[j] as T
    out[j] = tmp
  }
  return out
}

/** Every change at least once, some twice or three times, in a random order. */
export function deliveryWithDuplicates<T>(items: readonly T[], random: () => number): T[] {
  const all = [...items]
  for (const item of items) {
    if (random() < 0.3) all.push(item)
    if (random() < 0.1) all.push(item)
  }
  return shuffle(all, random)
}

export function makeChange(fields: {
  origin: string
  seq: number
  hlc: Hlc
  payload: Uint8Array
  docType: DocType
}): Change {
  return { ...fields, collection: COLLECTION, docId: DOC_ID }
}

export function hlc(wallMs: number, counter: number, node: string): Hlc {
  return { wallMs, counter, node }
}

/** One writer of a history: its replica, its clock on a skewed fake wall clock, its own log. */
export interface Writer<R extends DocumentReplica> {
  readonly origin: string
  readonly replica: R
  readonly clock: HlcClock
  /** Every change this writer holds, in the order it got them (own and received). */
  readonly known: Change[]
  readonly knownIds: Set<string>
  seq: number
}

export type HistoryStep<E> =
  | { readonly kind: 'edit'; readonly writer: number; readonly edit: E }
  | { readonly kind: 'sync'; readonly from: number; readonly to: number }
  | { readonly kind: 'tick'; readonly ms: number }

export interface History<E> {
  readonly writerCount: number
  readonly skewsMs: readonly number[]
  readonly steps: readonly HistoryStep<E>[]
  readonly seed: number
}

export const MAX_WRITERS = 4

/**
 * Histories of several writers editing one document. Writers sometimes receive each other's changes
 * ("sync"), so the history mixes concurrent edits with causal overwrites; their wall clocks are
 * skewed, so HLC order and causal order disagree now and then; ticks of 0 ms give HLC ties.
 */
export function historyArb<E>(editArb: fc.Arbitrary<E>): fc.Arbitrary<History<E>> {
  return fc.integer({ min: 2, max: MAX_WRITERS }).chain((writerCount) =>
    fc.record({
      writerCount: fc.constant(writerCount),
      skewsMs: fc.array(fc.integer({ min: -20, max: 20 }), { minLength: writerCount, maxLength: writerCount }),
      seed: fc.integer({ min: 0, max: 0xffff_ffff }),
      steps: fc.array(
        fc.oneof(
          { weight: 6, arbitrary: fc.record({ kind: fc.constant('edit' as const), writer: fc.nat(writerCount - 1), edit: editArb }) },
          {
            weight: 2,
            arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(writerCount - 1), to: fc.nat(writerCount - 1) }),
          },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
        ),
        { minLength: 1, maxLength: 24 },
      ),
    }),
  )
}

export interface RunResult<R extends DocumentReplica> {
  readonly writers: readonly Writer<R>[]
  /** Every change made, each once. */
  readonly changes: readonly Change[]
}

/**
 * Plays a history: `edit` turns an edit into a payload on the writer's replica; the writer then applies
 * its own change (for Yjs and Automerge that is a no-op, checked by the caller if it wishes).
 */
export function runHistory<E, R extends DocumentReplica>(
  docType: DocType,
  history: History<E>,
  edit: (replica: R, edit: E) => Uint8Array,
): RunResult<R> {
  let now = BASE_WALL_MS
  const random = seededRandom(history.seed)
  const writers: Writer<R>[] = []
  for (let i = 0; i < history.writerCount; i++) {
    const origin = `w${i}`
    const skew = history.skewsMs[i] ?? 0
    writers.push({
      origin,
      replica: createReplica(docType, { collection: COLLECTION, docId: DOC_ID, localOrigin: origin, random }) as unknown as R,
      clock: new HlcClock({ node: origin, wallClock: () => now + skew }),
      known: [],
      knownIds: new Set(),
      seq: 0,
    })
  }
  const changes: Change[] = []
  const receive = (writer: Writer<R>, change: Change): void => {
    const id = `${change.origin}:${change.seq}`
    if (writer.knownIds.has(id)) return
    writer.knownIds.add(id)
    writer.known.push(change)
    writer.clock.receive(change.hlc)
    writer.replica.apply(change)
  }
  for (const step of history.steps) {
    if (step.kind === 'tick') now += step.ms
    else if (step.kind === 'sync') {
      const from = writers[step.from]
      const to = writers[step.to]
      if (from && to && from !== to) for (const change of from.known) receive(to, change)
    } else {
      const writer = writers[step.writer]
      if (!writer) continue
      const payload = edit(writer.replica, step.edit)
      writer.seq += 1
      const change = makeChange({ origin: writer.origin, seq: writer.seq, hlc: writer.clock.now(), payload, docType })
      changes.push(change)
      receive(writer, change)
    }
  }
  return { writers, changes }
}

/** A fresh replica fed `changes` in the given order. */
export function replay(docType: DocType, changes: readonly Change[], random: () => number): DocumentReplica {
  const replica = createReplica(docType, { collection: COLLECTION, docId: DOC_ID, localOrigin: 'reader', random })
  for (const change of changes) replica.apply(change)
  return replica
}

/**
 * [CV1]: fresh replicas fed every change of the history in random orders, with duplicates,
 * and the writers themselves once they received everything, all show the same view; delivering
 * everything once more changes nothing in the view (it may report conflicts again: an lww replica
 * keeps no record of applied changes, at-most-once delivery is the mesh's job [CV3]), and merging the
 * state of any converged replica into another changes nothing. Views must also serialise
 * identically (key order included). Returns the converged view.
 */
export function assertConverges<E, R extends DocumentReplica>(
  docType: DocType,
  history: History<E>,
  edit: (replica: R, edit: E) => Uint8Array,
): unknown {
  const { writers, changes } = runHistory(docType, history, edit)
  const random = seededRandom(history.seed ^ 0x9e37_79b9)
  const views: unknown[] = []
  const replicas: DocumentReplica[] = []
  for (let k = 0; k < 3; k++) {
    const replica = replay(docType, deliveryWithDuplicates(changes, random), random)
    views.push(replica.view())
    for (const change of shuffle(changes, random)) expect(replica.apply(change).changed).toBe(false)
    views.push(replica.view())
    replicas.push(replica)
  }
  for (const writer of writers) {
    for (const change of changes) writer.replica.apply(change)
    views.push(writer.replica.view())
    replicas.push(writer.replica)
  }
  for (const [i, replica] of replicas.entries()) {
    const other = replicas[(i + 1) % replicas.length] as DocumentReplica
    expect(replica.mergeState(other.encodeState()).changed).toBe(false)
    views.push(replica.view())
  }
  const [first, ...rest] = views
  for (const view of rest) {
    expect(view).toEqual(first)
    expect(serialise(view)).toBe(serialise(first))
  }
  return first
}

function serialise(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
}

import * as Y from 'yjs'
import type { Change } from '../types.js'
import { canonicalView } from './canonical.js'
import { assertChangeFor, assertReplicaOptions } from './check-change.js'
import type { ApplyResult, CreateReplicaOptions, DocumentReplica } from './document-type.js'
import { CrdtPayloadError } from './errors.js'
import { randomUint32, type Random } from './random.js'

export interface YjsReplicaOptions {
  readonly collection: string
  readonly docId: string
  /** Draws the Yjs client id. Each replica instance needs its own: never reuse one across restarts. */
  readonly random: Random
}

/** The JSON view of a Yjs document, by Meridian's convention (see `YjsReplica.view`). */
export interface YjsView {
  readonly root: Record<string, unknown>
  readonly text: string
}

/** Name of the root map a Yjs document keeps its JSON content in. */
export const YJS_ROOT_MAP = 'root'
/** Name of the root text of a Yjs document. */
export const YJS_ROOT_TEXT = 'text'

const APPLY_ORIGIN = Symbol('meridian.yjs.apply')

/**
 * A Yjs document. A change's payload is one Yjs update (v1 encoding); applying it is
 * `Y.applyUpdate`, which is commutative and idempotent, and which holds back updates whose
 * dependencies have not arrived until they do [CV1], [CV3]. Nothing is thrown away, so there
 * are no conflict records.
 *
 * The client id is drawn from the injected `random` (the `guid` is derived from the document
 * name) so no Yjs code path has to draw randomness for this replica. Yjs does draw one client id
 * from lib0's random in the `Y.Doc` constructor; it is overwritten at once.
 *
 * @example
 * ```ts
 * const replica = new YjsReplica({ collection: 'notes', docId: 'n1', random })
 * const payload = yjsEdit(replica, (doc) => doc.getText('text').insert(0, 'hello'))
 * replica.view() // { root: {}, text: 'hello' }
 * ```
 */
export class YjsReplica implements DocumentReplica {
  readonly docType = 'yjs' as const
  readonly collection: string
  readonly docId: string
  /** The live Y.Doc. Edit it through `yjsEdit` so that the edit is captured as a payload. */
  readonly doc: Y.Doc
  private readonly random: Random
  private clientId: number

  constructor(options: YjsReplicaOptions) {
    assertReplicaOptions('YjsReplica', options)
    if (typeof options.random !== 'function') throw new Error('YjsReplica: random must be a function')
    this.collection = options.collection
    this.docId = options.docId
    this.random = options.random
    this.doc = new Y.Doc({ guid: `${options.collection}/${options.docId}` })
    this.clientId = randomUint32(this.random)
    this.doc.clientID = this.clientId
  }

  apply(change: Change): ApplyResult {
    assertChangeFor(this, change)
    return { changed: this.applyYjsUpdate(change.payload, 'yjs update'), conflicts: [] }
  }

  /**
   * The whole document as one Yjs update (v1), held-back structs and deletions included: Yjs 13.6's
   * `encodeStateAsUpdate` merges `store.pendingStructs` and `store.pendingDs` in itself, so what is
   * applied but waiting for its dependencies travels too.
   */
  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc)
  }

  /**
   * Merges a state from `encodeState`: a Yjs update like any change's payload, applied the same way
   * (same checks, same retry of held-back structs), so it commutes with `apply` and is idempotent.
   * @throws CrdtPayloadError on bytes Yjs cannot read
   */
  mergeState(state: Uint8Array): { changed: boolean } {
    return { changed: this.applyYjsUpdate(state, 'yjs state') }
  }

  /** Applies one update; returns whether any shared type's content changed. */
  private applyYjsUpdate(update: Uint8Array, what: string): boolean {
    let changed = false
    const onAfterTransaction = (transaction: Y.Transaction): void => {
      // `changed` lists the types whose content changed: empty when the update was already
      // contained, or is held back waiting for its dependencies.
      if (transaction.changed.size > 0) changed = true
    }
    this.doc.on('afterTransaction', onAfterTransaction)
    try {
      checkYjsUpdate(update)
      const stateBefore = this.doc.store.pendingStructs ? Y.encodeStateVector(this.doc) : null
      Y.applyUpdate(this.doc, update, APPLY_ORIGIN)
      if (stateBefore) this.retryPending(stateBefore)
    } catch (error) {
      if (error instanceof CrdtPayloadError) throw error
      throw new CrdtPayloadError(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    } finally {
      this.doc.off('afterTransaction', onAfterTransaction)
    }
    if (this.doc.clientID !== this.clientId) {
      // Yjs saw another writer using our client id and picked a new one from lib0's random;
      // draw it from ours instead so runs stay reproducible.
      this.clientId = randomUint32(this.random)
      this.doc.clientID = this.clientId
    }
    return changed
  }

  /**
   * Yjs holds back structs whose dependencies are missing and retries them when an update brings
   * what they wait for — but it decides from the clocks it recorded as missing before the update,
   * and for some delivery orders never retries although everything has arrived (the seeded
   * simulator found one: a text stayed empty at a replica that had every change). So whenever an
   * update advanced the document while structs were pending, retry them ourselves until nothing
   * more integrates. Cost: one re-application of the pending structs per advancing update, and only
   * while something is pending; in-order delivery never pays it.
   */
  private retryPending(stateBefore: Uint8Array): void {
    let previous = stateBefore
    for (;;) {
      const pending = this.doc.store.pendingStructs
      if (!pending) return
      const now = Y.encodeStateVector(this.doc)
      if (sameBytes(now, previous)) return
      previous = now
      this.doc.store.pendingStructs = null
      Y.applyUpdateV2(this.doc, pending.update, APPLY_ORIGIN)
    }
  }

  /**
   * `{ root, text }`: the root map `doc.getMap('root')` as JSON (keys sorted) and the root text
   * `doc.getText('text')` as a string. Apps keep JSON content under the root map and a plain
   * text body in the root text; other root types are not part of the view, and using the names
   * `root` / `text` for another kind of root type makes `view()` throw (Yjs root types are
   * fixed by name). A document never written views as `{ root: {}, text: '' }`.
   */
  view(): YjsView {
    return {
      root: canonicalView(this.doc.getMap(YJS_ROOT_MAP).toJSON()) as Record<string, unknown>,
      text: this.doc.getText(YJS_ROOT_TEXT).toString(),
    }
  }
}

/**
 * Runs `fn` in one Yjs transaction on the replica's document and returns the update it produced,
 * to be sent as a change payload. When `fn` changes nothing the payload is the empty update, which
 * applies anywhere as a no-op, so every edit still yields one valid change. The edit is already in
 * the replica; applying the resulting change to it again is a no-op.
 *
 * The update comes from Yjs's `update` event, so its cost is proportional to the edit, not the
 * document [PF3]. Local transactions that observers start in reaction to `fn` are merged in.
 *
 * @example
 * ```ts
 * const payload = yjsEdit(replica, (doc) => {
 *   doc.getMap('root').set('title', 'hello')
 * })
 * ```
 */
export function yjsEdit(replica: YjsReplica, fn: (doc: Y.Doc) => void): Uint8Array {
  const doc = replica.doc
  if (doc._transaction !== null) {
    throw new Error('yjsEdit: called inside another Yjs transaction; its update would be emitted only when that one ends')
  }
  const updates: Uint8Array[] = []
  const onUpdate = (update: Uint8Array, _origin: unknown, _doc: Y.Doc, transaction: Y.Transaction): void => {
    if (transaction.local) updates.push(update)
  }
  doc.on('update', onUpdate)
  try {
    doc.transact(() => fn(doc), replica)
  } finally {
    doc.off('update', onUpdate)
  }
  const [first] = updates
  if (first === undefined) return emptyYjsUpdate()
  return updates.length === 1 ? first : Y.mergeUpdates(updates)
}

/** An update with no structs and no deletions: zero client sections, empty delete set. */
function emptyYjsUpdate(): Uint8Array {
  return new Uint8Array([0, 0])
}

/**
 * Refuses, before Yjs applies it, an update whose cost would not be proportional to its size
 * (docs/crdt.md, unreadable payloads): the refusal depends on the bytes alone, so every replica
 * refuses the same changes [CV1]. Honest Yjs encoders never produce what is refused here.
 *
 * - Yjs 13's `applyUpdate` allocates `new Array(n)` for the `n` structs a client section announces
 *   before reading any: 8 bytes announcing 33 million structs cost ~1 s and 268 MB. Yjs's own lazy
 *   reader (`decodeUpdate`) reads struct by struct without allocating ahead, and every struct takes
 *   at least a byte, so an update it reads to the end announces no more structs than it has bytes.
 * - Yjs walks the document's structs once per delete range, already deleted ones included: ranges
 *   that overlap (an honest delete set is sorted and merged) make one update quadratic, e.g. 30 KB
 *   of copies of "delete everything" against 10 000 items walked 10^8 structs.
 */
export function checkYjsUpdate(update: Uint8Array): void {
  const { ds } = Y.decodeUpdate(update)
  for (const [client, ranges] of ds.clients) {
    if (ranges.length < 2) continue
    const sorted = [...ranges].sort((a, b) => a.clock - b.clock)
    let end = -1
    for (const range of sorted) {
      if (range.clock < end) throw new CrdtPayloadError(`yjs update: overlapping deletions of client ${client} at clock ${range.clock}`)
      end = Math.max(end, range.clock + range.len)
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A Yjs replica from the options every replica factory takes (registry.ts, the client's Yjs module). */
export function yjsReplicaFor({ collection, docId, random }: CreateReplicaOptions): YjsReplica {
  return new YjsReplica({ collection, docId, random })
}

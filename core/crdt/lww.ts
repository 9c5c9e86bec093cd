import { authorOf } from '../author.js'
import type { Change } from '../types.js'
import {
  checkDocumentSize,
  DEFAULT_VALUE_LIMITS,
  encodedObjectBytes,
  MAX_VALUE_DEPTH,
  storableKeySize,
  storableSize,
  type ValueLimits,
} from '../values/storable-value.js'
import { isPlainObject } from './canonical.js'
import { assertChangeFor, assertReplicaOptions } from './check-change.js'
import type { ApplyResult, ConflictRecord, CreateReplicaOptions, DocumentReplica } from './document-type.js'
import {
  assertLwwValue,
  compareStamp,
  decodeLwwPayload,
  encodeLwwPayload,
  type LwwFieldWrite,
  type LwwStamp,
} from './lww-payload.js'
import { decodeLwwState, encodeLwwState, type LwwStateRegister } from './lww-state.js'

export interface LwwReplicaOptions {
  readonly collection: string
  readonly docId: string
}

/** One field's register: the newest write to it in LWW order, a value or a tombstone. */
interface Register {
  readonly stamp: LwwStamp
  readonly deleted: boolean
  readonly value: unknown
  /** What the writer of this register had seen for the field (see LwwFieldWrite). */
  readonly base: LwwStamp | null
  /** Encoded bytes of the field (name and value) in the document; 0 for a tombstone. */
  readonly bytes: number
}

/** Sizes values that were checked where they were written, whatever the limits were then. */
const SIZE_ONLY: ValueLimits = { maxDepth: MAX_VALUE_DEPTH, maxKeyBytes: Number.MAX_SAFE_INTEGER, maxStringBytes: Number.MAX_SAFE_INTEGER, maxDocumentBytes: Number.MAX_SAFE_INTEGER }

/** A field's encoded bytes as the document holds it (never throws: a value from a foreign writer counts 0). */
function fieldBytes(field: string, value: unknown): number {
  try {
    return storableKeySize(field, '$', SIZE_ONLY) + storableSize(value, '$', SIZE_ONLY, 1)
  } catch {
    return 0
  }
}

/**
 * A last-writer-wins map document (docs/design.md §3). Each top-level field is a register ordered by the
 * writing change's HLC, then its origin. Field deletes are tombstones. A document delete hides every
 * field register older than it, including fields the deleter never heard of.
 *
 * State is three max-registers (per-field registers, newest document delete, newest put/patch), so
 * applying changes commutes, associates and is idempotent: [CV1], [CV3].
 *
 * `view()`:
 * - `null` when the document was never written, or when its newest put/patch is older than its
 *   newest delete;
 * - otherwise an object of the live fields (not tombstoned, newer than the last delete), keys
 *   sorted. `put(id, {})` therefore gives `{}`, not `null`. A put or patch after a delete brings
 *   the document back with only the fields written since.
 *
 * The view is frozen (its values are deep-frozen as decoded) and shared: it is built on the first
 * `view()` after a change that altered it and handed to every later caller until the next such
 * change, so applying a change costs its fields, never the document [PF3]; only a reader pays for
 * the document, once per change it looks at. `get(field)` reads one field without building it.
 *
 * Conflict records are *observations made at this replica* when a write meets a concurrent one
 * (the winner's writer had not seen the loser: `loser > winner.base`). Which pairs meet depends on
 * delivery order, so two converged replicas may hold different records: records are not part of
 * converged state, and [CV1] applies to `view()` only.
 *
 * The replica keeps no record of which changes it applied: memory grows with the document's fields,
 * never with its history [SG4]. Re-applying a change leaves the view as it was (a register's own
 * write is a no-op, a write that lost still loses), but a re-delivered losing write meets whatever
 * register is current by then and may report a conflict again, or one it never reported the first
 * time. Delivering each change at most once is the mesh's job ([CV3], by version vector,
 * core/mesh/mesh-node.ts), not the replica's.
 *
 * State transfer (docs/design.md §6): `encodeState` writes the three max-registers (lww-state.ts);
 * `mergeState` takes the max of each, so it commutes, associates and is idempotent with `apply` and
 * with itself. `collectTombstones` drops registers that can no longer matter once their stamps are
 * stable (every replica has them).
 *
 * @example
 * ```ts
 * const replica = new LwwReplica({ collection: 'todos', docId: 't1' })
 * const payload = lwwPatchPayload(replica, { done: true })
 * const { conflicts } = replica.apply({ origin, seq, hlc: clock.now(), collection: 'todos', docId: 't1', docType: 'lww', payload })
 * replica.view() // { done: true, ... }
 * ```
 */
export class LwwReplica implements DocumentReplica {
  readonly docType = 'lww' as const
  readonly collection: string
  readonly docId: string
  private readonly fields = new Map<string, Register>()
  /** Newest document delete. */
  private cleared: LwwStamp | null = null
  /** Newest put or patch. */
  private lastWrite: LwwStamp | null = null
  /** The view as of the last change that altered it; `undefined` when such a change made it stale. */
  private cachedView: Readonly<Record<string, unknown>> | null | undefined = undefined
  /** Live (not tombstoned, not hidden) registers and their bytes, kept per change [PF3]. */
  private liveCount = 0
  private liveBytes = 0

  constructor(options: LwwReplicaOptions) {
    assertReplicaOptions('LwwReplica', options)
    this.collection = options.collection
    this.docId = options.docId
  }

  apply(change: Change): ApplyResult {
    assertChangeFor(this, change)
    const payload = decodeLwwPayload(change.payload)
    const stamp: LwwStamp = { hlc: change.hlc, origin: authorOf(change).origin }
    const conflicts: ConflictRecord[] = []
    const existed = this.exists()
    let changed = false
    for (const write of payload.writes) {
      if (this.applyField(write, stamp, conflicts)) changed = true
    }
    if (payload.kind === 'delete') {
      if (this.applyDocumentDelete(stamp, conflicts)) changed = true
    } else if (this.lastWrite === null || compareStamp(stamp, this.lastWrite) > 0) {
      this.lastWrite = stamp
    }
    if (this.exists() !== existed) changed = true
    // `changed` is exactly "the view differs" (listeners rely on it too), so an unchanged view stays
    // the same object.
    if (changed) this.cachedView = undefined
    return { changed, conflicts }
  }

  /** The document (see the class comment): frozen, and the same object until a change alters it. */
  view(): Readonly<Record<string, unknown>> | null {
    if (this.cachedView === undefined) this.cachedView = this.buildView()
    return this.cachedView
  }

  /** Every register and the two document stamps, as bytes `mergeState` of any replica of this document reads. */
  encodeState(): Uint8Array {
    const registers: LwwStateRegister[] = []
    for (const [field, register] of this.fields) {
      registers.push({
        stamp: register.stamp,
        write: register.deleted
          ? { field, deleted: true, base: register.base }
          : { field, deleted: false, value: register.value, base: register.base },
      })
    }
    return encodeLwwState({ cleared: this.cleared, lastWrite: this.lastWrite, registers })
  }

  /**
   * Merges a state from `encodeState`: per field the register with the larger stamp, and the newer
   * of each document stamp. Records no conflicts (a state says which writes won, not which met).
   * Returns whether the view changed.
   * @throws CrdtPayloadError on bytes that are not an lww state; the replica is unchanged then
   */
  mergeState(state: Uint8Array): { changed: boolean } {
    const incoming = decodeLwwState(state)
    const existed = this.exists()
    const clearedBefore = this.cleared
    const replaced = new Map<string, Register | undefined>()
    const clearedAfter = incoming.cleared !== null && (this.cleared === null || compareStamp(incoming.cleared, this.cleared) > 0) ? incoming.cleared : this.cleared
    for (const { stamp, write } of incoming.registers) {
      const current = this.fields.get(write.field)
      if (current !== undefined && compareStamp(stamp, current.stamp) <= 0) continue
      // Hidden by the document delete after the merge: not kept (see dropHidden).
      if (clearedAfter !== null && compareStamp(stamp, clearedAfter) < 0) continue
      replaced.set(write.field, current)
      this.fields.set(
        write.field,
        write.deleted
          ? { stamp, deleted: true, value: undefined, base: write.base, bytes: 0 }
          : { stamp, deleted: false, value: write.value, base: write.base, bytes: fieldBytes(write.field, write.value) },
      )
    }
    if (incoming.cleared !== null && (this.cleared === null || compareStamp(incoming.cleared, this.cleared) > 0)) this.cleared = incoming.cleared
    if (incoming.lastWrite !== null && (this.lastWrite === null || compareStamp(incoming.lastWrite, this.lastWrite) > 0)) this.lastWrite = incoming.lastWrite
    let fieldsChanged = false
    if (replaced.size > 0 || this.cleared !== clearedBefore) {
      // Which live fields differ: the replaced registers, and, when the delete moved, every register.
      const candidates = this.cleared === clearedBefore ? replaced.keys() : this.fields.keys()
      for (const field of candidates) {
        const before = replaced.has(field) ? replaced.get(field) : this.fields.get(field)
        const after = this.fields.get(field)
        const wasLive = isLiveUnder(before, clearedBefore)
        if (wasLive !== isLiveUnder(after, this.cleared) || (wasLive && before !== after)) {
          fieldsChanged = true
          break
        }
      }
      this.recount()
    }
    const changed = existed !== this.exists() || (this.exists() && fieldsChanged)
    if (changed) this.cachedView = undefined
    if (this.cleared !== clearedBefore) this.dropHidden()
    return { changed }
  }

  /**
   * Drops every register a document delete hides (older than `cleared`). Always safe, unlike other
   * tombstones: whatever arrives later, a field with no register and a field with a hidden one look
   * the same (`effective` answers the delete for both, and any write older than the delete stays
   * hidden), so replicas that dropped them and replicas that did not show the same view. A document
   * deleted and written again therefore holds only the fields written since.
   */
  private dropHidden(): void {
    for (const [field, register] of this.fields) if (this.isHidden(register)) this.fields.delete(field)
  }

  /**
   * Drops the registers that can no longer matter: field tombstones whose stamp is stable, and, when
   * the newest document delete is stable, every register it hides. `isStable(stamp)` must hold only
   * when every replica of the document has applied every change up to that stamp, so no write older
   * than it can still arrive anywhere. The document delete's own stamp is kept (one per document):
   * it is what keeps a late older write hidden. `view()` does not change. Returns how many registers
   * were dropped.
   */
  collectTombstones(isStable: (stamp: LwwStamp) => boolean): number {
    const clearedStable = this.cleared !== null && isStable(this.cleared)
    let dropped = 0
    for (const [field, register] of this.fields) {
      if ((clearedStable && this.isHidden(register)) || (register.deleted && isStable(register.stamp))) {
        this.fields.delete(field)
        dropped += 1
      }
    }
    return dropped
  }

  /** How many field registers the replica holds, live, tombstoned or hidden (for tests and memory accounting). */
  get registerCount(): number {
    return this.fields.size
  }

  /**
   * The value of one live field, or `undefined` when the field is deleted, never written or hidden by
   * a delete, or the document does not exist: `view()?.[field]` without building the view.
   */
  get(field: string): unknown {
    if (!this.exists()) return undefined
    const register = this.fields.get(field)
    return register !== undefined && this.isLive(register) ? register.value : undefined
  }

  /** False when `view()` is null: never written, or deleted after its newest put or patch. */
  exists(): boolean {
    return this.lastWrite !== null && (this.cleared === null || compareStamp(this.lastWrite, this.cleared) > 0)
  }

  /**
   * The document's encoded size (docs/server.md, Value limits) without building it: what a writer
   * checks `maxDocumentBytes` against. 0 when the document does not exist.
   */
  encodedBytes(): number {
    return this.exists() ? encodedObjectBytes(this.liveCount, this.liveBytes) : 0
  }

  /** How many fields are live, and their encoded bytes together (see `encodedBytes`). */
  get liveFieldCount(): number {
    return this.exists() ? this.liveCount : 0
  }

  get liveFieldBytes(): number {
    return this.exists() ? this.liveBytes : 0
  }

  /** Encoded bytes of one live field (name and value); null when it is not live. */
  fieldBytes(field: string): number | null {
    if (!this.exists()) return null
    const register = this.fields.get(field)
    return register !== undefined && this.isLive(register) ? register.bytes : null
  }

  /** Names of the live fields, for writers that tombstone what a put leaves out. */
  liveFields(): string[] {
    const names: string[] = []
    for (const [field, register] of this.fields) if (this.isLive(register)) names.push(field)
    return names
  }

  /**
   * The stamp a new write to `field` is based on: the field's register, or the document delete
   * that hides it. Null when this replica has seen neither.
   */
  baseFor(field: string): LwwStamp | null {
    return this.effective(field)?.stamp ?? null
  }

  /** Fields with a register not hidden by the last document delete, live or tombstoned. */
  knownFields(): string[] {
    const names: string[] = []
    for (const [field, register] of this.fields) if (!this.isHidden(register)) names.push(field)
    return names
  }

  private buildView(): Readonly<Record<string, unknown>> | null {
    if (!this.exists()) return null
    const live: [string, unknown][] = []
    for (const [field, register] of this.fields) {
      if (this.isLive(register)) live.push([field, register.value])
    }
    live.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return Object.freeze(Object.fromEntries(live))
  }

  private isHidden(register: Register): boolean {
    return isHiddenBy(register, this.cleared)
  }

  private isLive(register: Register | undefined): boolean {
    return isLiveUnder(register, this.cleared)
  }

  /** What a reader sees for `field`: its register, or the document delete hiding it. */
  private effective(field: string): Register | null {
    const register = this.fields.get(field)
    if (register !== undefined && !this.isHidden(register)) return register
    if (this.cleared !== null) return { stamp: this.cleared, deleted: true, value: undefined, base: null, bytes: 0 }
    return register ?? null
  }

  private applyField(write: LwwFieldWrite, stamp: LwwStamp, conflicts: ConflictRecord[]): boolean {
    const current = this.fields.get(write.field)
    if (current !== undefined && compareStamp(current.stamp, stamp) === 0) return false
    const incoming: Register = write.deleted
      ? { stamp, deleted: true, value: undefined, base: write.base, bytes: 0 }
      : { stamp, deleted: false, value: write.value, base: write.base, bytes: fieldBytes(write.field, write.value) }
    const effective = this.effective(write.field)
    if (effective !== null) this.observe(write.field, incoming, effective, conflicts)
    if (current !== undefined && compareStamp(stamp, current.stamp) < 0) return false
    // Older than the document delete: hidden at once, so not kept at all (see dropHidden).
    if (this.isHidden(incoming)) return false
    const wasLive = this.isLive(current)
    this.fields.set(write.field, incoming)
    const isLive = this.isLive(incoming)
    if (wasLive) this.countLive(current as Register, -1)
    if (isLive) this.countLive(incoming, 1)
    return wasLive || isLive
  }

  /** Recomputes the live counts from the registers (after a state merge). */
  private recount(): void {
    this.liveCount = 0
    this.liveBytes = 0
    for (const register of this.fields.values()) if (this.isLive(register)) this.countLive(register, 1)
  }

  private countLive(register: Register, sign: 1 | -1): void {
    this.liveCount += sign
    this.liveBytes += sign * register.bytes
  }

  private applyDocumentDelete(stamp: LwwStamp, conflicts: ConflictRecord[]): boolean {
    if (this.cleared !== null && compareStamp(stamp, this.cleared) <= 0) return false
    const deletion: Register = { stamp, deleted: true, value: undefined, base: null, bytes: 0 }
    let changed = false
    for (const [field, register] of this.fields) {
      // A live register older than the delete, yet not tombstoned by it: the deleter never saw it.
      if (this.isLive(register) && compareStamp(register.stamp, stamp) < 0) {
        this.observe(field, deletion, register, conflicts)
        this.countLive(register, -1)
        changed = true
      }
    }
    this.cleared = stamp
    this.dropHidden()
    return changed
  }

  /** Records a conflict when `incoming` and `current` are concurrent and a value is thrown away. */
  private observe(field: string, incoming: Register, current: Register, conflicts: ConflictRecord[]): void {
    const order = compareStamp(incoming.stamp, current.stamp)
    if (order === 0) return
    const [winner, loser] = order > 0 ? [incoming, current] : [current, incoming]
    if (winner.deleted && loser.deleted) return
    if (winner.base !== null && compareStamp(loser.stamp, winner.base) <= 0) return
    conflicts.push({
      collection: this.collection,
      docId: this.docId,
      field,
      winner: side(winner),
      loser: side(loser),
    })
  }
}

/** A register older than the newest document delete `cleared` is hidden by it. */
function isHiddenBy(register: Register, cleared: LwwStamp | null): boolean {
  return cleared !== null && compareStamp(register.stamp, cleared) < 0
}

/** Live: written (not a tombstone) and not hidden by the document delete `cleared`. */
function isLiveUnder(register: Register | undefined, cleared: LwwStamp | null): boolean {
  return register !== undefined && !register.deleted && !isHiddenBy(register, cleared)
}

function side(register: Register): ConflictRecord['winner'] {
  return { origin: register.stamp.origin, hlc: register.stamp.hlc, value: register.value, deleted: register.deleted }
}

/**
 * Payload that makes the document exactly `doc`: sets its fields and tombstones the fields live at
 * this replica that `doc` leaves out (a field set to `undefined` counts as left out). Wrap it in a
 * change and `apply` it; the replica is not touched here, since the change's stamp is not known yet.
 *
 * @example
 * ```ts
 * const payload = lwwPutPayload(replica, { title: 'hello', done: false })
 * ```
 */
export function lwwPutPayload(replica: LwwReplica, doc: Readonly<Record<string, unknown>>, limits: ValueLimits = DEFAULT_VALUE_LIMITS): Uint8Array {
  if (!isPlainObject(doc)) throw new TypeError('lwwPutPayload: doc must be a plain object')
  const writes: LwwFieldWrite[] = []
  let count = 0
  let bytes = 0
  for (const [field, value] of Object.entries(doc)) {
    if (value === undefined) continue
    bytes += assertLwwValue(value, field, limits)
    count += 1
    writes.push({ field, deleted: false, value, base: replica.baseFor(field) })
  }
  checkDocumentSize(encodedObjectBytes(count, bytes), '$', limits)
  for (const field of replica.liveFields()) {
    if (doc[field] === undefined) writes.push({ field, deleted: true, base: replica.baseFor(field) })
  }
  return encodeLwwPayload({ kind: 'write', writes })
}

/**
 * Payload that sets the given fields and deletes those given as `undefined`, leaving the rest.
 * A patch also (re)creates the document.
 *
 * @example
 * ```ts
 * const payload = lwwPatchPayload(replica, { done: true, dueDate: undefined })
 * ```
 */
export function lwwPatchPayload(replica: LwwReplica, fields: Readonly<Record<string, unknown>>, limits: ValueLimits = DEFAULT_VALUE_LIMITS): Uint8Array {
  if (!isPlainObject(fields)) throw new TypeError('lwwPatchPayload: fields must be a plain object')
  const writes: LwwFieldWrite[] = []
  // The document after the patch, as this replica sees it, from its running size: the fields named,
  // not the whole document [PF3].
  let count = replica.liveFieldCount
  let bytes = replica.liveFieldBytes
  for (const [field, value] of Object.entries(fields)) {
    const before = replica.fieldBytes(field)
    if (before !== null) {
      count -= 1
      bytes -= before
    }
    if (value === undefined) writes.push({ field, deleted: true, base: replica.baseFor(field) })
    else {
      bytes += assertLwwValue(value, field, limits)
      count += 1
      writes.push({ field, deleted: false, value, base: replica.baseFor(field) })
    }
  }
  checkDocumentSize(encodedObjectBytes(count, bytes), '$', limits, 'the patched document')
  return encodeLwwPayload({ kind: 'write', writes })
}

/**
 * Payload that deletes the document: it hides every field written before it, and tombstones each
 * field this replica knows so that conflicts with those fields are judged against what it saw.
 *
 * @example
 * ```ts
 * const payload = lwwDeletePayload(replica)
 * ```
 */
export function lwwDeletePayload(replica: LwwReplica): Uint8Array {
  const writes: LwwFieldWrite[] = replica
    .knownFields()
    .map((field) => ({ field, deleted: true, base: replica.baseFor(field) }))
  return encodeLwwPayload({ kind: 'delete', writes })
}

/** An lww replica from the options every replica factory takes (registry.ts, the client). */
export function lwwReplicaFor({ collection, docId }: CreateReplicaOptions): LwwReplica {
  return new LwwReplica({ collection, docId })
}

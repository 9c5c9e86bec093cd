import * as Automerge from '@automerge/automerge'
import { toHexString } from 'lib0/buffer'
import { encodeUtf8 } from 'lib0/string'
import type { Change } from '../types.js'
import { canonicalView } from './canonical.js'
import { assertChangeFor, assertReplicaOptions } from './check-change.js'
import type { ApplyResult, CreateReplicaOptions, DocumentReplica } from './document-type.js'
import { CrdtPayloadError } from './errors.js'
import { randomUint32, type Random } from './random.js'

/*
 * Loading: `@automerge/automerge` resolves by export condition. Under Node (and vitest) the `node`
 * condition loads the wasm synchronously from disk, so a plain import is ready to use. Browser
 * bundles get the `browser` entry, which imports the .wasm file as an ES module: the bundler must
 * support that (Vite with vite-plugin-wasm, webpack's asyncWebAssembly). For a bundler that does
 * not (esbuild), resolve the package through its plain `import` condition (the base64-inlined
 * wasm), or use `@automerge/automerge/slim` and initialise the wasm before creating replicas.
 */

export type AutomergeDoc = Automerge.Doc<Record<string, unknown>>

export interface AutomergeReplicaOptions {
  readonly collection: string
  readonly docId: string
  /** The local writer's origin; the actor id is derived from it unless `actorId` is given. */
  readonly localOrigin: string
  /** Draws the per-instance part of the derived actor id. */
  readonly random: Random
  /** An explicit Automerge actor id (non-empty, even-length lowercase hex); overrides the derived one. */
  readonly actorId?: string
}

/** Bytes drawn per replica instance and appended to the origin in a derived actor id. */
export const ACTOR_INSTANCE_BYTES = 8

/**
 * The actor id of one replica instance: hex of the origin's UTF-8 bytes, then
 * `ACTOR_INSTANCE_BYTES` drawn from `random`.
 *
 * Automerge actor ids are byte strings written as hex: an even number of hex digits, no fixed length
 * (Automerge's own random ids are 16 bytes). The origin is kept whole, never truncated, so two origins
 * never share an actor, and the origin can be read back from the prefix. The random suffix makes each
 * instance a new actor: Automerge refuses a second change with an (actor, seq) it already holds
 * ("duplicate seq N found for actor"), and rejects the whole batch. With the bare origin as actor, a
 * writer that restarted without its last changes (not yet durable, but already sent) would reuse their
 * seq numbers, and peers would reject its new changes for ever.
 */
export function actorIdForOrigin(origin: string, random: Random): string {
  if (typeof origin !== 'string' || origin === '') throw new Error('actorIdForOrigin: origin must be a non-empty string')
  const suffix = new Uint8Array(ACTOR_INSTANCE_BYTES)
  for (let i = 0; i < suffix.length; i++) suffix[i] = randomUint32(random) >>> 24
  return toHexString(encodeUtf8(origin)) + toHexString(suffix)
}

const ACTOR_ID = /^(?:[0-9a-f]{2})+$/

/**
 * An Automerge document. A change's payload is one Automerge change (binary, as returned by
 * `getLastLocalChange`). `Automerge.applyChanges` ignores changes it already has and queues a change
 * whose dependencies are missing until they arrive [CV1], [CV3]. Nothing is thrown away (Automerge
 * keeps conflicting values, see `Automerge.getConflicts`), so there are no conflict records.
 *
 * Each replica instance edits as its own actor (see `actorIdForOrigin`), so a writer may edit before
 * or after loading its earlier changes, and after losing some of them in a crash.
 *
 * @example
 * ```ts
 * const replica = new AutomergeReplica({ collection: 'notes', docId: 'n1', localOrigin: 'eu-1', random })
 * const payload = automergeEdit(replica, (d) => { d.title = 'hello' })
 * replica.view() // { title: 'hello' }
 * ```
 */
export class AutomergeReplica implements DocumentReplica {
  readonly docType = 'automerge' as const
  readonly collection: string
  readonly docId: string
  readonly actorId: string
  private current: AutomergeDoc
  /**
   * Remote changes go straight to the document's backend (see `apply`); the JavaScript document is
   * rebuilt from it the next time it is asked for, once, rather than patched change by change.
   */
  private behindBackend = false

  constructor(options: AutomergeReplicaOptions) {
    assertReplicaOptions('AutomergeReplica', options)
    const actorId = options.actorId ?? actorIdForOrigin(options.localOrigin, options.random)
    if (!ACTOR_ID.test(actorId)) throw new Error(`AutomergeReplica: actorId must be non-empty even-length lowercase hex, got ${JSON.stringify(actorId)}`)
    this.collection = options.collection
    this.docId = options.docId
    this.actorId = actorId
    this.current = Automerge.init<Record<string, unknown>>({ actor: actorId })
  }

  /**
   * The current Automerge document. Automerge documents are replaced on every change: do not keep
   * this reference across `apply` or `automergeEdit`.
   */
  get doc(): AutomergeDoc {
    if (this.behindBackend) {
      this.current = materialize(Automerge.getBackend(this.current))
      this.behindBackend = false
    }
    return this.current
  }

  /**
   * The document's heads, read from the backend without rebuilding the JavaScript document: with the
   * changes' hashes they name the whole document (the divergence digest, collection-digest.ts).
   */
  heads(): string[] {
    return Automerge.getBackend(this.current).getHeads()
  }

  /** @internal used by `automergeEdit`. */
  replaceDoc(next: AutomergeDoc): void {
    this.current = next
    this.behindBackend = false
  }

  /**
   * Applies the change to the document's backend (the wasm handle) only. `Automerge.applyChanges`
   * would also compute a patch for the JavaScript document, carrying the whole path of every object
   * the change creates: quadratic in nesting depth (a 20 KB change nesting 10 000 maps took ~45 s),
   * and past the wasm heap the module traps and every Automerge document in the process fails from
   * then on ("Module terminated"). The backend's own apply is linear.
   */
  apply(change: Change): ApplyResult {
    assertChangeFor(this, change)
    const backend = Automerge.getBackend(this.current)
    const before = backend.getHeads()
    try {
      backend.applyChanges([change.payload])
    } catch (error) {
      throw new CrdtPayloadError(`automerge change: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
    // Unchanged heads: a duplicate, or a change queued until its dependencies arrive.
    const changed = !sameHeads(before, backend.getHeads())
    if (changed) this.behindBackend = true
    return { changed, conflicts: [] }
  }

  /**
   * The document in Automerge's save format (one compressed document chunk), read from the backend
   * like `view`. Changes queued for missing dependencies are included (Automerge saves them as change
   * chunks after the document).
   */
  encodeState(): Uint8Array {
    return Automerge.getBackend(this.current).save()
  }

  /**
   * Merges a state from `encodeState` (or any Automerge save data) into the backend, linear like
   * `apply` and without a JavaScript patch; changes already held are skipped, so it commutes with
   * `apply` and is idempotent.
   *
   * The backend's `loadIncremental` is lenient: it keeps the chunks it could read and silently drops a
   * truncated or corrupt tail. So the bytes are first loaded strictly (`Automerge.load`, which throws
   * on any chunk it cannot read) into a scratch document that is thrown away; only then are they
   * merged. That reads the state twice. Empty input, which `loadIncremental` takes as "nothing", is
   * refused: `encodeState` never produces it.
   * @throws CrdtPayloadError on bytes Automerge cannot read
   */
  mergeState(state: Uint8Array): { changed: boolean } {
    if (state.length === 0) throw new CrdtPayloadError('automerge state: empty')
    const backend = Automerge.getBackend(this.current)
    const before = backend.getHeads()
    try {
      // The scratch document's actor is ours, so Automerge draws no random actor id (core draws no randomness).
      Automerge.load(state, { actor: this.actorId })
      backend.loadIncremental(state)
    } catch (error) {
      throw new CrdtPayloadError(`automerge state: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
    const changed = !sameHeads(before, backend.getHeads())
    if (changed) this.behindBackend = true
    return { changed }
  }

  /**
   * Reads a message of Automerge's sync protocol from a peer that speaks it (an automerge-repo client):
   * the sync state learns what the message says of the peer (its heads, what it needs and has), and
   * the changes it carries are returned, not applied: the caller logs them, and they apply through
   * `apply` like any change (linear, no JavaScript patch). A change this replica holds is left out; a
   * document chunk (sent to a peer that has nothing) is taken apart into its changes.
   * @throws CrdtPayloadError on a message or a change Automerge cannot read
   */
  readSyncMessage(state: Automerge.SyncState, message: Uint8Array): { state: Automerge.SyncState; changes: Uint8Array[] } {
    let decoded: ReturnType<typeof Automerge.decodeSyncMessage>
    try {
      decoded = Automerge.decodeSyncMessage(message)
      const [next, nextState] = Automerge.receiveSyncMessage(this.doc, state, Automerge.encodeSyncMessage({ ...decoded, changes: [] }))
      this.replaceDoc(next)
      const backend = Automerge.getBackend(this.current)
      const changes: Uint8Array[] = []
      for (const bytes of decoded.changes) {
        for (const change of changesOf(bytes, this.actorId)) {
          if (backend.getChangeByHash(Automerge.decodeChange(change).hash) === null) changes.push(change)
        }
      }
      return { state: nextState, changes }
    } catch (error) {
      if (error instanceof CrdtPayloadError) throw error
      throw new CrdtPayloadError(`automerge sync message: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
  }

  /** The next message of Automerge's sync protocol for a peer in `state`, or null when it has everything. */
  generateSyncMessage(state: Automerge.SyncState): { state: Automerge.SyncState; message: Uint8Array | null } {
    const [next, message] = Automerge.generateSyncMessage(this.doc, state)
    return { state: next, message }
  }

  /**
   * `Automerge.toJS` of the document, keys sorted, with counters as numbers and immutable strings
   * as strings. Text is a string, lists are arrays; dates and byte arrays stay as they are.
   * A document never written views as `{}`.
   */
  view(): Record<string, unknown> {
    // What `Automerge.toJS` does, read from the backend, which may be ahead of `current`.
    return canonicalView(Automerge.getBackend(this.current).materialize('/'), plainLeaf) as Record<string, unknown>
  }
}

export interface AutomergeEditOptions {
  readonly message?: string
  /**
   * Timestamp recorded in the change, in seconds. Defaults to 0: Automerge would otherwise read
   * the wall clock itself, and core stays clock-free (docs/design.md §2); pass the HLC's wall time if wanted.
   */
  readonly timeSec?: number
}

/**
 * Runs `fn` as one Automerge change on the replica's document and returns the encoded change, to be
 * sent as a change payload. When `fn` changes nothing, the payload is an empty change (no operations),
 * so every edit still yields one valid change. The change is already in the replica; applying it again
 * is a no-op.
 *
 * @example
 * ```ts
 * const payload = automergeEdit<{ items: string[] }>(replica, (d) => {
 *   d.items ??= []
 *   d.items.push('milk')
 * })
 * ```
 */
export function automergeEdit<T extends object = Record<string, unknown>>(
  replica: AutomergeReplica,
  fn: (doc: T) => void,
  options: AutomergeEditOptions = {},
): Uint8Array {
  const before = replica.doc
  const changeOptions: Automerge.ChangeOptions<T> = { time: options.timeSec ?? 0 }
  if (options.message !== undefined) changeOptions.message = options.message
  let after = Automerge.change(before as unknown as Automerge.Doc<T>, changeOptions, fn) as unknown as AutomergeDoc
  if (sameHeads(Automerge.getHeads(before), Automerge.getHeads(after))) {
    // Nothing changed, and getLastLocalChange would return an older change (or none).
    after = Automerge.emptyChange(after, changeOptions as Automerge.ChangeOptions<Record<string, unknown>>)
  }
  replica.replaceDoc(after)
  const change = Automerge.getLastLocalChange(after)
  if (change === undefined) throw new Error('automergeEdit: Automerge made a change but reports no local change')
  return change
}

/**
 * A writable JavaScript document showing everything `backend` holds, built the way `Automerge.init`
 * and `Automerge.load` build theirs. The diff cursor moves to the current heads first: the next
 * `Automerge.change` patches the new document with its own edit only, not with what it already shows.
 */
function materialize(backend: ReturnType<typeof Automerge.getBackend>): AutomergeDoc {
  backend.updateDiffCursor()
  return backend.materialize('/', undefined, { handle: backend, heads: undefined, freeze: false, patchCallback: undefined }) as AutomergeDoc
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const set = new Set(a)
  return b.every((head) => set.has(head))
}

function plainLeaf(value: unknown): unknown {
  if (value instanceof Automerge.Counter) return value.value
  if (value instanceof Automerge.ImmutableString) return value.toString()
  return value
}

/** An Automerge replica from the options every replica factory takes (registry.ts, the client's Automerge module). */
export function automergeReplicaFor({ collection, docId, localOrigin, random, automergeActorId }: CreateReplicaOptions): AutomergeReplica {
  return new AutomergeReplica(
    automergeActorId === undefined ? { collection, docId, localOrigin, random } : { collection, docId, localOrigin, random, actorId: automergeActorId },
  )
}

/**
 * The changes in `bytes`, one entry of a sync message's `changes`, in order. An entry holds one or more
 * Automerge chunks back to back — automerge-repo's client puts every change of a throttled sync message
 * into one entry, and the first of them depends on changes outside it, so the entry cannot be loaded
 * on its own. Each chunk is taken by its header: a change (compressed or not) as it is; a document
 * chunk (Automerge's save format, self-contained) loaded strictly into a scratch document (actor
 * `actor`, so Automerge draws no random id) and taken apart; a bundle of changes taken apart and each
 * encoded again (same bytes, same hash). Anything else is loaded whole, as before.
 */
function changesOf(bytes: Uint8Array, actor: string): Uint8Array[] {
  const chunks = splitChunks(bytes)
  if (chunks === null) return Automerge.getAllChanges(Automerge.load(bytes, { actor }))
  return chunks.flatMap((chunk) => {
    const type = chunk[CHUNK_TYPE_OFFSET]
    if (type === CHUNK_CHANGE || type === CHUNK_COMPRESSED_CHANGE) {
      Automerge.decodeChange(chunk) // throws on a malformed one
      return [chunk]
    }
    if (type === CHUNK_DOCUMENT) return Automerge.getAllChanges(Automerge.load(chunk, { actor }))
    return Automerge.readBundle(chunk).changes.map((change) => Automerge.encodeChange(change))
  })
}

/** Automerge's chunk header: magic bytes, checksum (4 bytes), type, then the body's length (unsigned LEB128). */
const CHUNK_MAGIC = [0x85, 0x6f, 0x4a, 0x83] as const
const CHUNK_TYPE_OFFSET = 8
const CHUNK_DOCUMENT = 0
const CHUNK_CHANGE = 1
const CHUNK_COMPRESSED_CHANGE = 2

/** `bytes` cut at the chunk boundaries its headers give; null when it is not a sequence of whole chunks. */
function splitChunks(bytes: Uint8Array): Uint8Array[] | null {
  const chunks: Uint8Array[] = []
  let at = 0
  while (at < bytes.length) {
    if (bytes.length - at <= CHUNK_TYPE_OFFSET + 1) return null
    for (let i = 0; i < CHUNK_MAGIC.length; i++) if (bytes[at + i] !== CHUNK_MAGIC[i]) return null
    let cursor = at + CHUNK_TYPE_OFFSET + 1
    let length = 0
    for (let shift = 0; ; shift += 7) {
      if (cursor >= bytes.length || shift > 28) return null
      const byte = bytes[cursor++] as number
      length += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) break
    }
    const end = cursor + length
    if (end > bytes.length) return null
    // A copy when there are several: a change is logged and kept, and must not hold the whole message.
    chunks.push(at === 0 && end === bytes.length ? bytes : bytes.slice(at, end))
    at = end
  }
  return chunks
}

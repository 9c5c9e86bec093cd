/**
 * What a client can be given beyond last-writer-wins documents (docs/client.md, Bundles): strict
 * collections, Yjs documents, Automerge documents, each from an entry of its own
 * (`meridian/client/strict`, `meridian/client/yjs`, `meridian/client/automerge`), so that an app
 * bundles only what it uses. Types only here: the base client imports none of their code.
 */
import type { FrameExtensions } from '../core/codec/base-codec.js'
import type { Message } from '../core/codec/messages.js'
import type { CreateReplicaOptions, DocumentReplica } from '../core/crdt/document-type.js'
import type { JsonValue } from '../core/strict/types.js'
import type { Timers } from './connection.js'
import type { ClientContext } from './context.js'
import type { ClientStore } from './store.js'
import type { StrictCollection, StrictOps } from './strict-collection.js'
import type { StrictWriteOutcome } from './strict-queue.js'

/** A document type a module brings: the replicas of its documents, and its collections' API. */
export interface ReplicaModule {
  readonly docType: 'yjs' | 'automerge'
  create(options: CreateReplicaOptions): DocumentReplica
  /** `client.yjs(name)` / `client.automerge(name)`: a YjsCollection or an AutomergeCollection. */
  collection(context: ClientContext, name: string): unknown
}

/** What the strict module needs from the client it joins. */
export interface StrictHost {
  /** Sends on the current session; false when there is none. */
  send(message: Message): boolean
  readonly store: ClientStore
  readonly timers: Timers
  readonly now: () => number
  readonly maxInFlight: number | undefined
  readonly clientId: string
  /** Random per client instance (see StrictChannelOptions.requestKeyPrefix). */
  readonly instance: string
  /** A strict write joined or left the queue. */
  onQueueChange(): void
}

/** The strict side of one client: its write queue, its watches and its collections. */
export interface StrictSide {
  collection<T extends JsonValue>(name: string): StrictCollection<T>
  /** A frame of the strict types from the session's region. */
  receive(message: Message): void
  sessionStarted(): void
  sessionEnded(): void
  /** Rejects what is pending with `error`; queued writes stay in the store. */
  close(error: Error): void
  onOutcome(listener: (outcome: StrictWriteOutcome) => void): () => void
  /** What the side's collections run on (a leader tab's hub runs other tabs' calls on it). */
  readonly ops: StrictOps
  /** `epoch:lsn` of the highest committed position seen, or null. */
  readonly token: string | null
  /** Strict writes not answered yet. */
  readonly size: number
  /** Numbers the next write at least `writeId` (a tab taking over from another). */
  numberWritesFrom(writeId: number): void
}

/** One of `strictSupport`, `yjsSupport`, `automergeSupport`: pass them as `createClient({ use })`. */
export interface ClientModule {
  readonly name: 'strict' | 'yjs' | 'automerge'
  /** Frame codecs the module's messages need (strict). */
  readonly frames?: FrameExtensions
  readonly replicas?: ReplicaModule
  readonly strict?: (host: StrictHost) => StrictSide
  /** A strict collection over other ops: in a tab that follows, the leader tab's (client/tab-strict.ts). */
  readonly strictCollection?: <T extends JsonValue>(ops: StrictOps, name: string) => StrictCollection<T>
}

/** The import and option that bring a module, for the errors that say it is missing. */
export function missingModule(name: ClientModule['name'], what: string): TypeError {
  const exported = `${name}Support`
  const hint =
    name === 'automerge'
      ? `import { automergeSupport } from 'meridian/client/automerge' (in a page without a bundler: await loadAutomergeSupport() from /bundle/meridian-automerge.js)`
      : `import { ${exported} } from 'meridian/client/${name}'`
  return new TypeError(`Meridian client: ${what} needs the ${name} module: ${hint}, then createClient({ …, use: [${exported}] }) (meridian/client/node includes every module)`)
}

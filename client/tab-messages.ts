/**
 * What the tabs of one app say to each other over their BroadcastChannel (docs/client.md, "Tabs"): the
 * leader tab runs the one client that holds the store and the connection (the hub); the other tabs
 * follow it. Plain data, structured-cloned by the browser.
 */
import type { DocumentState, Change, DocType, Hlc, VersionVector } from '../core/types.js'
import type { ConnectionStatus } from './connection.js'
import type { ConnectionErrorCode } from './errors.js'
import type { WriteMarks } from './write-status.js'
import type { StrictOps } from './strict-collection.js'
import type { HubStrictState, StrictFollowerMessage, StrictHubMessage } from './tab-strict.js'

/** A write a tab made and applied, for the hub to log as the client's own, with the tab's stamp. */
export interface RelayedWrite {
  readonly collection: string
  readonly docId: string
  readonly docType: DocType
  readonly payload: Uint8Array
  readonly hlc: Hlc
}

/** Everything the hub holds, for a tab that starts following it. */
export interface HubSnapshot {
  readonly clientId: string
  readonly documents: readonly DocumentState[]
  /** What the documents contain, per origin (own changes: those saved in the store). */
  readonly vector: VersionVector
  /** Documents with own writes outstanding, and the highest seq of each. */
  readonly outstanding: readonly (readonly [string, number])[]
  readonly marks: WriteMarks
}

/** The connection as the hub sees it; `error` without its class (structured clone keeps plain data). */
export interface HubConnection {
  readonly status: ConnectionStatus
  readonly reconnecting: boolean
  readonly nodeId: string | null
  readonly region: string | null
  readonly retryInMs: number | null
  readonly error: PlainConnectionError | null
  /** The hub's own writes not yet durable at a region / in every region (strict queue included). */
  readonly unsynced: number
  readonly unreplicated: number
  /** The leader's strict queue and position; null without the strict module. */
  readonly strict: HubStrictState | null
}

export interface PlainConnectionError {
  readonly code: ConnectionErrorCode
  readonly url: string
  readonly closeCode: number | undefined
  readonly serverMessage: string | undefined
  readonly message: string
  readonly fatal: boolean
}

export type FollowerMessage =
  /** A tab (re)starts following: it wants a snapshot. */
  | { readonly t: 'hello'; readonly tab: string }
  /** A write the tab made; `id` counts the tab's writes. */
  | { readonly t: 'write'; readonly tab: string; readonly id: number; readonly write: RelayedWrite }
  /** The tab syncs (`add`) or stops syncing a collection, or one document of it. */
  | { readonly t: 'interest'; readonly tab: string; readonly add: boolean; readonly collection: string; readonly docId: string | null }
  /** The tab is closing. */
  | { readonly t: 'bye'; readonly tab: string }
  | StrictFollowerMessage

export type HubMessage =
  /** A hub started (a tab became the leader): followers say hello and send again what it has not confirmed. */
  | { readonly t: 'hub'; readonly hub: string }
  | { readonly t: 'snapshot'; readonly hub: string; readonly to: string; readonly snapshot: HubSnapshot; readonly connection: HubConnection }
  /**
   * Changes in the order the hub applied them: learnt ones at once, own ones once saved in the store.
   * `relayed` says which of the own ones were which tab's writes.
   */
  | { readonly t: 'changes'; readonly hub: string; readonly changes: readonly Change[]; readonly relayed: readonly RelayedSeq[] }
  /** Documents whose state arrived whole (a state transfer from a region). */
  | { readonly t: 'states'; readonly hub: string; readonly documents: readonly DocumentState[] }
  | { readonly t: 'marks'; readonly hub: string; readonly marks: WriteMarks }
  /**
   * A region refused own write `seq` (docs/security.md, "Refused writes"): every tab replaces its copy
   * of the document with the hub's rebuilt `state` (undefined: the hub holds none), and the tab that
   * made the write rejects its handle.
   */
  | { readonly t: 'rejected'; readonly hub: string; readonly rejection: Rejection; readonly state: DocumentState | undefined }
  | { readonly t: 'connection'; readonly hub: string; readonly connection: HubConnection }
  | StrictHubMessage

/** A `WriteRejectedError` as plain data (structured-cloneable). */
export interface Rejection {
  readonly code: string
  readonly collection: string
  readonly docId: string
  readonly seq: number
  readonly serverMessage: string
}

export interface RelayedSeq {
  readonly tab: string
  readonly id: number
  readonly seq: number
}

export type TabMessage = FollowerMessage | HubMessage

/** What the hub needs from the leader tab's client (client.ts implements it). */
export interface HubPort {
  observe(observer: HubObserver): void
  /** Logs a tab's write as an own change, with the tab's stamp; returns its seq. */
  commitRelayed(write: RelayedWrite): number
  ownChange(seq: number): Change | undefined
  snapshot(): HubSnapshot
  /** One document's state, or undefined when the client holds none. */
  documentState(collection: string, docId: string): DocumentState | undefined
  readonly hasUnsavedOwnChanges: boolean
  readonly writeMarks: WriteMarks
  /** The client's strict ops, or null without the strict module. */
  readonly strictOps: StrictOps | null
}

/** What the leader tab's client tells its hub. */
export interface HubObserver {
  /** A change from another origin was applied. */
  learnt(change: Change): void
  stateMerged(collection: string, docId: string): void
  /** Own changes up to `seq` are saved in the store. */
  ownSaved(seq: number): void
  marks(marks: WriteMarks): void
  /** A region refused own write `rejection.seq`; the client already rebuilt the document. */
  refused(rejection: Rejection): void
}

/** The BroadcastChannel the tabs use (an injectable one in tests). */
export interface TabChannel {
  postMessage(message: TabMessage): void
  onmessage: ((event: { readonly data: unknown }) => void) | null
  close(): void
}

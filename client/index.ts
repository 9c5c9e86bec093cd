/**
 * meridian/client — the browser-safe Meridian client (docs/design.md §8): local replicas of crdt collections
 * that apply writes at once, online or offline, and sync with the regions over one WebSocket with
 * reconnects and region failover. Last-writer-wins documents are built in; strict collections, Yjs and
 * Automerge come as modules from entries of their own (`createClient({ use: [strictSupport] })`, see
 * docs/client.md, Bundles), so that a bundle carries only what the app uses. No Node built-ins here:
 * `meridian/client/node` adds the `ws` WebSocket and every module for Node.
 *
 * @example
 * ```ts
 * import { createClient } from 'meridian/client'
 * const client = createClient({ urls: ['wss://eu.example.com', 'wss://us.example.com'] })
 * const notes = client.lww('notes')
 * const w = notes.put('n1', { title: 'hello' })
 * await w.durable
 * ```
 */
export { createClient, type ClientOptions, type MeridianClient } from './client.js'
export type { LwwCollection, LwwPatch } from './lww-collection.js'
export type { YjsCollection, YjsDocHandle } from './yjs-collection.js'
export type { AutomergeCollection } from './automerge-collection.js'
export type { WriteHandle } from './write-handle.js'
export type { WriteStatus } from './write-status.js'
export type { WriteStatusView } from './context.js'
export type { SyncState } from './sync-state.js'
// Strict collections' types; their code, and helpers such as formatStrictToken, come with
// meridian/client/strict (strictSupport).
export type {
  StrictBatchOp,
  StrictBatchOptions,
  StrictCollection,
  StrictDocument,
  StrictPatch,
  StrictReadOptions,
  StrictReadDefaults,
  StrictWriteOptions,
} from './strict-collection.js'
export type { StrictPendingWrite, StrictWriteOutcome, StrictWriteResult } from './strict-queue.js'
export type { StrictChange, StrictChangeListener, StrictSubscribeOptions } from './strict-watch.js'
export type { ClientModule } from './modules.js'
export { memoryClientStore, type ClientStore, type StoredStrictWrite } from './store.js'
export { ClientClosedError, ConnectionError, isFatalConnectionCode, WriteRejectedError, type ConnectionErrorCode, type WriteRejectedCode } from './errors.js'
// StrictReadFailed and StrictWriteRejected come with meridian/client/strict.
export type { StrictReadFailed, StrictWriteRejected, StrictWriteRejectionCode } from './errors.js'
// Thrown by lww put/patch for a value Meridian does not store (docs/server.md, Value limits).
export { InvalidValueError, DEFAULT_VALUE_LIMITS, type ValueLimits, type ValueRule } from '../core/values/storable-value.js'
export {
  ClientConnection,
  GLOBAL_TIMERS,
  syncUrl,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MIN_DELAY_MS,
  type ConnectionMesh,
  type ConnectionOptions,
  type ConnectionStatus,
  type Timers,
} from './connection.js'
/**
 * @deprecated Renamed `ClientConnection` (the server has its own session class); this alias stays
 * because docs/client.md listed `Connection` among the exports, and will be removed in a later major.
 */
export { ClientConnection as Connection } from './connection.js'
export { backoffDelayMs } from './backoff.js'
export type { WebSocketConstructor, WebSocketLike } from './websocket.js'

// What apps meet in the client's API, from core.
export type { Change, ChangeId, DocType, Hlc, VersionVector } from '../core/types.js'
export type { ConflictRecord } from '../core/crdt/document-type.js'
export type { YjsView } from '../core/crdt/yjs.js'
export type { MeshStats } from '../core/mesh/mesh-node.js'
export type { JsonValue, LogPosition, Precondition, WriteConcern, WriteOp, DocumentOp } from '../core/strict/types.js'
export type { ReadPreference, StrictReadErrorCode, StrictWriteRequest } from '../core/strict/requests.js'
export { CloseCode, closeCodeName, closeReason, type CloseCodeName } from '../core/codec/close-codes.js'
export { PROTOCOL_VERSION } from '../core/codec/messages.js'
export { compareHlc, formatHlc } from '../core/clock/hlc.js'
export {
  decodeVersionVector,
  encodeVersionVector,
  formatVersionVector,
  vvCompare,
  vvDominates,
  vvGet,
} from '../core/clock/version-vector.js'

import type { ConnectionError } from './errors.js'

/**
 * What a UI shows about a client as a whole: where it is connected and how much of what it wrote
 * has not reached a region. One snapshot object per change; the same object while nothing changes.
 *
 * `connection`:
 * - `connecting`: the first attempt of this client is under way;
 * - `connected`: a session with `region` is open and changes flow;
 * - `reconnecting`: a connection failed or was lost; the client tries again (`retryInMs` after the
 *   last failure, or now, when it is `null`), and writes wait in the outbox meanwhile;
 * - `offline`: the client stopped trying: closed, or a fatal error (`error`: `UNAUTHORIZED` …).
 */
export interface SyncState {
  readonly connection: 'connecting' | 'connected' | 'reconnecting' | 'offline'
  /** The region connected to, or null. */
  readonly region: string | null
  /** The node id of that region's server, or null. */
  readonly nodeId: string | null
  /** While `reconnecting`: the delay before the next attempt, as drawn at the last failure; else null. */
  readonly retryInMs: number | null
  /** The fatal error that stopped the client, or null. */
  readonly error: ConnectionError | null
  /** This client's writes not durable at any region yet: crdt changes in the outbox and strict writes not answered. */
  readonly unsynced: number
  /** Own crdt changes not yet durable in every region (includes those counted in `unsynced`). */
  readonly unreplicated: number
}

/** What the snapshot is built from; `sameSyncState` compares two of them field by field. */
export function sameSyncState(a: SyncState, b: SyncState): boolean {
  return (
    a.connection === b.connection &&
    a.region === b.region &&
    a.nodeId === b.nodeId &&
    a.retryInMs === b.retryInMs &&
    a.error === b.error &&
    a.unsynced === b.unsynced &&
    a.unreplicated === b.unreplicated
  )
}

import type { StrictHost, StrictEvent } from './strict-host.js'

/** How a replica's link looks from the primary (PostgreSQL's pg_stat_replication `state`). */
export type ReplicaLinkState = 'connecting' | 'catch-up' | 'streaming'

/**
 * `sync`: the replica semi-sync (`one`) writes currently wait for (the most caught-up durable one);
 * `quorum`: counted towards `majority` and `all` like every replica (PostgreSQL's `sync_state`).
 */
export type ReplicaSyncRole = 'sync' | 'quorum'

export interface ReplicaStatus {
  readonly nodeId: string
  readonly link: ReplicaLinkState
  readonly syncRole: ReplicaSyncRole
  readonly sentLsn: number
  readonly receivedLsn: number
  readonly durableLsn: number
  readonly appliedLsn: number
  /** Behind the primary's last LSN, by what the replica holds durably. ms is null when it holds everything. */
  readonly lag: { readonly entries: number; readonly bytes: number | null; readonly ms: number | null }
  /** Milliseconds since its last reply in this epoch; null if none. */
  readonly lastReplyMs: number | null
  /** Cascading: the relay that streams the log to it now; null when the primary does. */
  readonly via: string | null
}

/** Cascading, on a relay: one member it streams the log to — one hop, its lag measured against this node's log. */
export interface DownstreamStatus {
  readonly nodeId: string
  readonly sentLsn: number
  readonly matchLsn: number
  readonly durableLsn: number
  readonly appliedLsn: number
  readonly lag: { readonly entries: number; readonly bytes: number | null; readonly ms: number | null }
  readonly lastReplyMs: number | null
}

/** The `strict` part of `GET /status` (docs/strict.md). */
export interface StrictStatusBody {
  readonly role: 'primary' | 'replica' | 'candidate'
  readonly epoch: number
  /** The primary this node follows (itself on the primary); null while none is known. */
  readonly primary: string | null
  readonly commitIndex: number
  readonly appliedLsn: number
  readonly durableLsn: number
  readonly lastLsn: number
  readonly lastEpoch: number
  readonly snapshotLsn: number
  /** Semi-sync fell back to `local`: `one` writes are acknowledged without a replica. */
  readonly degraded: boolean
  readonly pendingWrites: number
  /** On a replica: ms since it last heard from the primary (staleness bound of its reads). */
  readonly sincePrimaryContactMs: number | null
  /** [RD3] On a replica: ms since it last had applied everything the primary reported committed. */
  readonly stalenessMs: number | null
  readonly replicas: readonly ReplicaStatus[]
  /** Cascading, on a replica: who streams the log to it now (its relay, or the primary); null on the primary. */
  readonly upstream: string | null
  /** Cascading, on a relay: the members it streams the log to, with the lag of that hop. */
  readonly downstream: readonly DownstreamStatus[]
  readonly storageFailed: string | null
  /** [FO3] This node's failover priority (0: never primary) and the target of a switchover in progress (on the primary). */
  readonly failover?: { readonly priority: number; readonly switchoverTo: string | null }
  readonly counters: { readonly rollbackEntries: number; readonly elections: number }
  readonly events: readonly StrictEvent[]
}

/** How far behind (in entries) a replica may be and still count as streaming rather than catching up. */
const STREAMING_WINDOW = 64

export function strictStatus(host: StrictHost, isLinked: (peer: string) => boolean, nowMs: number): StrictStatusBody {
  const status = host.node.status()
  const last = status.last
  const syncReplica = [...status.replicas].sort((a, b) => b.durableLsn - a.durableLsn)[0]?.id ?? null
  return {
    role: status.role === 'follower' ? 'replica' : status.role,
    epoch: status.epoch,
    primary: status.role === 'primary' ? status.id : status.primaryHint,
    commitIndex: status.commitLsn,
    appliedLsn: status.appliedLsn,
    durableLsn: status.durableLsn,
    lastLsn: last.lsn,
    lastEpoch: last.epoch,
    snapshotLsn: status.prunedLsn,
    degraded: status.degraded,
    pendingWrites: status.pendingWrites,
    sincePrimaryContactMs: status.sincePrimaryContactMs === null ? null : Math.round(status.sincePrimaryContactMs),
    stalenessMs: status.stalenessMs === null ? null : Math.round(status.stalenessMs),
    replicas: status.replicas.map((r) => {
      const linked = isLinked(r.id)
      const lag = host.lag.lag(r.durableLsn, last.lsn, nowMs)
      return {
        nodeId: r.id,
        link: !linked ? 'connecting' : r.matchLsn >= last.lsn - STREAMING_WINDOW && r.lastHeardMs !== null ? 'streaming' : 'catch-up',
        syncRole: r.id === syncReplica ? 'sync' : 'quorum',
        sentLsn: r.sentLsn,
        receivedLsn: r.receivedLsn,
        durableLsn: r.durableLsn,
        appliedLsn: r.appliedLsn,
        lag: roundedLag(lag),
        lastReplyMs: sinceMs(r.lastHeardMs, nowMs),
        via: r.via,
      } satisfies ReplicaStatus
    }),
    upstream: status.upstream,
    downstream: status.downstream.map(
      (d) =>
        ({
          nodeId: d.id,
          sentLsn: d.sentLsn,
          matchLsn: d.matchLsn,
          durableLsn: d.durableLsn,
          appliedLsn: d.appliedLsn,
          lag: roundedLag(host.lag.lag(d.durableLsn, last.lsn, nowMs)),
          lastReplyMs: sinceMs(d.lastHeardMs, nowMs),
        }) satisfies DownstreamStatus,
    ),
    storageFailed: host.storageFailed?.message ?? null,
    failover: { priority: host.node.priorityOf(status.id), switchoverTo: host.node.switchoverTarget },
    counters: { rollbackEntries: host.counters.rollbackEntries, elections: host.counters.elections },
    events: host.events(),
  }
}

function roundedLag(lag: { entries: number; bytes: number | null; ms: number | null }): ReplicaStatus['lag'] {
  return { entries: lag.entries, bytes: lag.bytes, ms: lag.ms === null ? null : Math.round(lag.ms) }
}

function sinceMs(atMs: number | null, nowMs: number): number | null {
  return atMs === null ? null : Math.max(0, Math.round(nowMs - atMs))
}

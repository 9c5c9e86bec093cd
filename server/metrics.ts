import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { MeshStats } from '../core/mesh/index.js'

/** What the metrics read at scrape time; set once the node exists. */
export interface MetricsSource {
  meshStats(): MeshStats
  changes(): number
  clients(): number
  conflictsStored(): number
  peers(): readonly PeerMetrics[]
  /** Per crdt collection: documents and the state digest's low 48 bits (docs/crdt.md "Divergence digest"). */
  collections?(): readonly CollectionMetrics[]
}

export interface CollectionMetrics {
  readonly collection: string
  readonly documents: number
  readonly digestLow48: number
}

export interface PeerMetrics {
  readonly nodeId: string
  readonly connected: boolean
  readonly lagEntries: number
  readonly lagBytes: number
  readonly lagMs: number | null
}

export type ConnectionKind = 'peer' | 'client'

/** Why a frame or a connection was refused; the close-code names plus what the transport adds. */
export type RejectReason =
  | 'BAD_FRAME'
  | 'TOO_LARGE'
  | 'VERSION_MISMATCH'
  | 'UNAUTHORIZED'
  | 'TOKEN_EXPIRED'
  | 'FORBIDDEN'
  | 'OVERLOADED'
  | 'RESYNC_LIMIT'
  | 'TEXT_FRAME'
  | 'HANDLER_ERROR'
  | 'HANDSHAKE_TIMEOUT'

/**
 * One Prometheus registry per server instance (several servers may share a test process), every
 * metric prefixed `meridian_`. Counters that core keeps (`MeshNode.stats`) are mirrored at scrape time.
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics()
 * metrics.bytesIn.inc({ kind: 'peer' }, frame.length)
 * await metrics.registry.metrics() // Prometheus text
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly bytesIn: Counter<'kind'>
  readonly bytesOut: Counter<'kind'>
  readonly framesIn: Counter<'kind'>
  readonly framesOut: Counter<'kind'>
  readonly framesRejected: Counter<'reason'>
  readonly connectionsOverloaded: Counter<'kind'>
  readonly resyncBytes: Counter<'kind'>
  readonly connectionsResyncLimited: Counter<'kind'>
  readonly linkPauses: Counter<'kind'>
  readonly fsyncs: Counter
  readonly fsyncSeconds: Histogram
  readonly groupCommitBatch: Histogram
  readonly restWrites: Counter<'op' | 'ack'>
  readonly storageFailures: Counter
  readonly invalidValues: Counter<'surface'>
  /** Connections and requests refused by a limit (docs/security.md, "Limits"). */
  readonly limitRefusals: Counter<'limit'>
  /** Clients' crdt changes refused and logged void (docs/security.md, "Refused writes"), by code. */
  readonly changesRefused: Counter<'code'>
  private source: MetricsSource | null = null

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry]
    const read = (): MetricsSource | null => this.source
    const mirror = (name: string, help: string, value: (source: MetricsSource) => number): void => {
      let last = 0
      new Counter({
        name,
        help,
        registers,
        collect() {
          const src = read()
          if (src === null) return
          const now = value(src)
          if (now > last) this.inc(now - last)
          last = now
        },
      })
    }
    mirror('meridian_changes_applied_total', 'Changes applied to documents (each at most once).', (s) => s.meshStats().applied)
    mirror('meridian_changes_duplicate_total', 'Changes received again and ignored [CV3].', (s) => s.meshStats().duplicates)
    mirror('meridian_changes_received_total', 'Changes received from peers and clients.', (s) => s.meshStats().receivedChanges)
    mirror('meridian_changes_sent_total', 'Changes sent to peers and clients.', (s) => s.meshStats().sentChanges)
    mirror('meridian_conflicts_total', 'LWW writes that lost to a concurrent write.', (s) => s.meshStats().conflicts)
    mirror('meridian_gap_buffer_overflows_total', 'Out-of-order changes dropped by a full gap buffer.', (s) => s.meshStats().bufferOverflows)
    mirror('meridian_changes_rejected_total', 'Changes whose payload their document type refused; logged, not applied.', (s) => s.meshStats().rejectedPayloads)
    mirror('meridian_clamped_timestamps_total', 'Remote timestamps beyond the clock skew bound [HLC3].', (s) => s.meshStats().clampedTimestamps)

    const gauge = (name: string, help: string, value: (source: MetricsSource) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const src = read()
          if (src !== null) this.set(value(src))
        },
      })
    }
    gauge('meridian_log_changes', 'Changes held in the crdt log.', (s) => s.changes())
    gauge('meridian_connected_clients', 'Clients connected on /sync.', (s) => s.clients())
    gauge('meridian_conflict_records', 'Conflict records kept in memory.', (s) => s.conflictsStored())

    const peerGauge = (name: string, help: string, value: (peer: PeerMetrics) => number | null): void => {
      new Gauge({
        name,
        help,
        labelNames: ['peer'] as const,
        registers,
        collect() {
          const src = read()
          if (src === null) return
          this.reset()
          for (const peer of src.peers()) {
            const v = value(peer)
            if (v !== null) this.set({ peer: peer.nodeId }, v)
          }
        },
      })
    }
    const collectionGauge = (name: string, help: string, value: (c: CollectionMetrics) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['collection'] as const,
        registers,
        collect() {
          const src = read()
          if (src?.collections === undefined) return
          this.reset()
          for (const c of src.collections()) this.set({ collection: c.collection }, value(c))
        },
      })
    }
    collectionGauge('meridian_collection_documents', 'Documents of a crdt collection (empty ones not counted).', (c) => c.documents)
    collectionGauge(
      'meridian_collection_digest',
      'Low 48 bits of the crdt collection\'s state digest: regions with equal vectors must report equal values (docs/crdt.md "Divergence digest").',
      (c) => c.digestLow48,
    )
    peerGauge('meridian_peer_connected', '1 when the link to the peer is up.', (p) => (p.connected ? 1 : 0))
    peerGauge('meridian_peer_lag_entries', 'Changes held here that the peer has not acknowledged durable.', (p) => p.lagEntries)
    peerGauge('meridian_peer_lag_bytes', 'Encoded bytes of those changes.', (p) => p.lagBytes)
    peerGauge('meridian_peer_lag_ms', 'Age of the oldest of those changes by its HLC wall time (0 without lag).', (p) => p.lagMs ?? 0)

    this.invalidValues = new Counter({
      name: 'meridian_invalid_values_total',
      help: 'Writes refused for a value this node does not store (INVALID_VALUE), by surface: rest or sync.',
      labelNames: ['surface'] as const,
      registers,
    })
    this.limitRefusals = new Counter({
      name: 'meridian_limit_refusals_total',
      help: 'Client connections, frames and requests refused by a limit: connectionsPerIp (upgrade refused), writesPerSecond (closed OVERLOADED), documentsPerConnection (closed FORBIDDEN), clientFrameBytes (closed TOO_LARGE / 4413), clientGapBytes (an out-of-order change dropped, resent later), restWritesPerSecond (HTTP 429).',
      labelNames: ['limit'] as const,
      registers,
    })
    this.changesRefused = new Counter({
      name: 'meridian_changes_refused_total',
      help: "Clients' crdt changes refused (logged void, answered Rejected), by code: FORBIDDEN, INVALID_VALUE, TOO_LARGE.",
      labelNames: ['code'] as const,
      registers,
    })
    this.bytesIn = new Counter({ name: 'meridian_bytes_in_total', help: 'WebSocket frame bytes received.', labelNames: ['kind'] as const, registers })
    this.bytesOut = new Counter({ name: 'meridian_bytes_out_total', help: 'WebSocket frame bytes sent.', labelNames: ['kind'] as const, registers })
    this.framesIn = new Counter({ name: 'meridian_frames_in_total', help: 'WebSocket frames received.', labelNames: ['kind'] as const, registers })
    this.framesOut = new Counter({ name: 'meridian_frames_out_total', help: 'WebSocket frames sent.', labelNames: ['kind'] as const, registers })
    this.framesRejected = new Counter({
      name: 'meridian_frames_rejected_total',
      help: 'Frames or handshakes refused, by reason (close-code name).',
      labelNames: ['reason'] as const,
      registers,
    })
    this.connectionsOverloaded = new Counter({
      name: 'meridian_connections_overloaded_total',
      help: 'Connections closed because their send buffer exceeded its bound [PF4].',
      labelNames: ['kind'] as const,
      registers,
    })
    this.resyncBytes = new Counter({
      name: 'meridian_resync_bytes_total',
      help: 'Change bytes resent because a link announced less than it had already held or been sent (charged to its resync budget).',
      labelNames: ['kind'] as const,
      registers,
    })
    this.connectionsResyncLimited = new Counter({
      name: 'meridian_connections_resync_limited_total',
      help: 'Connections closed with RESYNC_LIMIT: their announcements would have made the node resend more than their budget [PF4].',
      labelNames: ['kind'] as const,
      registers,
    })
    this.linkPauses = new Counter({
      name: 'meridian_link_pauses_total',
      help: 'Times a link\'s change stream was held back until its socket drained (slow consumer) [PF4].',
      labelNames: ['kind'] as const,
      registers,
    })
    this.fsyncs = new Counter({ name: 'meridian_fsync_total', help: 'Rounds of the commit loop (one storage flush each, for the crdt changes and the strict log together).', registers })
    this.fsyncSeconds = new Histogram({
      name: 'meridian_fsync_duration_seconds',
      help: 'Duration of storage flushes.',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    })
    this.groupCommitBatch = new Histogram({
      name: 'meridian_group_commit_batch_size',
      help: 'Changes made durable by one flush [PF2].',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096],
      registers,
    })
    this.restWrites = new Counter({
      name: 'meridian_rest_writes_total',
      help: 'REST writes by operation and the acknowledgement they reached.',
      labelNames: ['op', 'ack'] as const,
      registers,
    })
    this.storageFailures = new Counter({ name: 'meridian_storage_failures_total', help: 'Storage errors.', registers })
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'meridian_' })
  }

  setSource(source: MetricsSource): void {
    this.source = source
  }

  rejected(reason: RejectReason): void {
    this.framesRejected.inc({ reason })
  }
}

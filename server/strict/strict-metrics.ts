import { Counter, Gauge, Histogram } from 'prom-client'
import type { WriteOutcome } from '../../core/strict/index.js'
import type { ServerMetrics } from '../metrics.js'
import type { StrictHost } from './strict-host.js'
import { strictStatus } from './strict-status.js'

/**
 * Strict mode in /metrics, `meridian_strict_*`: role, epoch, commit index and degraded flag; per
 * replica (on the primary) offsets and lag in entries, bytes and seconds; per member a relay streams to
 * (cascading) that hop's offsets and lag; write outcomes and latency by concern; rollbacks and elections.
 * Gauges are read from the host at scrape time.
 */
export class StrictMetrics {
  readonly writes: Counter<'concern' | 'outcome' | 'level'>
  readonly writeSeconds: Histogram<'concern'>

  constructor(metrics: ServerMetrics, host: () => StrictHost | null, isLinked: (peer: string) => boolean) {
    const registers = [metrics.registry]
    const scalar = (name: string, help: string, value: (h: StrictHost) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const h = host()
          if (h !== null) this.set(value(h))
        },
      })
    }
    scalar('meridian_strict_epoch', 'Current epoch (term) of this node.', (h) => h.node.currentEpoch)
    scalar('meridian_strict_is_primary', '1 on the primary.', (h) => (h.node.currentRole === 'primary' ? 1 : 0))
    scalar('meridian_strict_commit_lsn', 'Highest LSN known committed (majority-durable).', (h) => h.node.commit)
    scalar('meridian_strict_applied_lsn', 'Highest LSN applied to the state readers see.', (h) => h.node.applied)
    scalar('meridian_strict_durable_lsn', 'Highest LSN fsynced here.', (h) => h.node.durable)
    scalar('meridian_strict_last_lsn', 'Last LSN in this node’s log.', (h) => h.node.lastPosition.lsn)
    scalar('meridian_strict_degraded', '1 while semi-sync (`one`) writes are acknowledged at `local`.', (h) => (h.node.degraded ? 1 : 0))
    scalar('meridian_strict_rollback_entries', 'Entries this node rolled back and recorded (never majority-acknowledged).', (h) => h.counters.rollbackEntries)
    scalar('meridian_strict_elections_won', 'Times this node became primary since it started.', (h) => h.counters.elections)

    type Status = ReturnType<typeof strictStatus>
    /** A gauge with one series per member listed in `list` of this node's status, labelled `replica`. */
    const memberGauge = <T extends { readonly nodeId: string }>(list: (s: Status) => readonly T[], name: string, help: string, value: (m: T) => number | null): void => {
      new Gauge({
        name,
        help,
        labelNames: ['replica'] as const,
        registers,
        collect() {
          const h = host()
          this.reset()
          if (h === null) return
          for (const member of list(strictStatus(h, isLinked, performance.now()))) {
            const v = value(member)
            if (v !== null) this.set({ replica: member.nodeId }, v)
          }
        },
      })
    }
    const replicaGauge = (name: string, help: string, value: (r: Status['replicas'][number]) => number | null): void => memberGauge((s) => s.replicas, name, help, value)
    // Cascading: on a relay, one hop's lag, measured against the relay's own log (the primary's replica gauges are end to end).
    const downstreamGauge = (name: string, help: string, value: (d: Status['downstream'][number]) => number | null): void => memberGauge((s) => s.downstream, name, help, value)
    replicaGauge('meridian_strict_replica_durable_lsn', 'On the primary: LSN each replica holds durably.', (r) => r.durableLsn)
    replicaGauge('meridian_strict_replica_applied_lsn', 'On the primary: LSN each replica applied.', (r) => r.appliedLsn)
    replicaGauge('meridian_strict_replica_lag_entries', 'On the primary: entries a replica does not hold durably yet.', (r) => r.lag.entries)
    replicaGauge('meridian_strict_replica_lag_bytes', 'On the primary: bytes of those entries.', (r) => r.lag.bytes)
    replicaGauge('meridian_strict_replica_lag_seconds', 'On the primary: age of the oldest entry a replica lacks (absent when idle).', (r) => (r.lag.ms === null ? null : r.lag.ms / 1000))
    replicaGauge('meridian_strict_replica_streaming', 'On the primary: 1 when the replica is streaming, 0 when catching up or connecting.', (r) => (r.link === 'streaming' ? 1 : 0))
    downstreamGauge('meridian_strict_downstream_durable_lsn', 'On a relay (cascading): LSN each member it streams to holds durably.', (d) => d.durableLsn)
    downstreamGauge('meridian_strict_downstream_lag_entries', 'On a relay (cascading): entries of this node’s log a member it streams to does not hold durably yet.', (d) => d.lag.entries)
    downstreamGauge('meridian_strict_downstream_lag_bytes', 'On a relay (cascading): bytes of those entries.', (d) => d.lag.bytes)
    downstreamGauge('meridian_strict_downstream_lag_seconds', 'On a relay (cascading): age, since it reached this node, of the oldest entry a member it streams to lacks (absent when idle).', (d) => (d.lag.ms === null ? null : d.lag.ms / 1000))

    this.writes = new Counter({
      name: 'meridian_strict_writes_total',
      help: 'Strict writes decided on this primary, by requested concern, outcome and level reached.',
      labelNames: ['concern', 'outcome', 'level'] as const,
      registers,
    })
    this.writeSeconds = new Histogram({
      name: 'meridian_strict_write_seconds',
      help: 'Time from accepting a strict write to its outcome, by requested concern.',
      labelNames: ['concern'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    })
  }

  outcome(outcome: WriteOutcome, latencyMs: number): void {
    const level = outcome.status === 'acknowledged' ? `${outcome.level}${outcome.degraded ? '-degraded' : ''}` : (outcome.reached ?? 'none')
    this.writes.inc({ concern: outcome.requested, outcome: outcome.status, level })
    this.writeSeconds.observe({ concern: outcome.requested }, latencyMs / 1000)
  }
}

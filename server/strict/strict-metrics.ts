import { Counter, Gauge, Histogram } from 'prom-client'
import type { WriteOutcome } from '../../core/strict/index.js'
import type { ServerMetrics } from '../metrics.js'
import type { StrictHost } from './strict-host.js'
import { strictStatus } from './strict-status.js'

/**
 * Strict mode in /metrics, `meridian_strict_*`: role, epoch, commit index and degraded flag; per
 * replica (on the primary) offsets and lag in entries, bytes and seconds; write outcomes and latency
 * by concern; rollbacks and elections. Gauges are read from the host at scrape time.
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

    const replicaGauge = (name: string, help: string, value: (r: ReturnType<typeof strictStatus>['replicas'][number]) => number | null): void => {
      new Gauge({
        name,
        help,
        labelNames: ['replica'] as const,
        registers,
        collect() {
          const h = host()
          this.reset()
          if (h === null) return
          for (const replica of strictStatus(h, isLinked, performance.now()).replicas) {
            const v = value(replica)
            if (v !== null) this.set({ replica: replica.nodeId }, v)
          }
        },
      })
    }
    replicaGauge('meridian_strict_replica_durable_lsn', 'On the primary: LSN each replica holds durably.', (r) => r.durableLsn)
    replicaGauge('meridian_strict_replica_applied_lsn', 'On the primary: LSN each replica applied.', (r) => r.appliedLsn)
    replicaGauge('meridian_strict_replica_lag_entries', 'On the primary: entries a replica does not hold durably yet.', (r) => r.lag.entries)
    replicaGauge('meridian_strict_replica_lag_bytes', 'On the primary: bytes of those entries.', (r) => r.lag.bytes)
    replicaGauge('meridian_strict_replica_lag_seconds', 'On the primary: age of the oldest entry a replica lacks (absent when idle).', (r) => (r.lag.ms === null ? null : r.lag.ms / 1000))
    replicaGauge('meridian_strict_replica_streaming', 'On the primary: 1 when the replica is streaming, 0 when catching up or connecting.', (r) => (r.link === 'streaming' ? 1 : 0))

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

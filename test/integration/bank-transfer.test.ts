import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/cluster.js'
import { PartitionedCluster } from '../helpers/partitioned-cluster.js'
import { COLLECTIONS, accountId, audit, call, duringPartition, formatTable, lwwStore, runWorkload, strictStore, type Audit, type BankOptions, type RunResult } from './bank/workload.js'

/**
 * Issue 4, item 8 — a first side-by-side comparison (docs/bank-transfer.md): the same bank-transfer
 * workload through a strict `accounts` collection and through an lww `ledger` collection, tellers in
 * all three regions, with the partition {a} | {b, c} for the middle third of the run.
 *
 * Strict must keep the books: no negative balance, the total conserved, every acknowledged transfer
 * recorded and reflected. LWW is not asserted to break (it may not on every run); its numbers are
 * printed next to strict's. `BANK_SEED=<n>` replays a run's teller choices.
 */

const IDS = ['a', 'b', 'c'] as const
const ADMIN_TOKEN = 'bank-admin-token'

/** Fast strict timings (as in test/server/strict.test.ts) so elections take a few hundred ms. */
const FAST_STRICT = { heartbeatIntervalMs: 30, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, semiSyncTimeoutMs: 150, writeTimeoutMs: 3000, readTimeoutMs: 1000 }

const DURATION_MS = 3_000
const OPTIONS: BankOptions = {
  accounts: 10,
  initialBalance: 100,
  tellersPerRegion: 2,
  durationMs: DURATION_MS,
  maxAmount: 30,
  partition: { minority: ['a'], majority: ['b', 'c'], fromMs: DURATION_MS / 3, toMs: (2 * DURATION_MS) / 3 },
  maxRetries: 20,
  seed: Number(process.env.BANK_SEED ?? Date.now() % 1_000_000),
}

describe('bank transfers, strict vs lww, with a partition in the middle', () => {
  let cluster: PartitionedCluster
  const audits: Audit[] = []
  const runs: RunResult[] = []

  beforeAll(async () => {
    cluster = await PartitionedCluster.start({
      ids: IDS,
      config: {
        collections: COLLECTIONS,
        heartbeatIntervalMs: 500,
        reconnect: { minDelayMs: 20, maxDelayMs: 200 },
        strict: FAST_STRICT,
        adminToken: ADMIN_TOKEN,
      },
    })
    await cluster.waitConnected()
    await cluster.waitPrimary()
  })

  afterAll(async () => {
    if (audits.length > 0) {
      const p = OPTIONS.partition
      console.log(
        [
          `bank transfer, ${IDS.length} regions, ${OPTIONS.accounts} accounts × ${OPTIONS.initialBalance}, ${IDS.length * OPTIONS.tellersPerRegion} tellers, ` +
            `${OPTIONS.durationMs} ms, partition {${p.minority.join(',')}} | {${p.majority.join(',')}} for ${p.toMs - p.fromMs} ms (seed ${OPTIONS.seed})`,
          formatTable(audits),
          ...audits.map(
            (a) =>
              `${a.mode}: of ${a.acked} acknowledged transfers, ${a.debitsLost} lost their debit (money created) and ${a.creditsLost} their credit (money destroyed); ` +
              `${a.effective} took effect by the records, ${a.gaveUp} gave up after ${OPTIONS.maxRetries} retries` +
              (a.mode === 'strict' ? `, ${a.staleReads} stale reads (404 at read=primary) read again` : ''),
          ),
          ...runs.map(describeRun),
        ].join('\n'),
      )
    }
    await cluster?.close()
  })

  it('strict: no negative balance, total conserved, every acknowledged transfer recorded and reflected; the minority side is unavailable', async () => {
    await strictStore.setup(cluster, OPTIONS)
    // Put the primary on the minority side, so the partition forces a failover mid-run.
    await promote('a')
    // Straight after the election: a new primary answers read=primary only once its no-op is applied,
    // so it never misses what its predecessor acknowledged (this once answered 404 here).
    for (let i = 0; i < OPTIONS.accounts; i++) {
      const read = await call(cluster.base('a'), 'GET', `/v1/accounts/${accountId(i)}?read=primary`)
      expect(read.status).toBe(200)
    }

    const run = await runWorkload(cluster, strictStore, OPTIONS)
    runs.push(run)
    const result = await audit(cluster, strictStore, OPTIONS, run)
    audits.push(result)

    expect(result.acked).toBeGreaterThan(0)
    expect(result.failed, failures(run)).toBe(0)
    // The invariants.
    expect(result.negative).toBe(0)
    expect(result.min).toBeGreaterThanOrEqual(0)
    expect(result.total).toBe(OPTIONS.accounts * OPTIONS.initialBalance)
    // Every acknowledged transfer: its record exists, and its debit and credit are in the accounts.
    expect(result.recordsMissing).toBe(0)
    expect(result.ackedLost).toBe(0)
    // Every account is exactly initial + incoming − outgoing over the transfer records that exist,
    // and no account reflects a transfer without a record (the batch is atomic).
    expect(result.accountsOff).toBe(0)
    expect(result.unrecorded).toBe(0)
    // [ST1] no read at read=primary ever missed an account (each exists from before the run).
    expect(result.staleReads).toBe(0)

    // [ST1] w=majority cannot be acknowledged on the minority side: a batch sent from region a after
    // the cut and answered before the heal was never acknowledged.
    expect(run.cutAt).toBeGreaterThan(run.startedAt)
    const minority = new Set(OPTIONS.partition.minority)
    const ackedInMinority = run.attempts.filter(
      (a) => minority.has(a.region) && a.outcome === 'acked' && a.sentAt !== null && a.sentAt > run.cutAt && a.endedAt < run.healedAt,
    )
    expect(ackedInMinority.map((a) => a.id)).toEqual([])
  })

  it('lww: the same tellers against an lww ledger (printed, not asserted to break)', async () => {
    await cluster.waitConnected()
    await lwwStore.setup(cluster, OPTIONS)
    await waitFor(async () => {
      for (const id of IDS) {
        const read = await call(cluster.base(id), 'GET', `/v1/ledger/${accountId(OPTIONS.accounts - 1)}`)
        if (read.status !== 200) return false
      }
      return true
    }, 5_000, 'ledger accounts on every node')

    const run = await runWorkload(cluster, lwwStore, OPTIONS)
    runs.push(run)
    const result = await audit(cluster, lwwStore, OPTIONS, run)
    audits.push(result)

    expect(result.acked).toBeGreaterThan(0)
    expect(result.failed, failures(run)).toBe(0)
    // Every acknowledged lww record replicated to every node (settle checked it on all three).
    expect(result.recordsMissing).toBe(0)
  })

  async function promote(id: string): Promise<void> {
    await waitFor(
      async () => {
        if (cluster.primary() === id) return true
        const res = await fetch(`${cluster.base(id)}/admin/promote`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
        await res.arrayBuffer()
        return cluster.primary() === id
      },
      10_000,
      `${id} to become the strict primary`,
      100,
    )
  }
})

function failures(run: RunResult): string {
  const failed = run.attempts.filter((a) => a.outcome === 'failed').slice(0, 5)
  return failed.map((a) => `${a.id}: ${a.detail}`).join('; ')
}

function describeRun(run: RunResult): string {
  const lines = [`${run.mode}: partition applied at +${run.cutAt - run.startedAt} ms, healed at +${run.healedAt - run.startedAt} ms, run ended at +${run.endedAt - run.startedAt} ms`]
  const nodes = (ids: readonly string[]) => (ids.length === 0 ? 'none' : ids.join(' and '))
  if (run.mode === 'strict') {
    lines.push(`  primary when the partition was applied: ${nodes(run.primaryBefore)}; on the majority side when it healed: ${nodes(run.primaryDuring)}`)
  }
  lines.push('  attempts started and finished during the partition, by region:')
  for (const [region, row] of [...duringPartition(run)].sort(([a], [b]) => a.localeCompare(b))) {
    const side = OPTIONS.partition.minority.includes(region) ? 'minority' : 'majority'
    const cells = Object.entries(row)
      .filter(([, n]) => n > 0)
      .map(([outcome, n]) => `${outcome} ${n}`)
    lines.push(`    ${region} (${side}): ${cells.join(', ') || 'none'}`)
  }
  return lines.join('\n')
}

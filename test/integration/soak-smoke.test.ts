/**
 * The soak and the reconnect storm of lab/ (docs/soak-and-storm.md), run small so that `npm test` keeps them
 * working: a soak of a few seconds with one partition and one region restart, and a storm of 300 clients.
 * Outcomes only — nothing acknowledged lost, every region converged, every storm client synced, the region
 * up — never timings or RSS (those are what the full runs report).
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runSoak } from '../../lab/soak-run.js'
import { runStorm } from '../../lab/storm-run.js'

const quiet = () => undefined

describe('lab runs, scaled down', () => {
  it('soak: churning clients, a partition and a restart lose no acknowledged write and converge', async () => {
    const reportPath = join(tmpdir(), `meridian-soak-smoke-${process.pid}.html`)
    try {
      const result = await runSoak({
        entry: 'source',
        durationS: 8,
        partitionEveryS: 3,
        partitionForS: 2,
        restartEveryS: 6,
        warmupS: 0,
        sessions: 8,
        maxRssGrowth: Infinity,
        reportPath,
        log: quiet,
      })
      expect(result.failures).toEqual([])
      expect(result.lost).toEqual([])
      expect(result.partitions).toBeGreaterThanOrEqual(1)
      expect(result.restarts).toBe(1)
      expect(result.acknowledged.lww).toBeGreaterThan(0)
      expect(result.acknowledged.strict).toBeGreaterThan(0)
      expect(Number.isFinite(result.convergedMs)).toBe(true)
    } finally {
      rmSync(reportPath, { force: true })
    }
  })

  it('storm: 300 clients resync after their region is SIGKILLed and relaunched', async () => {
    const result = await runStorm({ entry: 'source', clients: 300, workers: 2, rampPerS: 1000, minDelayMs: 50, maxDelayMs: 500, timeoutS: 60, log: quiet })
    expect(result.failures).toEqual([])
    expect(result.regionStayedUp).toBe(true)
    expect(result.synced).toBe(300)
  })
})

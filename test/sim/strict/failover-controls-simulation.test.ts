import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assertStrictSimulation, strictReplayCase } from './harness.js'
import { runStrictSimulation } from './strict-simulator.js'

/**
 * [FO3] The strict simulator with random failover controls (priorities, noFailover members,
 * maxLagOnFailover) and operator switchovers: every rule of strict-simulation.test.ts still holds, and
 * a noFailover member never becomes primary. Replay a failure with the seed printed in its report:
 * `runStrictSimulation({ seed, nodes, failover: true })`.
 */
const RUNS_PER_CASE = Number(process.env.MERIDIAN_STRICT_FAILOVER_SIM_RUNS) > 0 ? Number(process.env.MERIDIAN_STRICT_FAILOVER_SIM_RUNS) : 150

/** fast-check's seed for the seeds drawn (each run's own seed is in its failure report); printed so a whole batch replays. */
const FC_SEED = Number(process.env.MERIDIAN_STRICT_FAILOVER_SIM_SEED) || Math.floor(Math.random() * 0x7fffffff)

describe.skipIf(strictReplayCase() !== null)('[FO3] simulated strict clusters with failover controls', () => {
  for (const nodes of [3, 5] as const) {
    it(`[FO3][ST1][ST2][ST3][ST4][ST5][FO1][RD1] ${nodes} nodes with random priorities, noFailover members and switchovers keep every rule; no noFailover member becomes primary`, () => {
      console.log(`[FO3] ${RUNS_PER_CASE} schedules of ${nodes} nodes, MERIDIAN_STRICT_FAILOVER_SIM_SEED=${FC_SEED}`)
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
          assertStrictSimulation({ seed, nodes, failover: true })
        }),
        { numRuns: RUNS_PER_CASE, endOnFailure: true, seed: FC_SEED + nodes },
      )
    })
  }

  it('the schedules reach switchovers that hand over and elections under the controls', () => {
    let handedOver = 0
    let refused = 0
    let elections = 0
    for (let seed = 1; seed <= 40; seed++) {
      const { log, stats } = runStrictSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5, failover: true })
      elections += stats.elections
      handedOver += log.filter((line) => / switchover target .* took over$/.test(line)).length
      refused += log.filter((line) => / switchover .*: no-failover$/.test(line)).length
    }
    console.log(`[FO3] 40 schedules: ${elections} elections, ${handedOver} switchovers handed over, ${refused} refused (target noFailover)`)
    expect(elections).toBeGreaterThan(0)
    expect(handedOver).toBeGreaterThan(0)
    expect(refused).toBeGreaterThan(0)
  })
})

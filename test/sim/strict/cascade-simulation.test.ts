import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assertStrictSimulation, DEFAULT_STRICT_RUNS_PER_CASE, strictReplayCase } from './harness.js'
import { RelaysUnmatchedEntriesNode } from './mutants.js'
import { runStrictSimulation } from './strict-simulator.js'

/**
 * Cascading replicas (docs/strict-mode.md, "Cascading replicas") in the strict simulator: random
 * acyclic `replicateFrom` maps (chains and fan-outs), relays crashing, paused and cut off, the primary
 * falling back to streaming itself and back again. Every rule of strict-simulation.test.ts still
 * holds — [FO1] and the commit rule are untouched by who ships the entries — and the cluster settles
 * with every node caught up. Replay a failure with the seed printed in its report:
 * `runStrictSimulation({ seed, nodes, cascade: true })`.
 */
const RUNS_PER_CASE = Number(process.env.MERIDIAN_STRICT_CASCADE_SIM_RUNS) > 0 ? Number(process.env.MERIDIAN_STRICT_CASCADE_SIM_RUNS) : 150

/** fast-check's seed for the seeds drawn (each run's own seed is in its failure report); printed so a whole batch replays. */
const FC_SEED = Number(process.env.MERIDIAN_STRICT_CASCADE_SIM_SEED) || Math.floor(Math.random() * 0x7fffffff)

describe.skipIf(strictReplayCase() !== null)('simulated strict clusters with cascading replicas', () => {
  for (const nodes of [3, 5] as const) {
    it(`[ST1][ST2][ST3][ST4][ST5][FO1][RD1][RD3] ${nodes} nodes with random replicateFrom chains keep every rule and settle`, () => {
      console.log(`[cascade] ${RUNS_PER_CASE} schedules of ${nodes} nodes, MERIDIAN_STRICT_CASCADE_SIM_SEED=${FC_SEED}`)
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
          assertStrictSimulation({ seed, nodes, cascade: true })
        }),
        { numRuns: RUNS_PER_CASE, endOnFailure: true, seed: FC_SEED + nodes },
      )
    })
  }

  it('the schedules really relay: relayed messages flow, and controls with cascades keep the rules too', () => {
    let relayed = 0
    let messages = 0
    for (let seed = 1; seed <= 30; seed++) {
      const { stats } = assertStrictSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5, cascade: true, failover: seed % 3 === 0 })
      relayed += stats.relayed
      messages += stats.messages
    }
    console.log(`[cascade] 30 schedules: ${relayed} of ${messages} messages relayed`)
    expect(relayed).toBeGreaterThan(messages / 50)
  })

  it('[ST1] catches a relay that passes on entries not known to equal the primary\'s log (the simulator has teeth here)', () => {
    let caught: { seed: number; violation: string } | null = null
    for (let seed = 1; seed <= 2 * DEFAULT_STRICT_RUNS_PER_CASE && caught === null; seed++) {
      const result = runStrictSimulation({ seed, nodes: seed % 2 === 0 ? 3 : 5, cascade: true, createNode: (o) => new RelaysUnmatchedEntriesNode(o) })
      // Safety only: a broken node that merely fails to settle has not been caught breaking a rule.
      const violation = result.violations.find((v) => v.startsWith('[ST') && !v.includes('did not settle') && !v.includes('replication loop'))
      if (violation !== undefined) caught = { seed, violation }
    }
    console.log(`[cascade] unmatched relay first caught by seed ${caught?.seed}: ${caught?.violation.slice(0, 100)}`)
    expect(caught, 'the broken relay survived').not.toBeNull()
  })
})

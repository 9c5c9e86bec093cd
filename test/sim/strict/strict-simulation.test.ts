import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assertStrictSimulation, strictReplayCase, strictRunsPerCase } from './harness.js'
import { runStrictSimulation } from './strict-simulator.js'

const replay = strictReplayCase()

describe.skipIf(replay !== null)('simulated strict clusters under faults', () => {
  for (const nodes of [3, 5] as const) {
    it(`[ST1][ST2][ST3][ST4][ST5][ST6][FO1][FO2][RD1][RD2][RD3] ${nodes} nodes keep every rule (and majority registers stay linearizable) under delay, drop, duplication, partitions, crashes, pauses and power loss`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
          assertStrictSimulation({ seed, nodes })
        }),
        { numRuns: strictRunsPerCase(), endOnFailure: true },
      )
    })
  }

  it('the schedules reach the interesting paths (elections, rollbacks, snapshots, indeterminate and majority writes, resends answered as duplicates)', () => {
    const totals = { elections: 0, rollbacks: 0, snapshotsInstalled: 0, indeterminate: 0, majorityAcknowledged: 0, reads: 0, resends: 0, duplicates: 0 }
    for (let seed = 1; seed <= 40; seed++) {
      const { stats } = runStrictSimulation({ seed, nodes: 3 })
      for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += stats[key]
    }
    for (const [key, value] of Object.entries(totals)) expect(value, key).toBeGreaterThan(0)
  })

  it('a seed replays exactly', () => {
    const a = runStrictSimulation({ seed: 424242, nodes: 5 })
    const b = runStrictSimulation({ seed: 424242, nodes: 5 })
    expect(b.log).toEqual(a.log)
  })

  // Seeds that once broke a rule or the checker; add one whenever the simulator finds something.
  it.each([
    { nodes: 5 as const, seed: 893545756, found: 'checker: a primary of a lower epoch elected after a higher one need not hold its entries' },
    { nodes: 3 as const, seed: 784590202, found: 'checker: an old entry first acknowledged in a higher epoch (a resend) is committed there; a lower epoch\'s primary need not hold it' },
    // The runs in which the figure-8 mutant (CommitOldEpochByCountingNode) is first caught: the real node must hold there.
    { nodes: 3 as const, seed: 133, found: 'figure 8: a returning primary crashes right after its first commit, the competing history wins' },
    { nodes: 5 as const, seed: 111, found: 'figure 8: a returning primary crashes right after its first commit, the competing history wins' },
    { nodes: 3 as const, seed: 1174537556, found: 'pre-vote deadlock: the node with the best log has the oldest epoch, and refusals did not tell it the newer one' },
    { nodes: 5 as const, seed: 296531804, found: 'a paused node takes a stale primary\'s append and cuts entries a later primary committed: not a rollback' },
    { nodes: 5 as const, seed: 505444836, found: '[RD3] a replica of a deposed primary took its heartbeats as fresh while a promoted primary committed: staleness counts only rounds a majority confirmed' },
  ])(
    'pinned seed $seed ($nodes nodes): $found',
    ({ nodes, seed }) => {
      assertStrictSimulation({ seed, nodes })
    },
  )
})

describe.runIf(replay !== null)('replay of one strict simulation seed', () => {
  it(`replays ${process.env.MERIDIAN_STRICT_SIM_REPLAY}`, () => {
    if (replay) assertStrictSimulation(replay)
  })
})

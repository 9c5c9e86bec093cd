import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DOC_TYPES } from '../../core/types.js'
import { assertSimulation, replayCase, runsPerCase } from './harness.js'
import { REGRESSION_SEEDS } from './regressions.js'
import { TOPOLOGIES } from './topology.js'

const replay = replayCase()
/** Long runs (MERIDIAN_SIM_RUNS) get time in proportion: an Automerge schedule takes up to ~1 s on a loaded machine. */
const LONG_RUN_TIMEOUT_MS = Math.max(120_000, runsPerCase() * 1_000)

describe.skipIf(replay !== null)('simulated crdt clusters under faults', () => {
  for (const docType of DOC_TYPES) {
    for (const topology of TOPOLOGIES) {
      it(`[CV1][CV2][CV3][HLC1][HLC2] ${docType} documents over a ${topology} converge under drops, duplicates, partitions, crashes and clock jumps`, () => {
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
            assertSimulation({ seed, docType, topology })
          }),
          { numRuns: runsPerCase(), endOnFailure: true },
        )
      }, LONG_RUN_TIMEOUT_MS)
    }
  }

  for (const docType of DOC_TYPES) {
    it(`[RW1][RW2] ${docType}: regions refuse some client writes; none is applied by a region, and every client ends showing what the regions show`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.constantFrom(...TOPOLOGIES), (seed, topology) => {
          assertSimulation({ seed, docType, topology, refuseClientChanges: true })
        }),
        { numRuns: runsPerCase(), endOnFailure: true },
      )
    }, LONG_RUN_TIMEOUT_MS)
  }

  it('[RW1] the refusing simulation does refuse: seeds 1–20 refuse writes in most runs', () => {
    let refused = 0
    for (let seed = 1; seed <= 20; seed++) if (assertSimulation({ seed, docType: 'lww', topology: 'mesh', refuseClientChanges: true }).stats.refusedChanges > 0) refused += 1
    expect(refused).toBeGreaterThan(10)
  })

  it.each(REGRESSION_SEEDS)('[CV2] pinned seed $seed ($docType, $topology): $found', (pinned) => {
    assertSimulation(pinned)
  })
})

describe.runIf(replay !== null)('replay of one simulation seed', () => {
  it(`replays ${process.env.MERIDIAN_SIM_REPLAY}`, () => {
    if (replay) assertSimulation(replay)
  })
})

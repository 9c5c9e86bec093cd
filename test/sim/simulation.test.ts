import fc from 'fast-check'
import { describe, it } from 'vitest'
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

  it.each(REGRESSION_SEEDS)('[CV2] pinned seed $seed ($docType, $topology): $found', (pinned) => {
    assertSimulation(pinned)
  })
})

describe.runIf(replay !== null)('replay of one simulation seed', () => {
  it(`replays ${process.env.MERIDIAN_SIM_REPLAY}`, () => {
    if (replay) assertSimulation(replay)
  })
})

import { describe, expect, it } from 'vitest'
import { DOC_TYPES } from '../../core/types.js'
import { runSimulation } from './simulator.js'

describe('clocks beyond the skew bound', () => {
  for (const docType of DOC_TYPES) {
    it(`[HLC3][CV2] ${docType}: timestamps from clocks minutes ahead are clamped and counted, and replicas still converge`, () => {
      let clamped = 0
      for (let seed = 1; seed <= 10; seed++) {
        const result = runSimulation({
          seed,
          docType,
          topology: 'mesh',
          maxClockSkewMs: 1_000,
          faults: { clockJumps: true, maxClockOffsetMs: 5 * 60_000 },
        })
        // Clamping gives up [HLC2] for the offending writer by design; everything else must hold.
        // Seed 1 (lww) found that a restart after a backward step clamped the node's own history [HLC1].
        const others = result.violations.filter((v) => !v.startsWith('[HLC2]'))
        expect(others, `seed ${seed}:\n${others.join('\n')}`).toEqual([])
        clamped += result.stats.clampedTimestamps
      }
      expect(clamped).toBeGreaterThan(0)
    })
  }
})

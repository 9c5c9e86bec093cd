import { describe, expect, it } from 'vitest'
import { formatFuzzReport, runFuzz } from '../../fuzz/fuzz.js'

/**
 * The fuzz run of `npm run fuzz` (docs/fuzzing.md), scaled down: MERIDIAN_FUZZ_INPUTS inputs (60,000 by
 * default) through the decoders, the strict node and cluster, the crdt payload readers, the crdt mesh and
 * the value checks. Any input that throws something other than the documented typed error, breaks an
 * invariant, or takes over 1 s is a crash. Replay a failure with the printed seed: `FUZZ_SEED=<seed> FUZZ_INPUTS=<n> npm run fuzz`.
 */
const INPUTS = Number(process.env.MERIDIAN_FUZZ_INPUTS) > 0 ? Number(process.env.MERIDIAN_FUZZ_INPUTS) : 60_000
const SEED = Number(process.env.FUZZ_SEED) || Math.floor(Math.random() * 0x7fffffff)

describe('fuzzing (scaled down)', () => {
  it(`[PR1] ${INPUTS} generated inputs: no crash, every target reached both outcomes where it has two`, () => {
    const report = runFuzz({ inputs: INPUTS, seed: SEED })
    const lines = formatFuzzReport(report)
    console.log(lines.join('\n'))
    expect(report.crashes, `replay: FUZZ_SEED=${SEED} FUZZ_INPUTS=${INPUTS} npm run fuzz\n${lines.join('\n')}`).toEqual([])
    for (const target of report.targets) {
      expect(target.inputs).toBeGreaterThan(0)
      // A target that never refuses (or never accepts) anything is not exercising its decoder.
      if (!target.name.startsWith('strict')) expect(target.accepted * target.refused, target.name).toBeGreaterThan(0)
    }
  }, 120_000)
})

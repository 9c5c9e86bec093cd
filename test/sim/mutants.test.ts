import { describe, expect, it } from 'vitest'
import type { HlcClockOptions } from '../../core/clock/hlc.js'
import type { MeshNode, MeshNodeOptions } from '../../core/mesh/index.js'
import { DOC_TYPES } from '../../core/types.js'
import { DEFAULT_RUNS_PER_CASE } from './harness.js'
import { DoubleApplyMesh, EagerSenderMesh, EarlyPruneMesh, ForgetfulForwarderMesh, WallClockOnlyHlc } from './mutants.js'
import { runSimulation, type SimOptions } from './simulator.js'
import type { Topology } from './topology.js'

/** Runs seeds 1…DEFAULT_RUNS_PER_CASE and returns the first failing run's seed and violations. */
function firstFailure(options: Omit<SimOptions, 'seed'>): { seed: number; violations: string[] } | null {
  for (let seed = 1; seed <= DEFAULT_RUNS_PER_CASE; seed++) {
    const result = runSimulation({ ...options, seed })
    if (result.violations.length > 0) return { seed, violations: result.violations }
  }
  return null
}

const mesh = (Kind: new (o: MeshNodeOptions) => MeshNode) => (o: MeshNodeOptions) => new Kind(o)

describe('the simulator catches deliberately broken variants within the default number of runs', () => {
  const cases: { name: string; cites: string; rule: string; topology: Topology; hooks: Pick<SimOptions, 'createMesh' | 'createClock' | 'faults'> }[] = [
    { name: 'a mesh that forgets to forward', cites: '[CV2]', rule: '[CV2]', topology: 'chain', hooks: { createMesh: mesh(ForgetfulForwarderMesh) } },
    { name: 'a mesh that applies duplicates twice', cites: '[CV3]', rule: '[CV3]', topology: 'mesh', hooks: { createMesh: mesh(DoubleApplyMesh) } },
    { name: 'a mesh that sends changes before they are durable', cites: '[CV4][CV1][CV2]', rule: '[CV', topology: 'mesh', hooks: { createMesh: mesh(EagerSenderMesh) } },
    {
      name: 'a mesh that compacts one change too early',
      cites: '[SG3][CV1][CV2]',
      rule: '[CV',
      topology: 'mesh',
      hooks: { createMesh: mesh(EarlyPruneMesh), faults: { compaction: 'members' } },
    },
    {
      name: 'an HLC that trusts the wall clock',
      cites: '[HLC1][HLC2]',
      rule: '[HLC',
      topology: 'mesh',
      hooks: { createClock: (o: HlcClockOptions) => new WallClockOnlyHlc(o) },
    },
  ]
  for (const docType of DOC_TYPES) {
    for (const { name, cites, rule, topology, hooks } of cases) {
      it(`${cites} catches ${name} (${docType})`, () => {
        const failure = firstFailure({ docType, topology, ...hooks })
        expect(failure, `${name} survived ${DEFAULT_RUNS_PER_CASE} runs`).not.toBeNull()
        expect(failure?.violations.some((v) => v.startsWith(rule))).toBe(true)
      })
    }
  }
})

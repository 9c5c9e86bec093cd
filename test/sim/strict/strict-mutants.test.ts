import { describe, expect, it } from 'vitest'
import type { StrictNode, StrictNodeOptions } from '../../../core/strict/index.js'
import { DEFAULT_STRICT_RUNS_PER_CASE } from './harness.js'
import { AckBeforeDurableNode, NoTruncateNode, UnfencedNode, VoteForAnyoneNode } from './mutants.js'
import { runStrictSimulation } from './strict-simulator.js'

function firstFailure(nodes: 3 | 5, createNode: (o: StrictNodeOptions) => StrictNode): { seed: number; violations: string[] } | null {
  for (let seed = 1; seed <= DEFAULT_STRICT_RUNS_PER_CASE; seed++) {
    // Safety violations only: a broken node that merely fails to settle has not been caught breaking a rule.
    const violations = runStrictSimulation({ seed, nodes, createNode }).violations.filter((v) => !v.includes('did not settle') && !v.includes('replication loop'))
    if (violations.length > 0) return { seed, violations }
  }
  return null
}

describe('the strict simulator catches deliberately broken nodes within the default number of runs', () => {
  const cases = [
    { name: 'a node that votes for any candidate', rules: ['[FO1]', '[ST1]', '[ST2]', '[ST4]', '[ST5]'], Kind: VoteForAnyoneNode },
    { name: 'a primary that acknowledges before durability', rules: ['[ST1]', '[FO1]', '[ST2]', '[ST5]'], Kind: AckBeforeDurableNode },
    { name: 'a replica that keeps a conflicting suffix', rules: ['[ST4]', '[ST2]', '[ST1]'], Kind: NoTruncateNode },
    { name: 'a replica that accepts appends from a stale epoch', rules: ['[ST1]', '[ST2]', '[ST4]', '[ST5]'], Kind: UnfencedNode },
  ]
  for (const nodes of [3, 5] as const) {
    for (const { name, rules, Kind } of cases) {
      it(`${rules.join('')} catches ${name} (${nodes} nodes)`, () => {
        const failure = firstFailure(nodes, (o) => new Kind(o))
        console.log(`${name} (${nodes} nodes): first caught by seed ${failure?.seed}: ${failure?.violations[0]?.slice(0, 100)}`)
        expect(failure, `${name} survived ${DEFAULT_STRICT_RUNS_PER_CASE} runs`).not.toBeNull()
        expect(failure?.violations.some((v) => rules.some((rule) => v.startsWith(rule)))).toBe(true)
      })
    }
  }
})

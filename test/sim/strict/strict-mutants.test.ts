import { describe, expect, it } from 'vitest'
import { StrictNode, type StrictNodeOptions } from '../../../core/strict/index.js'
import { DEFAULT_STRICT_RUNS_PER_CASE } from './harness.js'
import { AckBeforeDurableNode, CommitOldEpochByCountingNode, ContactAsStalenessNode, IgnoresRequestKeysNode, NoTruncateNode, StaleReplyCountingNode, UnfencedNode, VoteForAnyoneNode } from './mutants.js'
import { runStaleReplyScenario } from './scenarios.js'
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
    { name: 'a replica that accepts appends from a stale epoch', rules: ['[ST1]', '[ST2]', '[ST4]', '[ST5]', '[RD1]'], Kind: UnfencedNode },
    // Raft's figure 8: reached by the election churn (new primaries cut off, a returning one crashing
    // right after its first commit); caught as the committed entry being rolled back or replaced.
    { name: 'a primary that commits entries of older epochs by counting', rules: ['[ST5]', '[ST2]', '[ST1]', '[FO1]'], Kind: CommitOldEpochByCountingNode },
    { name: 'a replica that reports time since primary contact as its staleness', rules: ['[RD3]'], Kind: ContactAsStalenessNode },
    // At most once: resends of keyed writes whose first copy committed are caught as the key committed twice.
    { name: 'a primary that ignores request keys', rules: ['[ST4] key'], Kind: IgnoresRequestKeysNode },
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

describe('the linearizability check has teeth', () => {
  for (const nodes of [3, 5] as const) {
    it(`[ST1][RD1] catches primaries that answer reads from applied state without a read barrier or waiting for their no-op (${nodes} nodes)`, () => {
      let found: { seed: number; violation: string } | null = null
      for (let seed = 1; seed <= 4 * DEFAULT_STRICT_RUNS_PER_CASE && found === null; seed++) {
        const violation = runStrictSimulation({ seed, nodes, unconfirmedReads: true }).violations.find((v) => v.includes('not linearizable'))
        if (violation !== undefined) found = { seed, violation }
      }
      console.log(`reads without a barrier (${nodes} nodes): first caught by seed ${found?.seed}`)
      expect(found, 'stale primary reads were never caught').not.toBeNull()
    })
  }
})

describe('scripted interleavings catch what the seeded schedules do not reach', () => {
  it('[ST1][ST2] catches a primary that counts append replies of older epochs (stale-reply scenario)', () => {
    const { violations, log } = runStaleReplyScenario((o) => new StaleReplyCountingNode(o))
    expect(violations, log.join('\n')).toContain('[ST1] a committed 2:2 held durably only by a')
    expect(violations.some((v) => v.startsWith('[ST2] two different entries committed at lsn 2'))).toBe(true)
  })

  it('the real node passes the stale-reply scenario', () => {
    const { violations, log } = runStaleReplyScenario((o) => new StrictNode(o))
    expect(violations, log.join('\n')).toEqual([])
  })
})

import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runStrictSimulation, type StrictSimOptions, type StrictSimResult } from './strict-simulator.js'

/** Seeded schedules per cluster size (3 and 5 nodes) in `npm test`. */
export const DEFAULT_STRICT_RUNS_PER_CASE = 500

/** `MERIDIAN_STRICT_SIM_RUNS` is the total budget across the two cluster sizes. */
export function strictRunsPerCase(): number {
  const total = Number(process.env.MERIDIAN_STRICT_SIM_RUNS)
  return Number.isFinite(total) && total > 0 ? Math.max(1, Math.ceil(total / 2)) : DEFAULT_STRICT_RUNS_PER_CASE
}

/** `MERIDIAN_STRICT_SIM_REPLAY=5:12345` replays one run (cluster size : seed). */
export function strictReplayCase(): { nodes: 3 | 5; seed: number } | null {
  const raw = process.env.MERIDIAN_STRICT_SIM_REPLAY
  if (!raw) return null
  const [nodes, seed] = raw.split(':')
  return { nodes: Number(nodes) === 5 ? 5 : 3, seed: Number(seed) }
}

export function strictReplayCommand(options: Pick<StrictSimOptions, 'nodes' | 'seed'>): string {
  return `MERIDIAN_STRICT_SIM_REPLAY=${options.nodes}:${options.seed} npx vitest run test/sim/strict`
}

/** Runs one strict simulation and throws a readable report (seed, replay command, rules, log) when it broke a rule. */
export function assertStrictSimulation(options: StrictSimOptions): StrictSimResult {
  const result = runStrictSimulation(options)
  if (result.violations.length === 0) return result
  const file = join(tmpdir(), `meridian-strict-sim-${options.nodes}-${options.seed}.log`)
  writeFileSync(file, result.log.join('\n') + '\n')
  throw new Error(
    [
      `strict simulation seed ${options.seed} (${options.nodes} nodes) broke ${result.violations.length} rule(s)`,
      `replay: ${strictReplayCommand(options)}`,
      ...result.violations.map((v) => `  - ${v}`),
      `operation log (last 40 of ${result.log.length} lines; all in ${file}):`,
      ...result.log.slice(-40).map((line) => `    ${line}`),
    ].join('\n'),
  )
}

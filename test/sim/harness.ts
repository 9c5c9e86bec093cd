import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DocType } from '../../core/types.js'
import { runSimulation, type SimOptions, type SimResult } from './simulator.js'
import type { Topology } from './topology.js'

/** Default number of seeded schedules per (document type, topology) case in `npm test`. */
export const DEFAULT_RUNS_PER_CASE = 40

/**
 * `MERIDIAN_SIM_RUNS` is the total budget of schedules across the nine (type × topology) cases;
 * `npm test` runs 9 × DEFAULT_RUNS_PER_CASE.
 */
export function runsPerCase(): number {
  const total = Number(process.env.MERIDIAN_SIM_RUNS)
  return Number.isFinite(total) && total > 0 ? Math.max(1, Math.ceil(total / 9)) : DEFAULT_RUNS_PER_CASE
}

/** `MERIDIAN_SIM_REPLAY=lww:chain:12345` replays exactly one failing run. */
export function replayCase(): { docType: DocType; topology: Topology; seed: number; refuseClientChanges?: boolean } | null {
  const raw = process.env.MERIDIAN_SIM_REPLAY
  if (!raw) return null
  const [docType, topology, seed, refuse] = raw.split(':')
  return { docType: docType as DocType, topology: topology as Topology, seed: Number(seed), ...(refuse === 'refuse' ? { refuseClientChanges: true } : {}) }
}

export function replayCommand(options: Pick<SimOptions, 'docType' | 'topology' | 'seed' | 'refuseClientChanges'>): string {
  const refuse = options.refuseClientChanges === true ? ':refuse' : ''
  return `MERIDIAN_SIM_REPLAY=${options.docType}:${options.topology}:${options.seed}${refuse} npx vitest run test/sim`
}

/**
 * Runs one simulation and throws a readable report when it broke a rule: the seed, the replay
 * command, the violations, and the operation log (tail inline, whole log in a file).
 */
export function assertSimulation(options: SimOptions): SimResult {
  const result = runSimulation(options)
  if (result.violations.length === 0) return result
  const file = join(tmpdir(), `meridian-sim-${options.docType}-${options.topology}-${options.seed}.log`)
  writeFileSync(file, result.log.join('\n') + '\n')
  throw new Error(
    [
      `simulation seed ${options.seed} (${options.docType}, ${options.topology}) broke ${result.violations.length} rule(s)`,
      `replay: ${replayCommand(options)}`,
      ...result.violations.map((v) => `  - ${v}`),
      `operation log (last 40 of ${result.log.length} lines; all in ${file}):`,
      ...result.log.slice(-40).map((line) => `    ${line}`),
    ].join('\n'),
  )
}

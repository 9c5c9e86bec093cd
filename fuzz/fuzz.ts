import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ALL_TARGETS } from './all-targets.js'
import { FuzzRandom, type FuzzTarget } from './targets.js'

/**
 * An input slower than this is reported as a crash: a hang in the making (docs/fuzzing.md). Not lower: at
 * 250 ms a 22-byte frame that decodes in 0.02 ms tripped it once in 10M inputs (a garbage-collection pause
 * on a busy 2-core machine), and a real hang is caught at any bound.
 */
export const SLOW_INPUT_MS = 1_000

export interface TargetReport {
  readonly name: string
  inputs: number
  accepted: number
  refused: number
  crashes: number
  ms: number
  slowestMs: number
}

export interface Crash {
  readonly target: string
  readonly seed: number
  readonly index: number
  readonly error: string
  readonly inputHex: string
}

export interface FuzzReport {
  readonly seed: number
  readonly targets: TargetReport[]
  readonly crashes: Crash[]
  /** Where the crashing inputs were written (null when none). */
  readonly crashFile: string | null
}

/**
 * Runs `inputs` generated inputs, split over the targets by weight, from `seed`. Every target gets its own
 * stream (seed + its index), so a crash replays with the same seed and budget. Never throws for a crash:
 * each is recorded with its input.
 */
export function runFuzz(options: { inputs: number; seed: number; targets?: readonly FuzzTarget[]; onProgress?: (line: string) => void }): FuzzReport {
  const targets = options.targets ?? ALL_TARGETS
  const totalWeight = targets.reduce((sum, t) => sum + t.weight, 0)
  const reports: TargetReport[] = []
  const crashes: Crash[] = []
  targets.forEach((target, t) => {
    const budget = Math.max(1, Math.round((options.inputs * target.weight) / totalWeight))
    const random = new FuzzRandom(options.seed + t * 7919)
    const fuzzCase = target.setup(random)
    const report: TargetReport = { name: target.name, inputs: 0, accepted: 0, refused: 0, crashes: 0, ms: 0, slowestMs: 0 }
    reports.push(report)
    const started = performance.now()
    let lastProgress = started
    for (let i = 0; i < budget; i++) {
      const at = performance.now()
      let input: Uint8Array = new Uint8Array()
      try {
        const result = fuzzCase.run(random)
        if (result.outcome === 'accepted') report.accepted += 1
        else report.refused += 1
      } catch (err) {
        input = fuzzCase.current
        report.crashes += 1
        if (crashes.length < 100) crashes.push({ target: target.name, seed: options.seed, index: i, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), inputHex: Buffer.from(input).toString('hex') })
      }
      const took = performance.now() - at
      if (took > report.slowestMs) report.slowestMs = took
      if (took > SLOW_INPUT_MS) {
        report.crashes += 1
        if (crashes.length < 100) crashes.push({ target: target.name, seed: options.seed, index: i, error: `one input took ${Math.round(took)} ms`, inputHex: Buffer.from(fuzzCase.current).toString('hex') })
      }
      report.inputs += 1
      if (options.onProgress && at - lastProgress > 10_000) {
        lastProgress = at
        options.onProgress(`  ${target.name}: ${report.inputs.toLocaleString('en-US')} / ${budget.toLocaleString('en-US')} inputs, ${report.crashes} crashes`)
      }
    }
    report.ms = performance.now() - started
  })
  let crashFile: string | null = null
  if (crashes.length > 0) {
    crashFile = join(tmpdir(), `meridian-fuzz-${options.seed}.json`)
    writeFileSync(crashFile, JSON.stringify(crashes, null, 2))
  }
  return { seed: options.seed, targets: reports, crashes, crashFile }
}

/** The report as a table. */
export function formatFuzzReport(report: FuzzReport): string[] {
  const lines = [`seed ${report.seed}`, 'target | inputs | accepted | refused (typed) | crashes | inputs/s | slowest input']
  for (const t of report.targets) {
    lines.push(`${t.name} | ${t.inputs.toLocaleString('en-US')} | ${t.accepted.toLocaleString('en-US')} | ${t.refused.toLocaleString('en-US')} | ${t.crashes} | ${Math.round(t.inputs / (t.ms / 1000)).toLocaleString('en-US')} | ${t.slowestMs.toFixed(1)} ms`)
  }
  const total = report.targets.reduce((n, t) => n + t.inputs, 0)
  const crashes = report.targets.reduce((n, t) => n + t.crashes, 0)
  const ms = report.targets.reduce((n, t) => n + t.ms, 0)
  lines.push(`total | ${total.toLocaleString('en-US')} | | | ${crashes} | ${Math.round(total / (ms / 1000)).toLocaleString('en-US')} | ${(ms / 1000).toFixed(1)} s`)
  for (const c of report.crashes.slice(0, 10)) lines.push(`CRASH ${c.target} #${c.index}: ${c.error}\n  input ${c.inputHex.slice(0, 400)}`)
  if (report.crashFile !== null) lines.push(`every crashing input: ${report.crashFile}`)
  return lines
}

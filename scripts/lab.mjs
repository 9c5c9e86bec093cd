#!/usr/bin/env node
// `npm run lab`: the long runs that do not belong in `npm test` — many more simulator schedules, the
// bank-transfer comparison repeated with fresh seeds, and the strict benchmark. Every step is bounded
// and stops by itself; the lab exits non-zero if any step failed. Sizes come from the environment:
//
//   LAB_STRICT_SIM_RUNS (20000)  strict simulator schedules, split over 3 and 5 nodes
//   LAB_STRICT_EXTRA_RUNS (2000) schedules per cluster size of the strict simulator with failover controls, and with cascading replicas
//   LAB_SIM_RUNS        (2000)   crdt simulator schedules, split over the nine document/topology cases
//   LAB_BANK_RUNS       (5)      bank-transfer runs (strict vs lww under a partition), each a fresh seed
//   LAB_VALUE_RUNS      (2000)   hostile JSON documents through REST and the client on real processes (issue 9)
//   LAB_BENCH           (1)      0 skips `npm run bench:strict`
//   LAB_STEP_TIMEOUT_MS (3600000) a step still running after this is killed and counted as failed
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const number = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback)
  return Number.isFinite(value) && value >= 0 ? value : fallback
}
const strictRuns = number('LAB_STRICT_SIM_RUNS', 20_000)
const strictExtraRuns = number('LAB_STRICT_EXTRA_RUNS', 2_000)
const simRuns = number('LAB_SIM_RUNS', 2_000)
const bankRuns = number('LAB_BANK_RUNS', 5)
const valueRuns = number('LAB_VALUE_RUNS', 2_000)
const bench = number('LAB_BENCH', 1) !== 0
const stepTimeoutMs = number('LAB_STEP_TIMEOUT_MS', 3_600_000)
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')

/** Runs one step with inherited output; resolves with whether it passed and how long it took. */
function run(name, args, env = {}) {
  return new Promise((resolve) => {
    const started = Date.now()
    process.stdout.write(`\n[lab] ${name}\n`)
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
    const timer = setTimeout(() => {
      process.stdout.write(`[lab] ${name}: still running after ${stepTimeoutMs} ms, stopping it\n`)
      child.kill('SIGKILL')
    }, stepTimeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const seconds = ((Date.now() - started) / 1000).toFixed(0)
      const passed = code === 0
      process.stdout.write(`[lab] ${name}: ${passed ? 'passed' : `FAILED (${signal ?? `exit ${code}`})`} in ${seconds} s\n`)
      resolve({ name, passed, seconds })
    })
  })
}

const steps = []
if (strictRuns > 0) {
  steps.push(() => run(`strict simulator, ${strictRuns} schedules`, [vitest, 'run', 'test/sim/strict/strict-simulation.test.ts'], { MERIDIAN_STRICT_SIM_RUNS: String(strictRuns) }))
}
if (strictExtraRuns > 0) {
  steps.push(() => run(`strict simulator with failover controls, ${strictExtraRuns} schedules per size`, [vitest, 'run', 'test/sim/strict/failover-controls-simulation.test.ts'], { MERIDIAN_STRICT_FAILOVER_SIM_RUNS: String(strictExtraRuns) }))
  steps.push(() => run(`strict simulator with cascading replicas, ${strictExtraRuns} schedules per size`, [vitest, 'run', 'test/sim/strict/cascade-simulation.test.ts'], { MERIDIAN_STRICT_CASCADE_SIM_RUNS: String(strictExtraRuns) }))
}
if (simRuns > 0) {
  steps.push(() => run(`crdt simulator, ${simRuns} schedules`, [vitest, 'run', 'test/sim/simulation.test.ts'], { MERIDIAN_SIM_RUNS: String(simRuns) }))
}
for (let i = 1; i <= bankRuns; i++) {
  steps.push(() => run(`bank transfer ${i}/${bankRuns}`, [vitest, 'run', 'test/integration/bank-transfer.test.ts'], { BANK_SEED: String(Date.now() % 1_000_000) }))
}
if (valueRuns > 0) {
  steps.push(() => run(`hostile values, ${valueRuns} documents`, [vitest, 'run', 'test/integration/values.test.ts'], { MERIDIAN_VALUE_RUNS: String(valueRuns) }))
}
if (bench) steps.push(() => run('strict benchmark', ['--import', 'tsx', 'bench/strict.ts']))

const results = []
for (const step of steps) results.push(await step())
process.stdout.write('\n[lab] summary\n')
for (const r of results) process.stdout.write(`  ${r.passed ? 'ok  ' : 'FAIL'}  ${r.name} (${r.seconds} s)\n`)
process.exit(results.every((r) => r.passed) ? 0 : 1)

import { readFileSync, writeFileSync } from 'node:fs'

/**
 * What every workload of `npm run bench` reports, in one shape, so that the runner can print one table,
 * write one JSON file, draw the HTML charts and compare each figure with the stored baseline.
 */

/** One measured number. `id` is stable across runs (the baseline is keyed by it). */
export interface Figure {
  /** 'W1' … 'W7'. */
  readonly workload: string
  /** Stable key, e.g. 'W1.rate20.meridian.p99Ms'. */
  readonly id: string
  /** The server (or side) measured: 'meridian', 'y-websocket', 'hocuspocus', 'automerge-repo', 'raw-ws', … */
  readonly server: string
  /** What was measured, for the table: 'p99 update → other clients, 20/s/client'. */
  readonly label: string
  readonly value: number
  readonly unit: string
  /** Which way is better, for the baseline comparison; 'none' is never flagged. */
  readonly better: 'higher' | 'lower' | 'none'
}

/** A goal of the issue, judged in the same run. `met` is null when it could not be judged. */
export interface Goal {
  readonly workload: string
  readonly text: string
  readonly met: boolean | null
  /** The figures behind the verdict, e.g. '1.8× y-websocket, 2.6× Hocuspocus'. */
  readonly detail: string
}

/** Latency samples (ms) kept for the HTML page's distribution charts. */
export interface Distribution {
  readonly workload: string
  readonly id: string
  readonly server: string
  readonly label: string
  readonly samplesMs: readonly number[]
}

/** Everything a workload hands back. `notes` are lines printed under the table (conditions, caveats). */
export class WorkloadResults {
  readonly figures: Figure[] = []
  readonly goals: Goal[] = []
  readonly distributions: Distribution[] = []
  readonly notes: string[] = []

  constructor(readonly workload: string) {}

  figure(id: string, server: string, label: string, value: number, unit: string, better: Figure['better']): number {
    this.figures.push({ workload: this.workload, id: `${this.workload}.${id}`, server, label, value, unit, better })
    return value
  }

  goal(text: string, met: boolean | null, detail: string): void {
    this.goals.push({ workload: this.workload, text, met, detail })
  }

  distribution(id: string, server: string, label: string, samplesMs: readonly number[]): void {
    this.distributions.push({ workload: this.workload, id: `${this.workload}.${id}`, server, label, samplesMs })
  }

  note(line: string): void {
    this.notes.push(line)
  }
}

/** The p-th percentile (0–100) of samples, nearest rank; NaN when empty. Does not modify `samples`. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] as number
}

/** Progress for the terminal: one line on stderr, so stdout keeps only the tables. */
export function progress(workload: string, message: string): void {
  process.stderr.write(`[bench ${workload}] ${message}\n`)
}

/** Options every workload receives from the runner. */
export interface WorkloadOptions {
  /** `--quick`: shorter phases, for checking that a workload works; figures are not comparable. */
  readonly quick: boolean
}

export type Workload = (options: WorkloadOptions) => Promise<WorkloadResults>

/**
 * The benchmarks that run as scripts of their own (bench/replication.ts, bench/strict.ts) hand their
 * figures to the runner through a JSON file named by this variable; run alone, they only print tables.
 */
export const FIGURES_FILE_ENV = 'MERIDIAN_BENCH_FIGURES'

export function writeFiguresFile(all: readonly WorkloadResults[]): void {
  const path = process.env[FIGURES_FILE_ENV]
  if (path === undefined || path === '') return
  writeFileSync(path, JSON.stringify(all))
}

export function readFiguresFile(path: string): WorkloadResults[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as WorkloadResults[]
  return parsed.map((plain) => Object.assign(new WorkloadResults(plain.workload), plain))
}

/**
 * The stored baseline (bench/baseline.json): the figures of a chosen earlier run. Every figure of a new
 * run is printed with its ratio to the baseline's, and flagged when it is more than 10 % worse in the
 * direction that matters; `npm run bench -- --save-baseline` replaces the baseline with the run.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import type { Figure } from './figures.js'

export const REGRESSION_THRESHOLD = 0.1

export interface Baseline {
  readonly savedAt: string
  readonly machine: string
  readonly commit: string
  readonly values: Record<string, number>
}

export function loadBaseline(path: string): Baseline | null {
  if (!existsSync(path)) return null
  return JSON.parse(readFileSync(path, 'utf8')) as Baseline
}

export function saveBaseline(path: string, figures: readonly Figure[], machine: string, commit: string, savedAt: string): void {
  const values: Record<string, number> = {}
  for (const f of figures) if (Number.isFinite(f.value)) values[f.id] = f.value
  writeFileSync(path, `${JSON.stringify({ savedAt, machine, commit, values } satisfies Baseline, null, 2)}\n`)
}

export interface Comparison {
  /** value / baseline value; NaN without a baseline figure. */
  readonly ratio: number
  /** Worse than the baseline by more than REGRESSION_THRESHOLD, in the figure's direction. */
  readonly regression: boolean
}

export function compare(figure: Figure, baseline: Baseline | null): Comparison {
  const base = baseline?.values[figure.id]
  if (base === undefined || !Number.isFinite(figure.value) || base === 0) return { ratio: NaN, regression: false }
  const ratio = figure.value / base
  const regression =
    (figure.better === 'higher' && ratio < 1 - REGRESSION_THRESHOLD) || (figure.better === 'lower' && ratio > 1 + REGRESSION_THRESHOLD)
  return { ratio, regression }
}

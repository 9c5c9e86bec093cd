/**
 * The HTML page of a `npm run bench` run: one self-contained file (inline SVG, no script, no external
 * resource) with the machine, the goals, every figure with its ratio to the baseline, the latency
 * distributions of each workload as cumulative curves, and throughput per server core-second as bars.
 */
import { compare, type Baseline } from './baseline.js'
import type { Distribution, Figure, WorkloadResults } from './figures.js'

const COLOURS: Record<string, string> = {
  meridian: '#1f6feb',
  'y-websocket': '#d29922',
  hocuspocus: '#8250df',
  'automerge-repo': '#2da44e',
  'raw-ws': '#6e7781',
  disk: '#6e7781',
}
const fallbackColours = ['#cf222e', '#0a7ea4', '#bf8700', '#57606a']

function colour(server: string, index: number): string {
  return COLOURS[server] ?? (fallbackColours[index % fallbackColours.length] as string)
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a'
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2
  return `${value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`
}

/** Cumulative distributions (x: latency on a log scale, y: share of samples) of one workload. */
function cdfChart(title: string, distributions: readonly Distribution[]): string {
  const width = 640
  const height = 300
  const left = 50
  const bottom = 40
  const plotW = width - left - 150
  const plotH = height - bottom - 20
  const all = distributions.flatMap((d) => d.samplesMs).filter((v) => v > 0)
  if (all.length === 0) return ''
  const lo = Math.max(0.01, Math.min(...all))
  const hi = Math.max(...all) * 1.05
  const x = (ms: number) => left + (Math.log10(Math.max(ms, lo) / lo) / Math.log10(hi / lo)) * plotW
  const y = (share: number) => 20 + (1 - share) * plotH
  const lines = distributions.map((d, i) => {
    const sorted = [...d.samplesMs].sort((a, b) => a - b)
    const step = Math.max(1, Math.floor(sorted.length / 400))
    const points: string[] = []
    for (let k = 0; k < sorted.length; k += step) points.push(`${x(sorted[k] as number).toFixed(1)},${y((k + 1) / sorted.length).toFixed(1)}`)
    points.push(`${x(sorted[sorted.length - 1] as number).toFixed(1)},${y(1).toFixed(1)}`)
    const c = colour(d.server, i)
    // A server's second and later series are dashed, so that two curves of one colour stay apart.
    const dash = distributions.slice(0, i).some((o) => o.server === d.server) ? ' stroke-dasharray="6 3"' : ''
    return (
      `<polyline fill="none" stroke="${c}" stroke-width="2"${dash} points="${points.join(' ')}"/>` +
      `<line x1="${left + plotW + 8}" y1="${29 + i * 18}" x2="${left + plotW + 22}" y2="${29 + i * 18}" stroke="${c}" stroke-width="3"${dash}/>` +
      `<text x="${left + plotW + 26}" y="${33 + i * 18}" font-size="11">${escape(d.server)}${distributions.filter((o) => o.server === d.server).length > 1 ? ` ${escape(d.id.split('.').slice(1, -1).join('.') || d.label)}` : ''}</text>`
    )
  })
  const ticks: string[] = []
  for (let decade = Math.floor(Math.log10(lo)); 10 ** decade <= hi; decade++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** decade
      if (v < lo || v > hi) continue
      ticks.push(`<line x1="${x(v)}" y1="20" x2="${x(v)}" y2="${20 + plotH}" stroke="#eee"/><text x="${x(v)}" y="${height - bottom + 14}" font-size="10" text-anchor="middle">${v}</text>`)
    }
  }
  for (const share of [0, 0.5, 0.9, 0.99]) {
    ticks.push(`<line x1="${left}" y1="${y(share)}" x2="${left + plotW}" y2="${y(share)}" stroke="#eee"/><text x="${left - 4}" y="${y(share) + 3}" font-size="10" text-anchor="end">p${Math.round(share * 100)}</text>`)
  }
  return (
    `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escape(title)}">` +
    ticks.join('') +
    `<rect x="${left}" y="20" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>` +
    lines.join('') +
    `<text x="${left + plotW / 2}" y="${height - 6}" font-size="11" text-anchor="middle">ms (log scale)</text>` +
    `</svg><figcaption>${escape(title)}: share of samples at or below each latency</figcaption></figure>`
  )
}

/** Horizontal bars of the figures measured per server core-second (higher is better). */
function barChart(title: string, figures: readonly Figure[]): string {
  if (figures.length === 0) return ''
  const rowH = 24
  const labelW = 460
  const plotW = 300
  const width = labelW + plotW + 90
  const height = figures.length * rowH + 10
  const max = Math.max(...figures.map((f) => (Number.isFinite(f.value) ? f.value : 0)), 1)
  const bars = figures.map((f, i) => {
    const w = Number.isFinite(f.value) ? (f.value / max) * plotW : 0
    const yPos = 5 + i * rowH
    return (
      `<text x="${labelW - 6}" y="${yPos + 15}" font-size="11" text-anchor="end">${escape(`${f.server}: ${f.label}`)}</text>` +
      `<rect x="${labelW}" y="${yPos + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${colour(f.server, i)}"/>` +
      `<text x="${labelW + w + 4}" y="${yPos + 15}" font-size="11">${escape(formatValue(f.value, ''))}</text>`
    )
  })
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escape(title)}">${bars.join('')}</svg><figcaption>${escape(title)}</figcaption></figure>`
}

export interface RunInfo {
  readonly startedAt: string
  readonly seconds: number
  readonly machine: string
  readonly commit: string
  readonly command: string
}

export function renderHtml(info: RunInfo, results: readonly WorkloadResults[], baseline: Baseline | null): string {
  const goals = results.flatMap((r) => r.goals)
  const goalRows = goals
    .map((g) => `<tr><td>${escape(g.text)}</td><td class="${g.met === true ? 'met' : g.met === false ? 'missed' : ''}">${g.met === true ? 'met' : g.met === false ? 'not met' : 'not judged'}</td><td>${escape(g.detail)}</td></tr>`)
    .join('')
  const sections = results.map((r) => {
    const rows = r.figures
      .map((f) => {
        const c = compare(f, baseline)
        const ratio = Number.isNaN(c.ratio) ? '' : `×${c.ratio.toFixed(2)}${c.regression ? ' ▼ regression' : ''}`
        return `<tr><td>${escape(f.server)}</td><td>${escape(f.label)}</td><td class="num">${escape(formatValue(f.value, f.unit))}</td><td class="${c.regression ? 'missed' : ''}">${ratio}</td></tr>`
      })
      .join('')
    const perCore = r.figures.filter((f) => f.unit === '/core-s')
    return (
      `<section><h2>${escape(r.workload)}</h2>` +
      barChart(`${r.workload}: per server core-second (higher is better)`, perCore) +
      cdfChart(`${r.workload}: latency`, r.distributions) +
      `<table><thead><tr><th>server</th><th>measure</th><th>value</th><th>vs baseline</th></tr></thead><tbody>${rows}</tbody></table>` +
      (r.notes.length > 0 ? `<ul>${r.notes.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>` : '') +
      `</section>`
    )
  })
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Meridian bench ${escape(info.startedAt)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; max-width: 1100px; color: #1f2328 }
table { border-collapse: collapse; margin: 0.5rem 0 1rem } td, th { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left }
td.num { text-align: right; white-space: nowrap } .met { color: #1a7f37; font-weight: 600 } .missed { color: #cf222e; font-weight: 600 }
figure { margin: 0.5rem 0 } figcaption { font-size: 12px; color: #57606a }
</style></head><body>
<h1>Meridian benchmarks</h1>
<p>${escape(info.startedAt)} · ${escape(info.machine)} · commit ${escape(info.commit)} · ${Math.round(info.seconds)} s · <code>${escape(info.command)}</code>${baseline === null ? ' · no baseline' : ` · baseline of ${escape(baseline.savedAt)} (${escape(baseline.commit)})`}</p>
<h2>Goals</h2>
<table><thead><tr><th>goal</th><th>verdict</th><th>figures</th></tr></thead><tbody>${goalRows}</tbody></table>
${sections.join('\n')}
</body></html>
`
}

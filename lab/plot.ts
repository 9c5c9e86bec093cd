/**
 * A self-contained HTML report with inline SVG line charts, for the lab runs: no dependency, no script,
 * opens in any browser. Enough for "RSS and throughput over time", nothing more.
 */

export interface Series {
  readonly name: string
  /** [x, y] pairs, x ascending. NaN y values are gaps. */
  readonly points: readonly (readonly [number, number])[]
}

export interface Chart {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: readonly Series[]
  /** Vertical markers (e.g. restarts), at x. */
  readonly marks?: readonly { readonly x: number; readonly label: string }[]
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']
const W = 900
const H = 300
const PAD = { left: 70, right: 20, top: 30, bottom: 40 }

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** One chart as an SVG element. */
export function svgChart(chart: Chart): string {
  const all = chart.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y))
  const xMax = Math.max(1, ...all.map(([x]) => x))
  const yMax = Math.max(1e-9, ...all.map(([, y]) => y)) * 1.1
  const sx = (x: number) => PAD.left + (x / xMax) * (W - PAD.left - PAD.right)
  const sy = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom)
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`]
  out.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${escape(chart.title)}</text>`)
  out.push(`<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#000"/>`)
  out.push(`<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#000"/>`)
  for (let i = 0; i <= 5; i++) {
    const y = (yMax / 5) * i
    out.push(`<text x="${PAD.left - 5}" y="${sy(y) + 4}" text-anchor="end">${y >= 100 ? y.toFixed(0) : y.toFixed(1)}</text>`)
    out.push(`<line x1="${PAD.left}" y1="${sy(y)}" x2="${W - PAD.right}" y2="${sy(y)}" stroke="#eee"/>`)
    const x = (xMax / 5) * i
    out.push(`<text x="${sx(x)}" y="${H - PAD.bottom + 15}" text-anchor="middle">${x.toFixed(0)}</text>`)
  }
  out.push(`<text x="${W / 2}" y="${H - 5}" text-anchor="middle">${escape(chart.xLabel)}</text>`)
  out.push(`<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${escape(chart.yLabel)}</text>`)
  for (const mark of chart.marks ?? []) {
    out.push(`<line x1="${sx(mark.x)}" y1="${PAD.top}" x2="${sx(mark.x)}" y2="${H - PAD.bottom}" stroke="#bbb" stroke-dasharray="3,3"/>`)
    out.push(`<text x="${sx(mark.x) + 2}" y="${PAD.top + 10}" fill="#888">${escape(mark.label)}</text>`)
  }
  chart.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length] as string
    // A NaN starts a new segment: a region that is down leaves a gap.
    let d = ''
    let pen = 'M'
    for (const [x, y] of series.points) {
      if (!Number.isFinite(y)) {
        pen = 'M'
        continue
      }
      d += `${pen}${sx(x).toFixed(1)},${sy(y).toFixed(1)} `
      pen = 'L'
    }
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`)
    out.push(`<text x="${W - PAD.right - 120}" y="${PAD.top + 14 * (i + 1)}" fill="${color}">${escape(series.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}

/** A whole HTML page: a title, a summary table, the charts. */
export function htmlReport(title: string, summary: readonly (readonly [string, string])[], charts: readonly Chart[]): string {
  const rows = summary.map(([k, v]) => `<tr><th align="left">${escape(k)}</th><td>${escape(v)}</td></tr>`).join('\n')
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body style="font-family:sans-serif">
<h1>${escape(title)}</h1>
<table cellpadding="3">${rows}</table>
${charts.map((chart) => `<div>${svgChart(chart)}</div>`).join('\n')}
</body></html>
`
}

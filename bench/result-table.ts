/** The results table the process benchmarks print: rows of measure, value and note, padded to columns. */
export interface Row {
  readonly what: string
  readonly value: string
  readonly note: string
}

export class ResultTable {
  readonly rows: Row[] = []

  constructor(private readonly noteHeader = 'note') {}

  add(what: string, value = '', note = ''): void {
    this.rows.push({ what, value, note })
  }

  print(): void {
    const header: Row = { what: 'measure', value: 'value', note: this.noteHeader }
    const widths = (['what', 'value', 'note'] as const).map((k) => Math.max(...[header, ...this.rows].map((r) => r[k].length)))
    const line = (r: Row): string => [r.what, r.value, r.note].map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
    console.log(line(header))
    console.log(widths.map((w) => '-'.repeat(w)).join('  '))
    for (const r of this.rows) console.log(line(r))
  }
}

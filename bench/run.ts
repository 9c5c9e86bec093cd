/**
 * `npm run bench`: every workload of docs/performance.md in one run on this machine — Meridian beside
 * y-websocket, Hocuspocus, automerge-repo's sync server and raw `ws` forwarding, each server in its own
 * process, CPU and RSS read from /proc. Progress goes to stderr while it runs; each workload's table is
 * printed as it finishes, then the goals and the comparison with the stored baseline (bench/baseline.json).
 * Writes bench/results/bench-<time>.json and .html (and latest.json / latest.html).
 *
 *   npm run bench                       everything (about 12–14 minutes on 2 cores)
 *   npm run bench -- --quick            short phases: checks that every workload runs; figures not comparable
 *   npm run bench -- --only W1,W4       some workloads (W3 runs with W6, W4 with W5: one script each)
 *   npm run bench -- --save-baseline    store this run's figures as the baseline
 *   npm run bench -- --no-build         measure dist/ as it is (default: `npm run build` first)
 *
 * The anchors' packages are in bench/package.json, installed into bench/node_modules on first use
 * (`npm ci` there), never into the product's dependencies.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../test/helpers/cluster.js'
import { compare, loadBaseline, saveBaseline } from './suite/baseline.js'
import { FIGURES_FILE_ENV, progress, readFiguresFile, type WorkloadOptions, type WorkloadResults } from './suite/figures.js'
import { formatValue, renderHtml } from './suite/report-html.js'

const BENCH_DIR = join(REPO_ROOT, 'bench')
const BASELINE = join(BENCH_DIR, 'baseline.json')
const RESULTS_DIR = join(BENCH_DIR, 'results')

const args = process.argv.slice(2)
const flag = (name: string): boolean => args.includes(name)
const onlyArg = args[args.indexOf('--only') + 1]
const only = args.includes('--only') && onlyArg !== undefined ? new Set(onlyArg.toUpperCase().split(',')) : null
const unknown = args.filter((a, i) => !['--quick', '--save-baseline', '--no-build', '--only'].includes(a) && args[i - 1] !== '--only')
if (unknown.length > 0) {
  console.error(`unknown arguments: ${unknown.join(' ')}\nusage: npm run bench -- [--quick] [--only W1,W2,…] [--save-baseline] [--no-build]`)
  process.exit(2)
}
const options: WorkloadOptions = { quick: flag('--quick') }

interface Group {
  /** The workloads it reports. */
  readonly ids: readonly string[]
  readonly run: () => Promise<WorkloadResults[]>
}

/** A benchmark script of its own (bench/replication.ts, bench/strict.ts), run as a child; its figures come back in a file. */
function script(file: string, scriptArgs: readonly string[]): () => Promise<WorkloadResults[]> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-'))
    const figuresFile = join(dir, 'figures.json')
    try {
      const code = await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, file), ...scriptArgs], {
          cwd: REPO_ROOT,
          stdio: 'inherit',
          env: { ...process.env, [FIGURES_FILE_ENV]: figuresFile },
        })
        child.on('exit', (exitCode) => resolve(exitCode ?? 1))
      })
      if (code !== 0 || !existsSync(figuresFile)) throw new Error(`bench/${file} failed (exit code ${code}); its output is above`)
      return readFiguresFile(figuresFile)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const quick = options.quick
const groups: Group[] = [
  { ids: ['W1'], run: async () => [await (await import('./suite/w1-yjs-fanout.js')).w1(options)] },
  { ids: ['W2'], run: async () => [await (await import('./suite/w2-automerge.js')).w2(options)] },
  // N changes, latency samples, M changes behind, catch-up timeout (s)
  { ids: ['W3', 'W6'], run: script('replication.ts', quick ? ['5000', '200', '100000', '60'] : ['20000', '1000', '1000000', '240']) },
  // N sequential writes per concern, C in flight, seconds per concern, K failovers, concerns
  { ids: ['W4', 'W5'], run: script('strict.ts', quick ? ['100', '32', '1', '2', 'local,majority'] : ['300', '32', '2', '20']) },
  { ids: ['W7'], run: async () => [await (await import('./suite/w7-client.js')).w7(options)] },
]

function run(command: string, commandArgs: readonly string[], cwd: string): void {
  const result = spawnSync(command, commandArgs, { cwd, stdio: 'inherit' })
  if (result.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')} failed in ${cwd} (exit code ${result.status})`)
}

function git(...gitArgs: string[]): string {
  const result = spawnSync('git', gitArgs, { cwd: REPO_ROOT, encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : 'unknown'
}

function printTable(results: WorkloadResults, baseline: ReturnType<typeof loadBaseline>): void {
  const rows = results.figures.map((f) => {
    const c = compare(f, baseline)
    return [f.server, f.label, formatValue(f.value, f.unit), Number.isNaN(c.ratio) ? '' : `×${c.ratio.toFixed(2)}${c.regression ? '  REGRESSION' : ''}`]
  })
  const header = ['server', `${results.workload} measure`, 'value', 'vs baseline']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd()
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`)
  for (const r of rows) console.log(line(r))
  for (const note of results.notes) console.log(`  note: ${note}`)
}

const started = Date.now()
const startedAt = new Date(started).toISOString()
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform} ${process.arch}`
const dirty = git('status', '--porcelain', '--untracked-files=no') === '' ? '' : ' (uncommitted changes)'
const commit = `${git('rev-parse', '--short', 'HEAD')}${dirty}`
console.log(`Meridian bench ${startedAt}: ${machine}; load average ${loadavg().map((l) => l.toFixed(2)).join(' / ')}; commit ${commit}${quick ? '; QUICK (figures not comparable)' : ''}`)

if (!existsSync(join(BENCH_DIR, 'node_modules', '@hocuspocus', 'server'))) {
  progress('setup', 'installing the anchors (bench/package.json) into bench/node_modules…')
  run('npm', ['ci', '--no-audit', '--no-fund'], BENCH_DIR)
}
if (!flag('--no-build')) {
  progress('setup', 'npm run build (the servers measured run dist/, compiled)…')
  run('npm', ['run', 'build'], REPO_ROOT)
}
process.env['MERIDIAN_SERVER_ENTRY'] = 'dist'

const baseline = loadBaseline(BASELINE)
const results: WorkloadResults[] = []
const failures: string[] = []
const selected = groups.filter((g) => only === null || g.ids.some((id) => only.has(id)))
for (const [i, group] of selected.entries()) {
  const label = group.ids.join('+')
  progress(label, `starting (${i + 1} of ${selected.length}, ${Math.round((Date.now() - started) / 1000)} s into the run)…`)
  const t0 = Date.now()
  try {
    const got = await group.run()
    for (const r of got) {
      results.push(r)
      printTable(r, baseline)
    }
    progress(label, `done in ${Math.round((Date.now() - t0) / 1000)} s`)
  } catch (err) {
    failures.push(`${label}: ${err instanceof Error ? err.message : String(err)}`)
    progress(label, `FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  }
}

const seconds = (Date.now() - started) / 1000
const goals = results.flatMap((r) => r.goals)
console.log('\nGoals (same run)')
for (const g of goals) console.log(`  ${g.met === true ? 'MET    ' : g.met === false ? 'NOT MET' : 'n/a    '}  ${g.text}: ${g.detail}`)
const regressions = results.flatMap((r) => r.figures).filter((f) => compare(f, baseline).regression)
if (baseline === null) console.log('\nNo baseline stored (bench/baseline.json): `npm run bench -- --save-baseline` stores this run as one.')
else if (regressions.length === 0) console.log(`\nNo figure more than 10 % worse than the baseline of ${baseline.savedAt} (${baseline.commit}).`)
else {
  console.log(`\n${regressions.length} figure(s) more than 10 % worse than the baseline of ${baseline.savedAt} (${baseline.commit}):`)
  for (const f of regressions) console.log(`  ${f.id}: ${formatValue(f.value, f.unit)}, ×${compare(f, baseline).ratio.toFixed(2)}`)
}

mkdirSync(RESULTS_DIR, { recursive: true })
const stamp = startedAt.replace(/[:.]/g, '-')
const info = { startedAt, seconds, machine, commit, command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}` }
const json = JSON.stringify({ ...info, quick, results, failures }, null, 2)
const html = renderHtml(info, results, baseline)
for (const [name, text] of [[`bench-${stamp}.json`, json], [`bench-${stamp}.html`, html], ['latest.json', json], ['latest.html', html]] as const) {
  writeFileSync(join(RESULTS_DIR, name), text)
}
console.log(`\nwrote bench/results/bench-${stamp}.json and .html (also latest.json, latest.html); ${Math.round(seconds)} s in all`)
if (flag('--save-baseline')) {
  if (quick || failures.length > 0 || only !== null) console.log('baseline NOT saved: only a full run of every workload without failures is stored')
  else {
    saveBaseline(BASELINE, results.flatMap((r) => r.figures), machine, commit, startedAt)
    console.log('saved as the baseline (bench/baseline.json)')
  }
}
if (failures.length > 0) {
  console.error(`\n${failures.length} workload(s) failed:\n  ${failures.join('\n  ')}`)
  process.exit(1)
}
// The anchors' clients may leave handles open; the run is over.
process.exit(0)

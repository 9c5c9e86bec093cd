/**
 * `npm run soak`: the soak of lab/soak-run.ts with sizes from the environment; prints the figures and the
 * path of the HTML report (RSS and throughput over time), exits 1 when a check failed. Needs dist/
 * (`npm run build`): the regions run the built server.
 *
 *   SOAK_MINUTES (60)            how long the clients churn
 *   SOAK_PARTITION_EVERY_S (60)  a region is cut off from the other two this often…
 *   SOAK_PARTITION_FOR_S (15)    …for this long
 *   SOAK_RESTART_EVERY_S (600)   a region is SIGKILLed and relaunched this often
 *   SOAK_WARMUP_S (120)          RSS growth is measured from the end of this
 *   SOAK_SESSIONS (24)           client sessions alive at once
 *   SOAK_SMALL_CAPS (1)          0: the server's default bounds for its bounded memory (see SoakOptions.smallCaps)
 *   SOAK_REPORT                  where to write the report (default: a file in the temp dir); the raw
 *                                samples go next to it (`.samples.json`)
 *   SOAK_NODE_ARGS               extra node flags for the region processes, space-separated
 *   SOAK_HEAP_SNAPSHOTS          e.g. `eu:180,780`: SIGUSR2 to eu at 180 s and 780 s; needs
 *                                SOAK_NODE_ARGS='--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/some/dir'
 *                                (compare the two files with lab/heap-diff.ts)
 */
import { envNumber, needBuild } from './regions.js'
import { runSoak, SOAK_DEFAULTS, type RegionFigure } from './soak-run.js'

needBuild('soak')
const durationS = envNumber('SOAK_MINUTES', 60) * 60
const reportPath = process.env['SOAK_REPORT'] || SOAK_DEFAULTS.reportPath
const snapshots = /^(\w+):([\d.,]+)$/.exec(process.env['SOAK_HEAP_SNAPSHOTS'] ?? '')
const result = await runSoak({
  durationS,
  partitionEveryS: envNumber('SOAK_PARTITION_EVERY_S', 60),
  partitionForS: envNumber('SOAK_PARTITION_FOR_S', 15),
  restartEveryS: envNumber('SOAK_RESTART_EVERY_S', 600),
  warmupS: envNumber('SOAK_WARMUP_S', Math.min(120, durationS / 5)),
  smallCaps: envNumber('SOAK_SMALL_CAPS', 1) !== 0,
  sessions: envNumber('SOAK_SESSIONS', SOAK_DEFAULTS.sessions),
  reportPath,
  samplesPath: `${reportPath.replace(/\.html$/, '')}.samples.json`,
  nodeArgs: (process.env['SOAK_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
  heapSnapshots: snapshots === null ? null : { region: snapshots[1] as string, atS: (snapshots[2] as string).split(',').map(Number) },
})
const { rss, heapUsed, oldSpace, external, ...rest } = result
console.log(JSON.stringify({ ...rest, lost: rest.lost.length }, null, 2))
const row = (what: string) => (r: RegionFigure) => ({ region: r.id, what, startMiB: r.startMiB.toFixed(1), afterWarmupMiB: r.baselineMiB.toFixed(1), endMiB: r.endMiB.toFixed(1), peakMiB: r.peakMiB.toFixed(1), growth: `${(r.growth * 100).toFixed(1)} %` })
console.table([...rss.map(row('RSS')), ...heapUsed.map(row('heap used')), ...oldSpace.map(row('old space')), ...external.map(row('external'))])
console.log(`soak ${result.ok ? 'passed' : 'FAILED'}; report: ${result.reportPath}`)
process.exit(result.ok ? 0 : 1)

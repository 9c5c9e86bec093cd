/**
 * Strict A/B in one sitting [PF5] for differences smaller than the run-to-run noise of `bench:strict`:
 * one three-process strict cluster (file storage) per source tree, all up at once, and
 *   1. latency: N sequential PUTs to each cluster's primary, sent to the clusters in turn write by write
 *      (the order flips every write), so the machine's noise falls on every tree alike;
 *   2. throughput: C requests in flight against one cluster at a time, in phases of 2 s that alternate
 *      between the trees (the first phase is a warm-up); the median of the phases is what to read.
 * A tree is a checkout of this repository with its node_modules, e.g. a base made with
 * `git worktree add /tmp/base <rev> && ln -s "$PWD/node_modules" /tmp/base/node_modules`.
 * Run: `node --import tsx bench/strict-ab.ts <tree,tree,…> [concern] [N] [phases] [C]`
 *      (defaults local, 1500, 7, 32). Progress goes to stderr, the table to stdout.
 */
import { Agent, request } from 'node:http'
import { resolve } from 'node:path'
import type { WriteConcern } from '../core/strict/index.js'
import type { ProcessCluster } from '../test/helpers/cluster.js'

const TREES = (process.argv[2] ?? '').split(',').filter(Boolean).map((tree) => resolve(tree))
const CONCERN = (process.argv[3] ?? 'local') as WriteConcern
const N = Number(process.argv[4] ?? 1500)
const PHASES = Number(process.argv[5] ?? 7)
const CONCURRENCY = Number(process.argv[6] ?? 32)
if (TREES.length === 0) throw new Error('usage: bench/strict-ab.ts <tree,tree,…> [concern] [N] [phases] [C]')
if (!['local', 'one', 'majority', 'all'].includes(CONCERN)) throw new Error('concern must be local, one, majority or all')
for (const [name, value] of [['N', N], ['phases', PHASES], ['C', CONCURRENCY]] as const) {
  if (!Number.isSafeInteger(value) || value < 2) throw new Error(`${name} must be an integer >= 2`)
}
const WARMUP_WRITES = 200
const PHASE_MS = 2000
const IDS = ['a', 'b', 'c']
const log = (message: string): void => console.error(`[strict-ab] ${message}`)

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 })
function http(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' }
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers, timeout: 10_000 }, (res) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (data += chunk))
      res.on('end', () => done({ status: res.statusCode ?? 0, body: data }))
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', fail)
    req.end(body)
  })
}

interface Tree {
  readonly path: string
  readonly cluster: ProcessCluster
  readonly port: number
  readonly latencies: number[]
  readonly rates: number[]
}

async function primaryPort(cluster: ProcessCluster): Promise<number> {
  const deadline = performance.now() + 20_000
  while (performance.now() < deadline) {
    for (const id of IDS) {
      const port = cluster.node(id).port
      const reply = await http(port, 'GET', '/status').catch(() => null)
      if (reply?.status === 200 && (JSON.parse(reply.body) as { role: string }).role === 'primary') return port
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('no primary within 20 s')
}

let seq = 0
async function put(tree: Tree): Promise<boolean> {
  const n = seq++
  const reply = await http(tree.port, 'PUT', `/v1/accounts/acct-${n % 1000}?w=${CONCERN}`, JSON.stringify({ owner: 'bench', balance: n, n }))
  return reply.status === 200
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number
const median = (values: readonly number[]): number => percentile([...values].sort((a, b) => a - b), 0.5)

const trees: Tree[] = []
try {
  for (const path of TREES) {
    // Each tree's own helper starts servers from that tree's sources.
    const { ProcessCluster: Cluster } = (await import(`${path}/test/helpers/cluster.ts`)) as typeof import('../test/helpers/cluster.js')
    const cluster = await Cluster.start({ ids: IDS, storage: 'file', config: { collections: { accounts: { mode: 'strict' } } } })
    trees.push({ path, cluster, port: 0, latencies: [], rates: [] })
    await cluster.waitConnected()
    ;(trees[trees.length - 1] as { port: number }).port = await primaryPort(cluster)
    log(`${path}: cluster up in ${cluster.dir}`)
  }
  log(`latency: ${N} sequential w=${CONCERN} writes per tree, interleaved`)
  for (let i = 0; i < WARMUP_WRITES + N; i++) {
    for (const tree of i % 2 === 0 ? trees : [...trees].reverse()) {
      const started = performance.now()
      if (!(await put(tree))) throw new Error(`${tree.path}: a write was refused`)
      if (i >= WARMUP_WRITES) tree.latencies.push(performance.now() - started)
    }
  }
  log(`throughput: ${CONCURRENCY} in flight, ${PHASES} phases of ${PHASE_MS} ms per tree, alternating`)
  for (let phase = 0; phase < PHASES; phase++) {
    for (const tree of phase % 2 === 0 ? trees : [...trees].reverse()) {
      let acked = 0
      const end = performance.now() + PHASE_MS
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) if (await put(tree)) acked++
        }),
      )
      if (phase > 0) tree.rates.push(acked / (PHASE_MS / 1000))
    }
  }
  console.log(`w=${CONCERN}, ${TREES.length} clusters of 3 file-storage processes up at once`)
  console.log('tree | p50 ms | p90 ms | p99 ms | writes/s (median) | writes/s per phase')
  for (const tree of trees) {
    const sorted = [...tree.latencies].sort((a, b) => a - b)
    const ms = (p: number): string => percentile(sorted, p).toFixed(3)
    console.log(`${tree.path} | ${ms(0.5)} | ${ms(0.9)} | ${ms(0.99)} | ${median(tree.rates).toFixed(0)} | ${tree.rates.map((r) => r.toFixed(0)).join(' ')}`)
  }
} finally {
  for (const tree of trees) await tree.cluster.stop()
  agent.destroy()
}

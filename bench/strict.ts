/**
 * Strict mode on three real server processes on loopback (docs/strict.md): `server/cli.ts serve`, file
 * storage in a temp dir (the strict WAL fdatasyncs before anything counts as durable), full mesh, every
 * node a member, default strict timings (heartbeat 100 ms, election timeout 1000–1500 ms), started
 * through test/helpers/cluster.ts. Clients are plain HTTP/1.1 with keep-alive (node:http Agent) in this
 * process, on `PUT /v1/accounts/:id?w=…`.
 *   0. anchors: the machine (cores, Node, load average before and after: the box may be shared) and the
 *      disk's own fdatasync cost for a small append, in the same filesystem as the cluster.
 *   1. per write concern (local, one, majority, all), after a warm-up:
 *      - latency: one sequential client sends N PUTs straight to the primary (p50/p95/p99/max) and N
 *        through a replica, which forwards each to the primary (p50/p99: the forwarding hop); concerns
 *        and paths are interleaved write by write so that other processes' load drifts over all alike;
 *      - throughput: C requests in flight (C clients looping, keep-alive) to the primary, the given time
 *        per concern in two halves (concern order, then reverse order); acknowledged (200) writes per
 *        second, and the CPU each process spent per write (/proc/<pid>/stat, as bench/replication.ts).
 *   2. failover, K rounds: steady w=majority load sent round robin to every live node, SIGKILL of the
 *      primary, then (a) until a survivor's /status says `primary` in a newer epoch, (b) until the first
 *      200 whose token carries that newer epoch; the killed node is restarted and must be a replica of
 *      the new primary again before the next round.
 * Run: `npm run bench:strict` or `node --import tsx bench/strict.ts [N] [C] [seconds] [K] [concerns]`
 *      (defaults 500, 32, 3, 3, local,one,majority,all). Progress goes to stderr, the tables to stdout.
 */
import { cpuSeconds } from './proc-cpu.js'
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import type { WriteConcern } from '../core/strict/index.js'
import { ProcessCluster, sleep, waitFor, type ClusterNode } from '../test/helpers/cluster.js'
import { connectedClient } from './cluster-probe.js'
import { WorkloadResults, writeFiguresFile } from './suite/figures.js'

const N = Number(process.argv[2] ?? 500)
const CONCURRENCY = Number(process.argv[3] ?? 32)
const DURATION_MS = Number(process.argv[4] ?? 3) * 1000
const ROUNDS = Number(process.argv[5] ?? 3)
for (const [name, value, min] of [['N', N, 1], ['C', CONCURRENCY, 1], ['duration', DURATION_MS, 1], ['K', ROUNDS, 0]] as const) {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`)
}
const CONCERN_NAMES: readonly WriteConcern[] = ['local', 'one', 'majority', 'all']
/** The concerns to measure and their order (argv[6], comma separated). */
const CONCERNS = (process.argv[6]?.split(',') ?? CONCERN_NAMES) as WriteConcern[]
if (CONCERNS.some((x) => !CONCERN_NAMES.includes(x))) throw new Error(`concerns must be among ${CONCERN_NAMES.join(',')}`)
const WARMUP_WRITES = 300
const KEYS = 1000
const FAILOVER_WRITERS = 8
const FAILOVER_STEADY_MS = 1000
const REQUEST_TIMEOUT_MS = 8000
const IDS = ['a', 'b', 'c'] as const

// ---------------------------------------------------------------------------------------------
// helpers

const fmt = (n: number, digits = 0): string =>
  Number.isNaN(n) ? 'n/a' : n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const now = (): number => performance.now()
const log = (message: string): void => console.error(`[bench] ${message}`)
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' / ')

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}
const sorted = (values: readonly number[]): number[] => [...values].sort((x, y) => x - y)
const median = (values: readonly number[]): number => percentile(sorted(values), 50)


/** One keep-alive pool for every request of the bench (fetch would cost more client CPU on 2 cores). */
const agent = new Agent({ keepAlive: true, maxSockets: 256 })

interface Reply {
  /** HTTP status; 0 when the connection failed or timed out. */
  readonly status: number
  readonly body: string
}

function http(node: ClusterNode, method: 'GET' | 'PUT', path: string, body?: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Reply> {
  return new Promise((resolve) => {
    let settled = false
    const done = (reply: Reply) => {
      if (!settled) {
        settled = true
        resolve(reply)
      }
    }
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port: node.port,
        method,
        path,
        headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', () => done({ status: 0, body: '' }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (err) => done({ status: 0, body: String(err) }))
    req.end(body)
  })
}

interface WriteResult {
  readonly status: number
  /** Epoch of the token of a 200. */
  readonly epoch: number
  readonly degraded: boolean
}

let seq = 0
async function put(node: ClusterNode, concern: WriteConcern, timeoutMs = REQUEST_TIMEOUT_MS): Promise<WriteResult> {
  const n = seq++
  const reply = await http(node, 'PUT', `/v1/accounts/acct-${n % KEYS}?w=${concern}`, JSON.stringify({ owner: 'bench', balance: n, n }), timeoutMs)
  if (reply.status !== 200) return { status: reply.status, epoch: NaN, degraded: false }
  const body = JSON.parse(reply.body) as { token: string; degraded: boolean }
  return { status: 200, epoch: Number(body.token.split(':')[0]), degraded: body.degraded }
}

interface StatusBody {
  role: 'primary' | 'replica' | 'candidate' | 'crdt'
  epoch: number | null
  primary: string | null
  commitIndex: number | null
  strict: { lastLsn: number; appliedLsn: number } | null
}
async function status(node: ClusterNode): Promise<StatusBody | null> {
  const reply = await http(node, 'GET', '/status', undefined, 1000)
  return reply.status === 200 ? (JSON.parse(reply.body) as StatusBody) : null
}

/** Polls the given nodes until one says `primary` (in an epoch above `aboveEpoch`); resolves with it and when. */
async function waitPrimary(cluster: ProcessCluster, among: readonly string[], aboveEpoch = 0, timeoutMs = 20_000, intervalMs = 10) {
  const deadline = now() + timeoutMs
  for (;;) {
    const found = await Promise.all(
      among.map(async (id) => {
        const s = await status(cluster.node(id))
        // `at`: when this answer arrived, not when the slowest of the polls did.
        return s !== null && s.role === 'primary' && (s.epoch ?? 0) > aboveEpoch ? { id, epoch: s.epoch as number, at: now() } : null
      }),
    )
    const primary = found.filter((f) => f !== null).sort((x, y) => x.at - y.at)[0]
    if (primary) return primary
    if (now() > deadline) throw new Error(`no primary among ${among.join(', ')} above epoch ${aboveEpoch} after ${timeoutMs} ms`)
    await sleep(intervalMs)
  }
}

/** The disk's own cost: `count` appends of 120 B, each followed by fdatasync, in a temp dir next to the cluster's. */
function fsyncAnchor(count = 500): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-fsync-'))
  const fd = openSync(join(dir, 'probe'), 'a')
  const record = Buffer.alloc(120, 1)
  const ms: number[] = []
  try {
    for (let i = 0; i < count; i++) {
      writeSync(fd, record)
      const start = now()
      fdatasyncSync(fd)
      ms.push(now() - start)
    }
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
  return sorted(ms)
}

/**
 * The ceiling of a group commit on this disk: rounds of `batch` appends of 120 B written together and
 * fdatasynced once, for `ms`; writes per second. With `batch` writes in flight, no primary that syncs
 * before it acknowledges can do better.
 */
function batchedFsyncCeiling(batch: number, ms = 1000): number {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-fsync-'))
  const fd = openSync(join(dir, 'probe'), 'a')
  const round = Buffer.alloc(120 * batch, 1)
  let writes = 0
  const start = now()
  try {
    while (now() - start < ms) {
      writeSync(fd, round)
      fdatasyncSync(fd)
      writes += batch
    }
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
  return writes / ((now() - start) / 1000)
}

function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')
  console.log(line(headers))
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
  for (const r of rows) console.log(line(r))
}

// ---------------------------------------------------------------------------------------------
// the cluster, cleaned up whatever happens

const cpuModel = cpus()[0]?.model ?? 'unknown cpu'
const loadBefore = load()
console.log(
  `strict bench: node ${process.version}, ${cpus().length} × ${cpuModel}, ${fmt(totalmem() / 2 ** 30, 1)} GiB, ${process.platform} ${process.arch}, ${new Date().toISOString()}`,
)
console.log(`load average before start (1 / 5 / 15 min, other processes): ${loadBefore}`)
const fsync = fsyncAnchor()
// The figures `npm run bench` collects (bench/run.ts): W4 from phase 1, W5 from phase 2.
const w4 = new WorkloadResults('W4')
const w5 = new WorkloadResults('W5')
/** Strict writes the WebSocket client keeps in flight (`strictMaxInFlight`) in phase 1b. */
const WS_IN_FLIGHT = 256
const ceilingRest = w4.figure('fsyncCeiling.rest.writesPerSecond', 'disk', `batched fdatasync ceiling, ${CONCURRENCY} in flight`, batchedFsyncCeiling(CONCURRENCY), '/s', 'none')
const ceilingWs = w4.figure('fsyncCeiling.ws.writesPerSecond', 'disk', `batched fdatasync ceiling, ${WS_IN_FLIGHT} in flight`, batchedFsyncCeiling(WS_IN_FLIGHT), '/s', 'none')
console.log(`group-commit ceiling (rounds of N × 120 B, one fdatasync each): ${fmt(ceilingRest)} writes/s at N = ${CONCURRENCY}, ${fmt(ceilingWs)} at N = ${WS_IN_FLIGHT}`)
console.log(
  `disk anchor: 120 B append + fdatasync in ${tmpdir()}, ${fsync.length}×: p50 ${fmt(percentile(fsync, 50), 3)} ms, ` +
    `p99 ${fmt(percentile(fsync, 99), 3)} ms, max ${fmt(fsync[fsync.length - 1] as number, 3)} ms`,
)
console.log(
  `3 server processes on loopback, file storage (fdatasync), full mesh; N = ${N} sequential writes per concern and path, ` +
    `C = ${CONCURRENCY} in flight for ${DURATION_MS / 1000} s, K = ${ROUNDS} failovers`,
)

const startedAt = now()
let cluster: ProcessCluster | null = null
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (cluster !== null) rmSync(cluster.dir, { recursive: true, force: true })
    process.exit(130)
  })
}

const concernRows: string[][] = []
const concernNotes: string[] = []
const cpuRows: string[][] = []
const failoverRows: string[][] = []
const wsTable: string[][] = []
const electedMs: number[] = []
const firstAckMs: number[] = []
const rejoinMs: number[] = []
let failed = false
try {
  log('starting three server processes (file storage, full mesh, strict collection accounts)…')
  cluster = await ProcessCluster.start({ ids: IDS, storage: 'file', config: { collections: { accounts: { mode: 'strict' } } } })
  await cluster.waitConnected()
  const c = cluster
  const first = await waitPrimary(c, IDS)
  const primary = c.node(first.id)
  const replicas = IDS.filter((id) => id !== first.id).map((id) => c.node(id))
  const replica = replicas[0] as ClusterNode
  log(`primary ${primary.nodeId} (epoch ${first.epoch}), replica used for forwarding ${replica.nodeId}; data in ${c.dir}`)

  // -------------------------------------------------------------------------------------------
  // 1. latency and throughput per write concern

  interface Tally {
    direct: number[]
    forwarded: number[]
    acked: number
    seconds: number
    errors: number
    errorsUnderLoad: number
    degraded: number
    /** CPU seconds during the throughput passes: primary, the two replicas together, this (client) process. */
    cpu: { primary: number; replicas: number; client: number }
  }
  const tally = new Map<WriteConcern, Tally>(
    CONCERNS.map((concern) => [concern, { direct: [], forwarded: [], acked: 0, seconds: 0, errors: 0, errorsUnderLoad: 0, degraded: 0, cpu: { primary: 0, replicas: 0, client: 0 } }]),
  )
  const at = (concern: WriteConcern): Tally => tally.get(concern) as Tally

  /** C clients writing to the primary for `ms`: acknowledged writes and the elapsed seconds. */
  const burst = async (concern: WriteConcern, ms: number) => {
    let acked = 0
    let other = 0
    let degraded = 0
    const pids = [primary, ...replicas].map((node) => node.child?.pid)
    const cpuBefore = pids.map(cpuSeconds)
    const clientBefore = process.cpuUsage()
    const t0 = now()
    const until = t0 + ms
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (now() < until) {
          const r = await put(primary, concern)
          if (r.status === 200) {
            acked++
            if (r.degraded) degraded++
          } else other++
        }
      }),
    )
    const seconds = (now() - t0) / 1000
    const cpu = pids.map((pid, i) => cpuSeconds(pid) - (cpuBefore[i] as number))
    const client = process.cpuUsage(clientBefore)
    return {
      acked,
      other,
      degraded,
      seconds,
      cpu: { primary: cpu[0] as number, replicas: (cpu[1] as number) + (cpu[2] as number), client: (client.user + client.system) / 1e6 },
    }
  }

  // JIT, sockets, WAL segment: the first concern measured must not pay for them.
  log(`warm-up: ${WARMUP_WRITES} sequential writes direct and through the replica, then 500 ms of ${CONCURRENCY} in flight per concern…`)
  for (let i = 0; i < WARMUP_WRITES; i++) {
    const r = await put(i % 2 === 0 ? primary : replica, CONCERNS[i % CONCERNS.length] as WriteConcern)
    if (r.status !== 200) throw new Error(`warm-up write answered ${r.status}`)
  }
  for (const concern of CONCERNS) await burst(concern, 500)

  // Latency: the concerns and the two paths interleaved write by write, so that the load of other
  // processes on the machine drifts over all of them alike.
  log(`latency: ${N} rounds of one sequential write per concern, direct to ${primary.nodeId} and through ${replica.nodeId}…`)
  for (let i = 0; i < N; i++) {
    for (const concern of CONCERNS) {
      for (const [node, samples] of [[primary, at(concern).direct], [replica, at(concern).forwarded]] as const) {
        const start = now()
        const r = await put(node, concern)
        const elapsed = now() - start
        if (r.status === 200) {
          samples.push(elapsed)
          if (r.degraded) at(concern).degraded++
        } else at(concern).errors++
      }
    }
  }

  // Throughput: two half-length passes, in order then in reverse order, for the same reason.
  for (const order of [CONCERNS, [...CONCERNS].reverse()]) {
    for (const concern of order) {
      log(`throughput w=${concern}: ${CONCURRENCY} in flight for ${DURATION_MS / 2000} s…`)
      const r = await burst(concern, DURATION_MS / 2)
      const t = at(concern)
      t.acked += r.acked
      t.seconds += r.seconds
      t.errorsUnderLoad += r.other
      t.degraded += r.degraded
      t.cpu.primary += r.cpu.primary
      t.cpu.replicas += r.cpu.replicas
      t.cpu.client += r.cpu.client
    }
  }

  // 1b. The same writes through the WebSocket client (client/strict), WS_IN_FLIGHT in flight.
  const wsRows: string[][] = []
  {
    const client = await connectedClient(primary, { strictMaxInFlight: WS_IN_FLIGHT })
    try {
      const accounts = client.strict<{ owner: string; balance: number; n: number }>('accounts')
      const wsBurst = async (concern: WriteConcern, ms: number) => {
        const latencies: number[] = []
        let acked = 0
        let other = 0
        const pid = primary.child?.pid
        const cpuBefore = cpuSeconds(pid)
        const t0 = now()
        const until = t0 + ms
        await Promise.all(
          Array.from({ length: WS_IN_FLIGHT }, async () => {
            while (now() < until) {
              const n = seq++
              const start = now()
              const r = await accounts.put(`acct-${n % KEYS}`, { owner: 'bench', balance: n, n }, { w: concern }).catch(() => null)
              if (r?.status === 'acknowledged') {
                acked++
                latencies.push(now() - start)
              } else other++
            }
          }),
        )
        return { acked, other, latencies, seconds: (now() - t0) / 1000, primaryCpu: cpuSeconds(pid) - cpuBefore }
      }
      for (const concern of CONCERNS) await wsBurst(concern, 300) // warm-up
      for (const concern of CONCERNS) {
        log(`throughput over the WebSocket client w=${concern}: ${WS_IN_FLIGHT} in flight for ${DURATION_MS / 1000} s…`)
        const r = await wsBurst(concern, DURATION_MS)
        const l = sorted(r.latencies)
        const rate = w4.figure(`ws.${concern}.writesPerSecond`, 'meridian', `w=${concern} writes/s, WebSocket client, ${WS_IN_FLIGHT} in flight`, r.acked / r.seconds, '/s', 'higher')
        w4.figure(`ws.${concern}.p50Ms`, 'meridian', `w=${concern} p50, WebSocket client, ${WS_IN_FLIGHT} in flight`, percentile(l, 50), 'ms', 'lower')
        w4.figure(`ws.${concern}.p99Ms`, 'meridian', `w=${concern} p99, WebSocket client, ${WS_IN_FLIGHT} in flight`, percentile(l, 99), 'ms', 'lower')
        w4.distribution(`ws.${concern}`, 'meridian', `strict w=${concern}, WebSocket client, ${WS_IN_FLIGHT} in flight`, r.latencies)
        wsRows.push([concern, fmt(rate), fmt(percentile(l, 50), 2), fmt(percentile(l, 99), 2), fmt((r.primaryCpu / r.acked) * 1e6), `${fmt((rate / ceilingWs) * 100, 1)} %`, String(r.other)])
        if (concern === 'majority') {
          w4.goal('W4: w=majority through the WebSocket client ≥ 50 % of the batched-fdatasync ceiling', rate >= 0.5 * ceilingWs, `${fmt((rate / ceilingWs) * 100, 1)} % (${fmt(rate)} of ${fmt(ceilingWs)} writes/s at ${WS_IN_FLIGHT} in flight)`)
        }
      }
    } finally {
      await client.close()
    }
  }
  wsTable.push(...wsRows)

  for (const concern of CONCERNS) {
    const t = at(concern)
    const direct = sorted(t.direct)
    const forwarded = sorted(t.forwarded)
    concernRows.push([
      concern,
      fmt(percentile(direct, 50), 2),
      fmt(percentile(direct, 95), 2),
      fmt(percentile(direct, 99), 2),
      fmt(direct[direct.length - 1] ?? NaN, 2),
      fmt(percentile(forwarded, 50), 2),
      fmt(percentile(forwarded, 99), 2),
      fmt(t.acked / t.seconds),
    ])
    w4.figure(`rest.${concern}.p50Ms`, 'meridian', `w=${concern} p50, REST, one at a time`, percentile(direct, 50), 'ms', 'lower')
    w4.figure(`rest.${concern}.p99Ms`, 'meridian', `w=${concern} p99, REST, one at a time`, percentile(direct, 99), 'ms', 'lower')
    w4.figure(`rest.${concern}.writesPerSecond`, 'meridian', `w=${concern} writes/s, REST, ${CONCURRENCY} in flight`, t.acked / t.seconds, '/s', 'higher')
    w4.distribution(`rest.${concern}`, 'meridian', `strict w=${concern}, REST, one write at a time`, t.direct)
    if (concern === 'local') {
      w4.goal('W4: REST p50 ≤ 1 ms (w=local, idle machine)', percentile(direct, 50) <= 1, `p50 ${fmt(percentile(direct, 50), 2)} ms (load average before the run ${loadBefore})`)
    }
    const perWrite = (cpuS: number) => fmt((cpuS / t.acked) * 1e6)
    cpuRows.push([
      concern,
      fmt((t.cpu.primary + t.cpu.replicas + t.cpu.client) / t.seconds, 2),
      perWrite(t.cpu.primary),
      perWrite(t.cpu.replicas / 2),
      perWrite(t.cpu.client),
    ])
    if (t.errors + t.errorsUnderLoad > 0 || t.degraded > 0) {
      concernNotes.push(`w=${concern}: ${t.errors + t.errorsUnderLoad} answers other than 200 (${t.errorsUnderLoad} under load), ${t.degraded} acks flagged degraded`)
    }
  }

  // -------------------------------------------------------------------------------------------
  // 2. failover

  for (let round = 1; round <= ROUNDS; round++) {
    const old = await waitPrimary(c, IDS)
    log(`failover ${round}/${ROUNDS}: primary ${old.id} (epoch ${old.epoch}); ${FAILOVER_WRITERS} writers, w=majority, round robin…`)
    let down: string | null = null
    let killedAt = 0
    let firstNewAck = 0
    let stop = false
    let n = 0
    let acked = 0
    let refused = 0
    let unavailable = 0
    let indeterminate = 0
    const writers = Array.from({ length: FAILOVER_WRITERS }, async () => {
      while (!stop) {
        const alive = IDS.filter((id) => id !== down && c.node(id).running)
        const target = c.node(alive[n++ % alive.length] as string)
        const r = await put(target, 'majority', 5000)
        if (r.status === 200) {
          acked++
          if (killedAt > 0 && firstNewAck === 0 && r.epoch > old.epoch) firstNewAck = now()
        } else {
          if (r.status === 0) refused++
          else if (r.status === 202) indeterminate++
          else unavailable++
          await sleep(2) // no hot loop against a node that is refusing
        }
      }
    })
    await sleep(FAILOVER_STEADY_MS)
    const ackedBefore = acked
    down = old.id
    killedAt = now()
    await c.kill(old.id)
    const survivors = IDS.filter((id) => id !== old.id)
    const elected = await waitPrimary(c, survivors, old.epoch)
    await waitFor(() => firstNewAck > 0, 20_000, 'a write acknowledged in the new epoch', 2)
    stop = true
    await Promise.all(writers)
    const electedAfter = elected.at - killedAt
    const ackAfter = firstNewAck - killedAt
    electedMs.push(electedAfter)
    firstAckMs.push(ackAfter)

    log(`failover ${round}/${ROUNDS}: ${elected.id} primary in epoch ${elected.epoch} after ${fmt(electedAfter)} ms; restarting ${old.id}…`)
    const restartAt = now()
    await c.launch(old.id)
    const rejoined = c.node(old.id)
    await waitFor(async () => {
      const [s, p] = await Promise.all([status(rejoined), status(c.node(elected.id))])
      return (
        s !== null && p !== null && s.role === 'replica' && s.primary === elected.id &&
        (s.strict?.lastLsn ?? -1) >= (p.commitIndex ?? Infinity)
      )
    }, 30_000, `${old.id} a caught-up replica of ${elected.id}`, 20)
    const rejoin = now() - restartAt
    rejoinMs.push(rejoin)
    failoverRows.push([
      String(round),
      `${old.id}@${old.epoch} → ${elected.id}@${elected.epoch}`,
      fmt(electedAfter),
      fmt(ackAfter),
      fmt(rejoin),
      `${ackedBefore} / ${acked - ackedBefore}`,
      `${refused} / ${unavailable} / ${indeterminate}`,
    ])
  }
} catch (err) {
  failed = true
  console.error('[bench] FAILED:', err)
  if (cluster !== null) for (const node of cluster.nodes.values()) console.error(`--- ${node.nodeId} (last lines)\n${node.tail(20)}`)
} finally {
  if (cluster !== null) await cluster.stop()
  agent.destroy()
}

console.log(`load average at the end (bench included): ${load()}; total run ${fmt((now() - startedAt) / 1000, 1)} s`)
console.log('')
console.log(
  `1. acknowledged writes per concern: ms from request to 200, one client, N = ${N} each (concerns and paths interleaved); ` +
    `writes/s with ${CONCURRENCY} in flight to the primary, ${DURATION_MS / 1000} s per concern in two halves`,
)
printTable(['concern', 'p50', 'p95', 'p99', 'max', 'via-replica p50', 'via-replica p99', 'writes/s'], concernRows)
for (const note of concernNotes) console.log(`   note: ${note}`)
if (wsTable.length > 0) {
  console.log('')
  console.log(`1b. the same writes through the WebSocket client (client/strict, strictMaxInFlight ${WS_IN_FLIGHT}), ${DURATION_MS / 1000} s per concern; ceiling: ${fmt(ceilingWs)} writes/s`)
  printTable(['concern', 'writes/s', 'p50', 'p99', 'primary µs/write', 'of ceiling', 'not acked'], wsTable)
}
console.log('')
console.log('   CPU during the throughput passes (/proc utime+stime; 2 cores = 2.00 cores busy at most):')
printTable(['concern', 'cores busy (3 servers + client)', 'primary µs/write', 'each replica µs/write', 'client µs/write'], cpuRows)
if (failoverRows.length > 0) {
  console.log('')
  console.log(`2. failover: SIGKILL of the primary under ${FAILOVER_WRITERS} w=majority writers (round robin to live nodes), ms after the kill`)
  printTable(
    ['round', 'primary → new', 'new primary (/status)', 'first ack, new epoch', 'restart → caught-up replica', 'acks before / after kill', 'refused / 503 / 202'],
    failoverRows,
  )
  const summary = (values: readonly number[]) => {
    const s = sorted(values)
    return [fmt(s[0] as number), fmt(median(s)), fmt(s[s.length - 1] as number)]
  }
  console.log('')
  w5.figure('failover.firstAck.maxMs', 'meridian', `SIGKILL → first majority ack, worst of ${firstAckMs.length}`, Math.max(...firstAckMs), 'ms', 'lower')
  w5.figure('failover.firstAck.medianMs', 'meridian', `SIGKILL → first majority ack, median of ${firstAckMs.length}`, median(firstAckMs), 'ms', 'lower')
  w5.figure('failover.elected.medianMs', 'meridian', 'SIGKILL → a survivor reports primary, median', median(electedMs), 'ms', 'lower')
  w5.figure('failover.rejoin.medianMs', 'meridian', 'restart → caught-up replica, median', median(rejoinMs), 'ms', 'lower')
  w5.distribution('failover.firstAck', 'meridian', 'SIGKILL of the primary → first majority ack', firstAckMs)
  w5.goal(`W5: failover ≤ 2 s at p100 over ${firstAckMs.length} SIGKILLs`, Math.max(...firstAckMs) <= 2000, `worst ${fmt(Math.max(...firstAckMs))} ms, median ${fmt(median(firstAckMs))} ms`)
  printTable(['failover (ms)', 'min', 'median', 'max'], [
    ['(a) SIGKILL → survivor reports primary', ...summary(electedMs)],
    ['(b) SIGKILL → first ack in new epoch', ...summary(firstAckMs)],
    ['restart → caught-up replica', ...summary(rejoinMs)],
  ])
}
if (!failed) writeFiguresFile([w4, w5])
process.exit(failed ? 1 : 0)

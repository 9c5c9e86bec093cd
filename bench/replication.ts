/**
 * Replication across three real regions on loopback (DESIGN §11, [PF5]): three server processes
 * (`server/cli.ts serve`, file storage in a temp dir, full mesh) started through test/helpers/cluster.ts,
 * Node clients (`meridian/client/node`) in this process.
 *   1. throughput: one client on A writes N LWW puts (200 documents) in windows of 500, awaiting the
 *      last `durable` of each window; changes/s durable at A, and until B and C hold them all (their
 *      /status vectors, polled once A has acked everything), and the last write's `replicated`.
 *      Server CPU seconds per process (/proc/<pid>/stat) give changes per server core-second.
 *   2. latency: a client on A writes one change at a time, a client on C subscribed to the document;
 *      put → C's callback, put → `durable`, put → `replicated` (one process, one clock).
 *   1b. the ceiling: the same number of encoded changes through raw ws forwarding (suite/ws-forward-ceiling.ts).
 *   3. recovery and catch-up (W6): A restarted with its small log (the anchor); then C stopped, A stopped
 *      and its log filled with M valid LWW changes of origin A written straight to its file storage
 *      (encodeChange, as the server itself logs them); the raw `openFileStorage` time, A's restart until
 *      /readyz is 200 and its RSS; the time until B (up all along) holds the M changes; then C restarted M
 *      changes behind: spawn → it holds them, its peak and final RSS (timeouts bound both catch-ups).
 *      A's /metrics give WebSocket frames per change (client → A, A → peers) and fsyncs.
 * Run: `node --import tsx bench/replication.ts [N] [samples] [M] [catchUpTimeoutS] [window]`
 *      (defaults 20 000, 1 000, 1 000 000, 90, 500). Progress goes to stderr, the table to stdout.
 */
import { cpuSeconds } from './proc-cpu.js'
import { rmSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { type MeridianClient, type WriteHandle } from '../client/node.js'
import { encodeChange } from '../core/codec/index.js'
import { CRDT_LOG } from '../server/region-node.js'
import { openFileStorage } from '../server/storage/file-adapter.js'
import { LwwFill } from './lww-fill.js'
import { ProcessCluster, sleep, waitFor, type ClusterNode } from '../test/helpers/cluster.js'
import { connectedClient, dirBytes, memoryKib, regionStatus as status, whenHolds } from './cluster-probe.js'
import { ResultTable } from './result-table.js'
import { WorkloadResults, writeFiguresFile } from './suite/figures.js'
import { measureForwardCeiling } from './suite/ws-forward-ceiling.js'
const memory = memoryKib

const N = Number(process.argv[2] ?? 20_000)
const SAMPLES = Number(process.argv[3] ?? 1000)
const FILL = Number(process.argv[4] ?? 1_000_000)
const CATCH_UP_TIMEOUT_MS = Number(process.argv[5] ?? 90) * 1000
for (const [name, value] of [['N', N], ['samples', SAMPLES], ['M', FILL]] as const) {
  if (!Number.isSafeInteger(value) || value < 100) throw new Error(`${name} must be an integer >= 100`)
}
const WINDOW = Number(process.argv[6] ?? 500)
const DOCS = 200
const WARMUP_WRITES = 2000
const WARMUP_SAMPLES = 50
const FILL_DOCS = 10_000
const FILL_BATCH = 10_000

// ---------------------------------------------------------------------------------------------
// helpers

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const mib = (kib: number): string => `${fmt(kib / 1024, 0)} MiB`
const now = (): number => performance.now()



/** Counters of a node's /metrics, keyed `name{labels}`. */
async function metrics(node: ClusterNode): Promise<Map<string, number>> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^(meridian_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line)
    if (m) out.set(m[1] as string, Number(m[2]))
  }
  return out
}





function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

const table = new ResultTable('note / anchor')
const row = (what: string, value = '', note = ''): void => table.add(what, value, note)

const printTable = (): void => table.print()
// The figures `npm run bench` collects (bench/run.ts): W3 from phases 1–2, W6 from phase 3.
const w3 = new WorkloadResults('W3')
const w6 = new WorkloadResults('W6')

// ---------------------------------------------------------------------------------------------
// the cluster, cleaned up whatever happens

const log = (message: string): void => console.error(`[bench] ${message}`)
const cpuModel = cpus()[0]?.model ?? 'unknown cpu'
console.log(`replication bench: node ${process.version}, ${cpus().length} × ${cpuModel}, ${process.platform} ${process.arch}`)
console.log(`N = ${fmt(N)} changes (window ${WINDOW}, ${DOCS} docs), ${fmt(SAMPLES)} latency samples, M = ${fmt(FILL)} changes for recovery`)

const startedAt = now()
const clients: MeridianClient[] = []
let cluster: ProcessCluster | null = null
// test/helpers/cluster.ts SIGKILLs every child on exit and on SIGINT/SIGTERM; this also removes the temp dir.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (cluster !== null) rmSync(cluster.dir, { recursive: true, force: true })
    process.exit(130)
  })
}

let failed = false
try {
  log('starting three server processes (file storage, full mesh)…')
  cluster = await ProcessCluster.start({ ids: ['a', 'b', 'c'], topology: 'mesh', storage: 'file' })
  await cluster.waitConnected()
  const [A, B, C] = (['a', 'b', 'c'] as const).map((id) => (cluster as ProcessCluster).node(id)) as [ClusterNode, ClusterNode, ClusterNode]
  log(`data in ${cluster.dir}`)

  // -------------------------------------------------------------------------------------------
  // 1. throughput

  const writer = await connectedClient(A)
  clients.push(writer)
  const notes = writer.lww('notes')
  let written = 0
  const put = () => {
    const i = written++
    return notes.put(`note-${i % DOCS}`, { title: `note ${i}`, n: i, done: i % 2 === 0 })
  }
  log(`warm-up: ${WARMUP_WRITES} writes…`)
  for (let w = 0; w < WARMUP_WRITES; w += WINDOW) {
    let last = put()
    for (let k = 1; k < WINDOW; k++) last = put()
    await last.durable
  }
  // A logs the client's writes under its own origin, with the client as author (docs/design.md §3).
  const heldAtA = async (): Promise<number> => (await status(A)).vector[A.nodeId] ?? 0
  {
    const target = await heldAtA()
    await Promise.all([B, C].map((node) => whenHolds(node, A.nodeId, target, 30_000)))
  }

  log(`throughput: ${fmt(N)} writes…`)
  const pids = [A, B, C].map((node) => node.child?.pid)
  const cpuBefore = pids.map(cpuSeconds)
  const benchCpuBefore = process.cpuUsage()
  const metricsBefore = await metrics(A)
  const t0 = now()
  let last: WriteHandle | null = null
  for (let done = 0; done < N; ) {
    const size = Math.min(WINDOW, N - done)
    for (let k = 0; k < size; k++) last = put()
    done += size
    await last?.durable
  }
  const tDurable = now()
  const target = await heldAtA()
  const lastHandle = last as WriteHandle | null
  if (lastHandle === null) throw new Error('no writes')
  const replicatedAt = lastHandle.replicated.then(now)
  const [tB, tC] = await Promise.all([B, C].map((node) => whenHolds(node, A.nodeId, target, 120_000, 5)))
  const tReplicated = await replicatedAt
  const cpuAfter = pids.map(cpuSeconds)
  const benchCpu = process.cpuUsage(benchCpuBefore)
  const cpu = cpuAfter.map((after, i) => after - (cpuBefore[i] as number))
  const metricsAfter = await metrics(A)
  const delta = (key: string): number => (metricsAfter.get(key) ?? NaN) - (metricsBefore.get(key) ?? NaN)
  const tBoth = Math.max(tB as number, tC as number)
  const rate = (ms: number): string => `${fmt(N / (ms / 1000))} changes/s`
  row(`1. throughput: ${fmt(N)} LWW puts on A, windows of ${WINDOW}`)
  row('   durable at A (last window acked)', rate(tDurable - t0), `${fmt(tDurable - t0)} ms`)
  row('   held by B and C (/status vectors)', rate(tBoth - t0), `B ${fmt((tB as number) - t0)} ms, C ${fmt((tC as number) - t0)} ms`)
  row('   last write `replicated` (client)', rate(tReplicated - t0), `${fmt(tReplicated - t0)} ms after the first put`)
  row(
    '   server CPU s (A / B / C)',
    `${fmt(cpu[0] as number, 2)} / ${fmt(cpu[1] as number, 2)} / ${fmt(cpu[2] as number, 2)}`,
    `bench process (client) ${fmt((benchCpu.user + benchCpu.system) / 1e6, 2)} s`,
  )
  row(
    '   changes per server core-second',
    `A ${fmt(N / (cpu[0] as number))}, B ${fmt(N / (cpu[1] as number))}, C ${fmt(N / (cpu[2] as number))}`,
    `cluster ${fmt(N / ((cpu[0] as number) + (cpu[1] as number) + (cpu[2] as number)))} (all three processes)`,
  )

  const heldRate = w3.figure('meridian.heldByBC.changesPerSecond', 'meridian', `changes/s held by B and C, ${WINDOW} in flight`, N / ((tBoth - t0) / 1000), '/s', 'higher')
  w3.figure('meridian.durableAtA.changesPerSecond', 'meridian', 'changes/s durable at A', N / ((tDurable - t0) / 1000), '/s', 'higher')
  w3.figure('meridian.changesPerCoreSecondA', 'meridian', 'changes per core-second of A', N / (cpu[0] as number), '/core-s', 'higher')
  w3.figure('meridian.changesPerCoreSecondCluster', 'meridian', 'changes per core-second, A+B+C', N / ((cpu[0] as number) + (cpu[1] as number) + (cpu[2] as number)), '/core-s', 'higher')

  log(`ceiling: ${fmt(N)} encoded changes through raw ws forwarding (one frame each, windows of ${WINDOW})…`)
  {
    const fill = new LwwFill('a', DOCS, Date.now())
    const encoded = Array.from({ length: N }, (_, i) => encodeChange(fill.change(i, i + 1)))
    const ceiling = await measureForwardCeiling(encoded, WINDOW)
    const ceilingRate = w3.figure('rawWs.changesPerSecond', 'raw-ws', `changes/s forwarded to two receivers, ${WINDOW} in flight`, ceiling.changesPerSecond, '/s', 'higher')
    w3.figure('rawWs.changesPerCoreSecond', 'raw-ws', 'changes per core-second of the forwarder', N / ceiling.forwarderCpuSeconds, '/core-s', 'higher')
    row('   ceiling: raw ws forwarding, same changes, one frame each', `${fmt(ceilingRate)} changes/s`, `Meridian ${fmt((heldRate / ceilingRate) * 100, 1)} % of it; forwarder CPU ${fmt(ceiling.forwarderCpuSeconds, 2)} s`)
    w3.goal('W3: ≥ 50 % of the raw ws forwarding ceiling', heldRate >= 0.5 * ceilingRate, `${fmt((heldRate / ceilingRate) * 100, 1)} % (${fmt(heldRate)} of ${fmt(ceilingRate)} changes/s)`)
  }
  row(
    '   WebSocket frames per change at A',
    `in from client ${fmt(delta('meridian_frames_in_total{kind="client"}') / N, 2)}, out to peers ${fmt(delta('meridian_frames_out_total{kind="peer"}') / N, 2)}`,
    `out to client ${fmt(delta('meridian_frames_out_total{kind="client"}'))}, in from peers ${fmt(delta('meridian_frames_in_total{kind="peer"}'))} frames in all`,
  )
  row(
    '   fsyncs at A / changes per fsync',
    `${fmt(delta('meridian_fsync_total'))} / ${fmt(delta('meridian_group_commit_batch_size_sum') / delta('meridian_fsync_total'), 1)}`,
  )

  // -------------------------------------------------------------------------------------------
  // 2. latency

  log(`latency: ${fmt(SAMPLES)} samples…`)
  const reader = await connectedClient(C)
  clients.push(reader)
  await waitFor(() => (reader.vector.get(A.nodeId) ?? 0) >= target, 60_000, 'the reader on C caught up', 10)
  const notesC = reader.lww('notes')
  let expect = -1
  let seen: (() => void) | null = null
  notesC.subscribe('latency', (doc) => {
    if (doc !== null && doc['i'] === expect && seen !== null) {
      const resolve = seen
      seen = null
      resolve()
    }
  })
  const toC: number[] = []
  const durable: number[] = []
  const replicated: number[] = []
  for (let i = 0; i < WARMUP_SAMPLES + SAMPLES; i++) {
    expect = i
    const atC = new Promise<number>((resolve) => {
      seen = () => resolve(now())
    })
    const start = now()
    const handle = notes.put('latency', { i, title: 'latency probe' })
    const [c, d, r] = await Promise.all([atC, handle.durable.then(now), handle.replicated.then(now)])
    if (i >= WARMUP_SAMPLES) {
      toC.push(c - start)
      durable.push(d - start)
      replicated.push(r - start)
    }
    await sleep(2)
  }
  const ms = (values: number[]) => {
    const sorted = [...values].sort((x, y) => x - y)
    return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] as number }
  }
  const lat = ms(toC)
  const dur = ms(durable)
  const rep = ms(replicated)
  const show = (l: { p50: number; p90: number; p99: number; max: number }) =>
    `p50 ${fmt(l.p50, 2)}  p90 ${fmt(l.p90, 2)}  p99 ${fmt(l.p99, 2)}  max ${fmt(l.max, 2)}`
  w3.figure('meridian.toOtherRegion.p50Ms', 'meridian', 'put on A → visible to a client of C, p50', lat.p50, 'ms', 'lower')
  w3.figure('meridian.toOtherRegion.p99Ms', 'meridian', 'put on A → visible to a client of C, p99', lat.p99, 'ms', 'lower')
  w3.figure('meridian.durable.p50Ms', 'meridian', 'put → durable at A, p50', dur.p50, 'ms', 'lower')
  w3.distribution('meridian.toOtherRegion', 'meridian', 'LWW put on A → visible in region C', toC)
  row(`2. latency, ${fmt(SAMPLES)} sequential puts on A (ms)`)
  row('   put → C client subscription callback', show(lat))
  row('   put → durable (A fsync ack)', show(dur))
  row('   put → replicated (all regions)', show(rep))
  for (const c of clients.splice(0)) await c.close()

  // -------------------------------------------------------------------------------------------
  // 3. recovery and catch-up (W6)

  const sigterm = async (node: ClusterNode): Promise<number> => {
    const child = node.child
    if (child === null || !node.running) return 0
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const start = now()
    child.kill('SIGTERM')
    await exited
    return now() - start
  }
  /** Restarts `node`, polling /readyz every 10 ms; resolves with the ms until it answered 200. */
  const restart = async (node: ClusterNode, timeoutMs: number): Promise<number> => {
    const start = now()
    let readyAt = 0
    const launched = (cluster as ProcessCluster).launch(node.nodeId, timeoutMs)
    const poll = (async () => {
      for (;;) {
        try {
          if ((await fetch(`${node.httpUrl}/readyz`)).status === 200) return (readyAt = now())
        } catch {
          // not listening yet
        }
        if (!node.running && now() - start > 1000) return NaN
        if (now() - start > timeoutMs) return NaN
        await sleep(10)
      }
    })()
    await launched
    await poll
    return readyAt - start
  }
  /** Samples the RSS of every running region every 200 ms until stopped; the peak per region. */
  const sampleRss = () => {
    const peak = new Map<string, number>()
    let sampling = true
    const done = (async () => {
      while (sampling) {
        for (const node of [A, B, C]) {
          const { rss } = memory(node.child?.pid)
          if (rss > (peak.get(node.nodeId) ?? 0)) peak.set(node.nodeId, rss)
        }
        await sleep(200)
      }
    })()
    return async () => {
      sampling = false
      await done
      return peak
    }
  }

  const smallLog = (await status(A)).changes
  const memBefore = memory(A.child?.pid)
  log('recovery anchor: restart A with its small log…')
  const stopSmallMs = await sigterm(A)
  const restartSmallMs = await restart(A, 30_000)
  const memSmall = memory(A.child?.pid)
  await cluster.waitConnected(20_000)

  // C goes away first: it will rejoin FILL changes behind. Then A's log gets FILL changes of its own
  // origin, written straight to its storage while it is stopped (as the server logs them), so that A
  // restarts with them in its log's tail and B, which stays up, catches up from A.
  log(`recovery: stop C, then A; fill A's log with ${fmt(FILL)} changes…`)
  await sigterm(C)
  const ownBefore = (await status(A)).vector[A.nodeId] ?? 0
  await sigterm(A)
  const storageDir = join(cluster.dir, 'data', 'a', 'storage')
  const fillStart = now()
  {
    const storage = await openFileStorage(storageDir)
    const fill = new LwwFill('a', FILL_DOCS, Date.now() - 3_600_000) // an hour ago: every timestamp is in the past at restart
    let batch: Uint8Array[] = []
    for (let i = 0; i < FILL; i++) {
      batch.push(encodeChange(fill.change(i, ownBefore + i + 1)))
      if (batch.length === FILL_BATCH || i === FILL - 1) {
        await storage.append(CRDT_LOG, batch)
        await storage.flush()
        batch = []
      }
    }
    await storage.close()
  }
  const fillMs = now() - fillStart

  log('recovery: raw openFileStorage…')
  const openStart = now()
  const reopened = await openFileStorage(storageDir)
  const openMs = now() - openStart
  const logBytes = dirBytes(storageDir)
  const openedRecords = reopened.recoveryStats.records
  await reopened.close()

  log('recovery: restart A with the big log…')
  const peakDuringB = sampleRss()
  const restartBigMs = await restart(A, 300_000)
  const memBig = memory(A.child?.pid)
  const statusBig = await status(A)
  if (statusBig.changes < FILL) log(`WARNING: A reports ${statusBig.changes} changes after recovery, expected at least ${FILL}`)
  const filledTo = ownBefore + FILL

  log(`catch-up: B, up all along, receives A's ${fmt(FILL)} (timeout ${CATCH_UP_TIMEOUT_MS / 1000} s)…`)
  const catchStartB = now()
  const heldB = await whenHolds(B, 'a', filledTo, CATCH_UP_TIMEOUT_MS, 50).then((t) => t - catchStartB, () => NaN)
  const peakB = await peakDuringB()

  log(`catch-up: C rejoins ${fmt(FILL)} changes behind (timeout ${CATCH_UP_TIMEOUT_MS / 1000} s)…`)
  const peakDuringC = sampleRss()
  const rejoinStart = now()
  const readyC = await restart(C, 60_000)
  const heldC = await whenHolds(C, 'a', filledTo, CATCH_UP_TIMEOUT_MS, 20).then((t) => t - rejoinStart, () => NaN)
  const peakC = await peakDuringC()
  const statusC = await status(C)
  const memC = memory(C.child?.pid)

  row(`3. recovery of A, log ${fmt(smallLog)} → ${fmt(smallLog + FILL)} records, ${fmt(logBytes / 2 ** 20, 1)} MiB on disk`)
  row(
    `   fill: ${fmt(FILL)} LWW changes straight into storage`,
    `${fmt(fillMs)} ms`,
    `${fmt(FILL / (fillMs / 1000))} changes/s (encode + append + flush per ${fmt(FILL_BATCH)})`,
  )
  row(`   raw openFileStorage (${fmt(openedRecords)} records)`, `${fmt(openMs)} ms`, `${fmt(openedRecords / (openMs / 1000))} records/s`)
  row(
    `   restart → /readyz 200, ${fmt(smallLog + FILL)} records`,
    `${fmt(restartBigMs)} ms`,
    `anchor ${fmt(restartSmallMs)} ms with ${fmt(smallLog)} records; ${fmt(restartBigMs / restartSmallMs, 1)}×`,
  )
  row(
    '   replay beyond the anchor, per record',
    `${fmt(((restartBigMs - restartSmallMs) / FILL) * 1000, 2)} µs`,
    `${fmt(FILL / ((restartBigMs - restartSmallMs) / 1000))} records/s (open + readLog + decode + mesh.restore)`,
  )
  row(
    '   A RSS after recovery (VmRSS / VmHWM)',
    `${mib(memBig.rss)} / ${mib(memBig.hwm)}`,
    `small log: ${mib(memSmall.rss)} after restart, ${mib(memBefore.rss)} before stop`,
  )
  row('   A graceful stop (SIGTERM → exit), small log', `${fmt(stopSmallMs)} ms`)
  row(
    `   catch-up: B (up) receives A's ${fmt(FILL)}`,
    Number.isNaN(heldB) ? 'TIMEOUT' : `${fmt(FILL / (heldB / 1000))} changes/s`,
    `${fmt(heldB)} ms after A's /readyz; peak RSS A ${mib(peakB.get('a') ?? NaN)}, B ${mib(peakB.get('b') ?? NaN)}`,
  )
  row(
    `   rejoin: C restarts ${fmt(FILL)} behind → holds them`,
    Number.isNaN(heldC) ? 'TIMEOUT' : `${fmt(heldC)} ms`,
    `/readyz after ${fmt(readyC)} ms; state transfers received ${statusC.storage.stateTransfersReceived}; peak RSS C ${mib(peakC.get('c') ?? NaN)}`,
  )
  const endMem = [A, B, C].map((node) => memory(node.child?.pid))
  row('   RSS now (A, B, C)', endMem.map((m) => mib(m.rss)).join(', '), `VmHWM ${endMem.map((m) => mib(m.hwm)).join(', ')}; C: ${fmt(statusC.documents)} documents, ${fmt(statusC.changes)} changes in its log`)
  w6.figure('restartWithLog.ms', 'meridian', `restart → ready with ${fmt(smallLog + FILL)} log records`, restartBigMs, 'ms', 'lower')
  w6.figure('restartRss.MiB', 'meridian', `RSS after that restart`, memBig.rss / 1024, 'MiB', 'lower')
  w6.figure('catchUpUp.ms', 'meridian', `a region that stayed up receives ${fmt(FILL)} changes`, heldB, 'ms', 'lower')
  w6.figure('catchUpUp.changesPerSecond', 'meridian', 'its catch-up rate', FILL / (heldB / 1000), '/s', 'higher')
  w6.figure('rejoin.ms', 'meridian', `a region restarted ${fmt(FILL)} behind: spawn → holds them`, heldC, 'ms', 'lower')
  w6.figure('rejoin.peakRssMiB', 'meridian', 'its peak RSS meanwhile', (peakC.get('c') ?? NaN) / 1024, 'MiB', 'lower')
  w6.figure('rejoin.rssMiB', 'meridian', 'its RSS once caught up', memC.rss / 1024, 'MiB', 'lower')
} catch (err) {
  failed = true
  console.error('[bench] FAILED:', err)
  if (cluster !== null) for (const node of cluster.nodes.values()) console.error(`--- ${node.nodeId} (last lines)\n${node.tail(20)}`)
} finally {
  for (const c of clients.splice(0)) await c.close().catch(() => {})
  if (cluster !== null) await cluster.stop()
}

console.log(`total run ${fmt((now() - startedAt) / 1000, 1)} s`)
printTable()
if (!failed) writeFiguresFile([w3, w6])
process.exit(failed ? 1 : 0)

/**
 * Storage of a crdt region: memory, disk, startup and handshakes as the history grows — the BEFORE
 * baseline of issue 10 ("state, not history": today a crdt node holds every change it ever saw in memory
 * and replays the whole log at startup). Real server processes (`server/cli.ts serve`, through
 * test/helpers/cluster.ts) on 127.0.0.1, file storage in a temp dir; RSS from /proc/<pid>/status, CPU
 * from /proc/<pid>/stat (bench/proc-cpu.ts).
 *
 *   overwrites  three regions, full mesh; OVERWRITES (100 000) LWW puts over 100 documents through one
 *               Node client on region a (windows of 500, each awaiting its last `durable`; the last
 *               `replicated` awaited). Per region: RSS before / after a settle period, RSS growth per
 *               write, bytes on disk vs the live state (the 100 documents' JSON from GET /v1/notes/:id).
 *   restart     one region whose log holds RESTART_CHANGES (1 000 000) LWW changes over 10 000 documents,
 *               written straight into its file storage (encodeChange records in the crdt log, as the node
 *               logs them; RegionNode.recover replays exactly these); spawn → /readyz 200, RSS after,
 *               against the anchor of the same region restarted with an empty log.
 *   catch-up    three regions, full mesh; c stopped (SIGTERM) while CATCHUP_CHANGES (200 000) LWW puts are
 *               written on a (rate reported), then c restarted: spawn → /readyz, and → c's /status vector
 *               equals a's and b's; changes/s.
 *   handshakes  three regions; HANDSHAKE_CLIENTS (10 000) distinct clients (raw WebSocket clients speaking
 *               the protocol, in waves, one LWW change each), then: the VersionVector frame a reconnecting
 *               client sends (a real createNodeClient that synced everything, reconnected with its store;
 *               the frame captured on the wire, and encodeMessage of its vector), a region's VersionVector
 *               announcement to a peer (encodeMessage of the region's vector, what MeshNode.connect and
 *               anti-entropy send), and GET /status.
 *
 * The servers run the built dist/ (built first), as `npm start` does; MERIDIAN_SERVER_ENTRY=tsx runs the sources.
 * Run: `npm run bench:storage [scenario…]` (all four by default; any of overwrites restart catch-up handshakes).
 * Sizes: STORAGE_BENCH_SCALE multiplies every default (0.1 for a quick run); STORAGE_OVERWRITES,
 * STORAGE_RESTART_CHANGES, STORAGE_CATCHUP_CHANGES, STORAGE_HANDSHAKE_CLIENTS set one exactly.
 * STORAGE_SETTLE_S (default 5) is the settle period before "after" RSS; STORAGE_SCENARIO_TIMEOUT_S (default
 * 600) bounds each scenario. Progress goes to stderr, the table to stdout, JSON to
 * bench/results/storage-<date>.json.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { memoryClientStore, nodeWebSocket, type MeridianClient, type WriteHandle } from '../client/node.js'
import { decodeMessage, encodeMessage } from '../core/codec/codec.js'
import { encodeChange } from '../core/codec/index.js'
import { MessageType, PROTOCOL_VERSION } from '../core/codec/messages.js'
import { encodeLwwPayload } from '../core/crdt/index.js'
import type { VersionVector } from '../core/types.js'
import { CRDT_LOG } from '../server/region-node.js'
import { openFileStorage } from '../server/storage/file-adapter.js'
import { REPO_ROOT, ProcessCluster, sleep, waitFor, type ClusterNode } from '../test/helpers/cluster.js'
import { LwwFill } from './lww-fill.js'
import { cpuSeconds } from './proc-cpu.js'
import { connectedClient, dirBytes, heapUsedBytes, memoryKib, regionStatus as status, whenHolds, type RegionStatus as Status } from './cluster-probe.js'
import { ResultTable } from './result-table.js'
/** VmRSS and VmHWM in bytes. */
const memory = (pid: number | undefined): { rss: number; hwm: number } => {
  const kib = memoryKib(pid)
  return { rss: kib.rss * 1024, hwm: kib.hwm * 1024 }
}

// ---------------------------------------------------------------------------------------------
// parameters

const SCALE = Number(process.env['STORAGE_BENCH_SCALE'] ?? 1)
if (!(SCALE > 0)) throw new Error('STORAGE_BENCH_SCALE must be > 0')
const sized = (env: string, full: number, min: number): number => {
  const raw = process.env[env]
  const n = raw === undefined ? Math.round(full * SCALE) : Number(raw)
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${env} must be an integer >= ${min} (got ${raw ?? n})`)
  return n
}
const OVERWRITES = sized('STORAGE_OVERWRITES', 100_000, 500)
const OVERWRITE_DOCS = 100
const RESTART_CHANGES = sized('STORAGE_RESTART_CHANGES', 1_000_000, 1000)
const RESTART_DOCS = Math.min(10_000, RESTART_CHANGES)
const CATCHUP_CHANGES = sized('STORAGE_CATCHUP_CHANGES', 200_000, 500)
const CATCHUP_DOCS = 1000
const HANDSHAKE_CLIENTS = sized('STORAGE_HANDSHAKE_CLIENTS', 10_000, 10)
const SETTLE_MS = Number(process.env['STORAGE_SETTLE_S'] ?? 5) * 1000
const SCENARIO_TIMEOUT_MS = Number(process.env['STORAGE_SCENARIO_TIMEOUT_S'] ?? 600) * 1000
const WINDOW = 500
const WAVE = Number(process.env['STORAGE_HANDSHAKE_WAVE'] ?? 250)
const FILL_BATCH = 10_000

const ALL = ['overwrites', 'restart', 'catch-up', 'handshakes'] as const
type Scenario = (typeof ALL)[number]
const chosen: Scenario[] = process.argv.slice(2).length === 0 ? [...ALL] : (process.argv.slice(2) as Scenario[])
for (const s of chosen) if (!(ALL as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; one of ${ALL.join(', ')}`)

// ---------------------------------------------------------------------------------------------
// helpers

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : String(n)
const mibOf = (bytes: number): string => `${fmt(bytes / 2 ** 20, 1)} MiB`
const now = (): number => performance.now()
const log = (message: string): void => console.error(`[storage ${new Date().toISOString().slice(11, 19)}] ${message}`)




const vectorsEqual = (a: Record<string, number>, b: Record<string, number>): boolean => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false
  return true
}



/** SIGTERM and wait for the exit (graceful: the log is flushed). */
async function sigterm(node: ClusterNode): Promise<number> {
  const child = node.child
  if (child === null || !node.running) return 0
  const start = now()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  await exited
  clearTimeout(timer)
  return now() - start
}

/** Spawn → /readyz 200 in ms (ProcessCluster.launch polls every 50 ms; this polls every 10 ms alongside). */
async function timedLaunch(cluster: ProcessCluster, node: ClusterNode, timeoutMs: number): Promise<number> {
  const start = now()
  let readyAt = NaN
  const launched = cluster.launch(node.nodeId, timeoutMs)
  let done = false
  const poll = (async () => {
    while (!done) {
      try {
        if ((await fetch(`${node.httpUrl}/readyz`)).status === 200) {
          readyAt = now()
          return
        }
      } catch {
        // not listening yet
      }
      await sleep(10)
    }
  })()
  try {
    await launched
  } finally {
    if (Number.isNaN(readyAt)) readyAt = now()
    done = true
    await poll
  }
  return readyAt - start
}

/** Writes `n` LWW puts on `docs` documents through `client` in windows of WINDOW, each awaiting its last `durable`. */
async function writeThrough(client: MeridianClient, n: number, docs: number, label: string): Promise<{ ms: number; last: WriteHandle }> {
  const notes = client.lww('notes')
  let last: WriteHandle | null = null
  const t0 = now()
  let nextReport = t0 + 5000
  for (let done = 0; done < n; ) {
    const size = Math.min(WINDOW, n - done)
    for (let k = 0; k < size; k++) {
      const i = done + k
      last = notes.put(`note-${i % docs}`, { title: `note ${i}`, n: i, done: i % 2 === 0 })
    }
    done += size
    await last?.durable
    if (now() > nextReport) {
      nextReport += 5000
      log(`${label}: ${fmt(done)} / ${fmt(n)} durable (${fmt(done / ((now() - t0) / 1000))} /s)`)
    }
  }
  return { ms: now() - t0, last: last as WriteHandle }
}

// results: a table for the terminal, and JSON

const table = new ResultTable()
const row = (what: string, value = '', note = ''): void => table.add(what, value, note)
const json: Record<string, unknown> = {}

const printTable = (): void => table.print()

/** Three regions, full mesh, file storage, connected; a, b, c in that order. */
async function threeRegions(scenario: string, track: (c: ProcessCluster) => void): Promise<{ cluster: ProcessCluster; nodes: ClusterNode[]; A: ClusterNode }> {
  log(`${scenario}: starting three regions (file storage, full mesh)…`)
  const cluster = await ProcessCluster.start({ ids: ['a', 'b', 'c'], topology: 'mesh', storage: 'file' })
  track(cluster)
  await cluster.waitConnected()
  const nodes = ['a', 'b', 'c'].map((id) => cluster.node(id))
  return { cluster, nodes, A: nodes[0] as ClusterNode }
}

// ---------------------------------------------------------------------------------------------
// 1. overwrites

async function overwrites(track: (c: ProcessCluster) => void): Promise<void> {
  const { cluster, nodes, A } = await threeRegions('overwrites', track)
  await sleep(SETTLE_MS)
  const before = nodes.map((n) => memory(n.child?.pid))
  const diskBefore = nodes.map((n) => dirBytes(join(cluster.dir, 'data', n.nodeId, 'storage')))
  const cpuBefore = nodes.map((n) => cpuSeconds(n.child?.pid))
  const client = await connectedClient(A)
  try {
    log(`overwrites: ${fmt(OVERWRITES)} puts over ${OVERWRITE_DOCS} documents through a…`)
    const { ms, last } = await writeThrough(client, OVERWRITES, OVERWRITE_DOCS, 'overwrites')
    const replicatedStart = now()
    await last.replicated
    const replicatedMs = now() - replicatedStart + ms
    for (const n of nodes) await whenHolds(n, client.clientId, OVERWRITES, 120_000)
    const cpu = nodes.map((n, i) => cpuSeconds(n.child?.pid) - (cpuBefore[i] as number))
    log(`overwrites: written in ${fmt(ms)} ms; settling ${SETTLE_MS / 1000} s…`)
    await sleep(SETTLE_MS)
    const mid = nodes.map((n) => memory(n.child?.pid))
    const heapMid = await Promise.all(nodes.map(heapUsedBytes))
    // A second round of the same overwrites: what memory does once the heap has grown to its working
    // size. A node that keeps history grows as much again; one that keeps state does not.
    log(`overwrites: the same ${fmt(OVERWRITES)} puts again…`)
    const second = await writeThrough(client, OVERWRITES, OVERWRITE_DOCS, 'overwrites (2nd)')
    for (const n of nodes) await whenHolds(n, client.clientId, 2 * OVERWRITES, 120_000)
    await second.last.replicated
    await sleep(SETTLE_MS)
    const after = nodes.map((n) => memory(n.child?.pid))
    const heapAfter = await Promise.all(nodes.map(heapUsedBytes))
    const statuses = await Promise.all(nodes.map(status))
    const disk = nodes.map((n) => dirBytes(join(cluster.dir, 'data', n.nodeId, 'storage')))
    let liveBytes = 0
    for (let d = 0; d < OVERWRITE_DOCS; d++) liveBytes += (await (await fetch(`${A.httpUrl}/v1/notes/note-${d}`)).text()).length
    row(`overwrites: ${fmt(OVERWRITES)} LWW puts, ${OVERWRITE_DOCS} docs, via a`, `${fmt(OVERWRITES / (ms / 1000))} puts/s durable`, `${fmt(ms)} ms; last replicated at ${fmt(replicatedMs)} ms`)
    row('  live state (GET of the 100 documents, JSON)', `${fmt(liveBytes)} B`, `${fmt(liveBytes / OVERWRITE_DOCS)} B per document`)
    const perRegion: unknown[] = []
    nodes.forEach((n, i) => {
      const b = before[i] as { rss: number; hwm: number }
      const m = mid[i] as { rss: number; hwm: number }
      const a = after[i] as { rss: number; hwm: number }
      const growth = (m.rss - b.rss) / OVERWRITES
      const steadyGrowth = (a.rss - m.rss) / OVERWRITES
      row(
        `  region ${n.nodeId}: RSS before → after 1st (settled ${SETTLE_MS / 1000} s)`,
        `${mibOf(b.rss)} → ${mibOf(m.rss)}`,
        `${fmt(growth)} B per write; CPU ${fmt(cpu[i] as number, 1)} s`,
      )
      row(
        `  region ${n.nodeId}: RSS after 2nd ${fmt(OVERWRITES)}`,
        `${mibOf(a.rss)}`,
        `${fmt(steadyGrowth)} B per write over the 2nd round; VmHWM ${mibOf(a.hwm)}; /status changes ${fmt(statuses[i]?.changes ?? NaN)}`,
      )
      row(
        `  region ${n.nodeId}: V8 heap used after 1st → 2nd`,
        `${mibOf(heapMid[i] as number)} → ${mibOf(heapAfter[i] as number)}`,
        `${fmt(((heapAfter[i] as number) - (heapMid[i] as number)) / OVERWRITES)} B per write (garbage not yet collected included)`,
      )
      row(
        `  region ${n.nodeId}: on disk (storage dir) vs live state`,
        `${mibOf(disk[i] as number)}`,
        `${fmt((disk[i] as number) / liveBytes, 0)}× the live JSON; ${fmt(((disk[i] as number) - (diskBefore[i] as number)) / (2 * OVERWRITES), 1)} B per write`,
      )
      perRegion.push({ region: n.nodeId, rssBefore: b.rss, rssAfterFirst: m.rss, rssAfter: a.rss, hwmAfter: a.hwm, rssGrowthPerWrite: growth, rssGrowthPerWriteSecondRound: steadyGrowth, heapUsedAfterFirst: heapMid[i], heapUsedAfter: heapAfter[i], diskBytes: disk[i], diskBytesBefore: diskBefore[i], heldChanges: statuses[i]?.changes, cpuSeconds: cpu[i] })
    })
    json['overwrites'] = { writes: OVERWRITES, docs: OVERWRITE_DOCS, window: WINDOW, durableMs: ms, replicatedMs, liveStateJsonBytes: liveBytes, settleMs: SETTLE_MS, regions: perRegion }
  } finally {
    await client.close().catch(() => {})
    await cluster.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// 2. restart

async function restart(track: (c: ProcessCluster) => void): Promise<void> {
  log('restart: starting one region (file storage)…')
  const cluster = await ProcessCluster.start({ ids: ['r'], topology: 'mesh', storage: 'file' })
  track(cluster)
  const R = cluster.node('r')
  await sleep(1000)
  await sigterm(R)
  const anchorMs = await timedLaunch(cluster, R, 30_000)
  await sleep(SETTLE_MS)
  const anchorMem = memory(R.child?.pid)
  await sigterm(R)
  const storageDir = join(cluster.dir, 'data', 'r', 'storage')
  log(`restart: filling r's crdt log with ${fmt(RESTART_CHANGES)} changes over ${fmt(RESTART_DOCS)} documents…`)
  const fillStart = now()
  {
    const storage = await openFileStorage(storageDir)
    const bounds = await storage.logBounds(CRDT_LOG)
    if (bounds.lastIndex >= bounds.firstIndex) throw new Error(`r's log is not empty (${bounds.firstIndex}..${bounds.lastIndex})`)
    // Origin r, as the region logs its own REST writes; an hour ago, so every timestamp is past at restart.
    const fill = new LwwFill('r', RESTART_DOCS, Date.now() - 3_600_000)
    let batch: Uint8Array[] = []
    for (let i = 0; i < RESTART_CHANGES; i++) {
      batch.push(encodeChange(fill.change(i, i + 1)))
      if (batch.length === FILL_BATCH || i === RESTART_CHANGES - 1) {
        await storage.append(CRDT_LOG, batch)
        await storage.flush()
        batch = []
      }
      if (i > 0 && i % 200_000 === 0) log(`restart: ${fmt(i)} records written`)
    }
    await storage.close()
  }
  const fillMs = now() - fillStart
  const disk = dirBytes(storageDir)
  try {
    log(`restart: fill took ${fmt(fillMs)} ms (${mibOf(disk)}); first start replays the whole log (a data directory from before snapshots)…`)
    const firstReadyMs = await timedLaunch(cluster, R, SCENARIO_TIMEOUT_MS)
    const first = await status(R)
    log(`restart: first start ready in ${fmt(firstReadyMs)} ms holding ${fmt(first.changes)} changes; waiting for a snapshot round and compaction…`)
    await waitFor(async () => {
      const st = await status(R)
      return st.changes <= 20_000 && st.storage.logRecords <= 20_000
    }, SCENARIO_TIMEOUT_MS, 'r compacted its log, in memory and on disk')
    // The storage log is cut after the log in memory: wait until the disk follows.
    await waitFor(() => dirBytes(storageDir) < disk / 2, SCENARIO_TIMEOUT_MS, "r's storage log cut on disk")
    // Segments are deleted one by one: let the cut finish before the kill.
    for (let previous = -1; dirBytes(storageDir) !== previous; await sleep(500)) previous = dirBytes(storageDir)
    const compactedDisk = dirBytes(storageDir)
    // SIGKILL: the restart replays what the last round did not cover, as after a crash.
    await cluster.kill('r')
    log('restart: compacted and SIGKILLed; restarting r…')
    const readyMs = await timedLaunch(cluster, R, SCENARIO_TIMEOUT_MS)
    const pid = R.child?.pid
    const cpuAtReady = cpuSeconds(pid)
    const memReady = memory(pid)
    const st = await status(R)
    await sleep(SETTLE_MS)
    const memSettled = memory(pid)
    row(`restart: history of ${fmt(RESTART_CHANGES)} changes over ${fmt(RESTART_DOCS)} docs`, `${mibOf(disk)} on disk`, `filled straight into storage in ${fmt(fillMs)} ms`)
    row('  first start (replays the whole old log)', `${fmt(firstReadyMs)} ms`, 'then a snapshot round and compaction')
    row('  on disk after compaction', mibOf(compactedDisk), `${fmt(st.documents)} documents held as state, ${fmt(st.changes)} changes in the log's tail`)
    row('  spawn → /readyz 200 after SIGKILL', `${fmt(readyMs)} ms`, `anchor (empty) ${fmt(anchorMs)} ms; CPU ${fmt(cpuAtReady, 1)} s`)
    row('  RSS at ready / settled / VmHWM', `${mibOf(memReady.rss)} / ${mibOf(memSettled.rss)} / ${mibOf(memSettled.hwm)}`, `anchor ${mibOf(anchorMem.rss)}`)
    json['restart'] = { changes: RESTART_CHANGES, docs: RESTART_DOCS, diskBytes: disk, compactedDiskBytes: compactedDisk, fillMs, firstReadyMs, readyMs, anchorReadyMs: anchorMs, cpuSecondsAtReady: cpuAtReady, rssAtReady: memReady.rss, rssSettled: memSettled.rss, hwm: memSettled.hwm, anchorRss: anchorMem.rss, heldChanges: st.changes, documents: st.documents }
  } finally {
    await cluster.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// 3. catch-up

async function catchUp(track: (c: ProcessCluster) => void): Promise<void> {
  const { cluster, nodes } = await threeRegions('catch-up', track)
  const [A, B, C] = nodes as [ClusterNode, ClusterNode, ClusterNode]
  const client = await connectedClient(A)
  try {
    await sigterm(C)
    log(`catch-up: c stopped; writing ${fmt(CATCHUP_CHANGES)} puts on a…`)
    const { ms } = await writeThrough(client, CATCHUP_CHANGES, CATCHUP_DOCS, 'catch-up')
    await whenHolds(B, client.clientId, CATCHUP_CHANGES, 120_000)
    const target = (await status(A)).vector
    log(`catch-up: written in ${fmt(ms)} ms; restarting c…`)
    const start = now()
    const readyMs = await timedLaunch(cluster, C, 60_000)
    const pid = C.child?.pid
    let caughtMs = NaN
    const deadline = start + SCENARIO_TIMEOUT_MS
    let lastLog = now()
    for (;;) {
      const [sa, sb, sc] = await Promise.all([A, B, C].map(status)) as [Status, Status, Status]
      if (vectorsEqual(sc.vector, sa.vector) && vectorsEqual(sc.vector, sb.vector)) {
        caughtMs = now() - start
        break
      }
      if (now() > deadline) throw new Error(`c not caught up after ${SCENARIO_TIMEOUT_MS / 1000} s: holds ${sc.vector[client.clientId] ?? 0} of ${target[client.clientId]}`)
      if (now() - lastLog > 5000) {
        lastLog = now()
        log(`catch-up: c holds ${fmt(sc.vector[client.clientId] ?? 0)} / ${fmt(CATCHUP_CHANGES)}`)
      }
      await sleep(20)
    }
    const cpuC = cpuSeconds(pid)
    const mem = memory(pid)
    const transfers = (await status(C)).storage.stateTransfersReceived
    row(`catch-up: c stopped while ${fmt(CATCHUP_CHANGES)} puts (${CATCHUP_DOCS} docs) went to a`, `${fmt(CATCHUP_CHANGES / (ms / 1000))} puts/s durable at a`, `${fmt(ms)} ms with two regions up`)
    row('  c: spawn → /readyz 200', `${fmt(readyMs)} ms`)
    row('  c: spawn → vector equals a\'s and b\'s', `${fmt(caughtMs)} ms`, `${fmt(CATCHUP_CHANGES / (caughtMs / 1000))} changes/s from spawn; ${fmt(CATCHUP_CHANGES / ((caughtMs - readyMs) / 1000))} /s from ready`)
    row('  c: CPU s / RSS / VmHWM after catch-up', `${fmt(cpuC, 1)} s / ${mibOf(mem.rss)} / ${mibOf(mem.hwm)}`, `${transfers} state transfer(s) received`)
    json['catchUp'] = { changes: CATCHUP_CHANGES, docs: CATCHUP_DOCS, writeMs: ms, readyMs, caughtUpMs: caughtMs, cpuSecondsC: cpuC, rssC: mem.rss, hwmC: mem.hwm, stateTransfersReceived: transfers }
  } finally {
    await client.close().catch(() => {})
    await cluster.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// 4. handshakes

/**
 * One raw protocol client: handshake, answers the region's vector with that same vector (so the region
 * sends it nothing back), one LWW change of its own origin (seq 1), then waits for the caller to close.
 */
const received = { bytes: 0, frames: 0 }
function rawClient(url: string, clientId: string, i: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { maxPayload: 64 * 2 ** 20 })
    let stage = 0
    const fail = (err: unknown) => {
      socket.terminate()
      reject(err instanceof Error ? err : new Error(String(err)))
    }
    socket.binaryType = 'nodebuffer'
    socket.on('error', fail)
    socket.on('open', () => {
      socket.send(encodeMessage({ type: MessageType.Handshake, protocolVersion: PROTOCOL_VERSION, role: 'client', identity: clientId, region: '', credentials: '' }))
    })
    socket.on('message', (data: Buffer) => {
      received.bytes += data.byteLength
      received.frames += 1
      if (stage === 2) return
      const message = decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      if (stage === 0) {
        if (message.type !== MessageType.HandshakeAccept) return fail(new Error(`${clientId}: expected HandshakeAccept, got ${message.type}`))
        stage = 1
      } else if (stage === 1 && message.type === MessageType.VersionVector) {
        stage = 2
        socket.send(encodeMessage({ type: MessageType.VersionVector, vector: message.vector }))
        const change = {
          origin: clientId,
          seq: 1,
          hlc: { wallMs: Date.now(), counter: 0, node: clientId },
          collection: 'notes',
          docId: `h-${i}`,
          docType: 'lww' as const,
          payload: encodeLwwPayload({ kind: 'write', writes: [{ field: 'title', deleted: false, value: `client ${i}`, base: null }] }),
        }
        socket.send(encodeMessage({ type: MessageType.ChangeBatch, changes: [change] }))
        resolve(socket)
      }
    })
  })
}

async function handshakes(track: (c: ProcessCluster) => void): Promise<void> {
  const { cluster, nodes, A } = await threeRegions('handshakes', track)
  const clients: MeridianClient[] = []
  try {
    const statusEmpty = (await (await fetch(`${A.httpUrl}/status`)).arrayBuffer()).byteLength
    const t0 = now()
    for (let from = 0; from < HANDSHAKE_CLIENTS; from += WAVE) {
      const to = Math.min(HANDSHAKE_CLIENTS, from + WAVE)
      const ids = Array.from({ length: to - from }, (_, k) => `c-bench-${String(from + k).padStart(6, '0')}`)
      const sockets = await Promise.all(ids.map((id, k) => rawClient(A.url, id, from + k)))
      // a logs each client's change under its own origin (the client as author): one seq per client.
      await waitFor(async () => ((await status(A)).vector[A.nodeId] ?? 0) >= to, 60_000, `wave ${from}..${to} held by a`, 20)
      for (const s of sockets) s.close()
      if ((to / WAVE) % 8 === 0 || to === HANDSHAKE_CLIENTS) log(`handshakes: ${fmt(to)} / ${fmt(HANDSHAKE_CLIENTS)} clients wrote (${fmt(to / ((now() - t0) / 1000))} clients/s)`)
    }
    const writeMs = now() - t0
    for (const n of nodes) await waitFor(async () => ((await status(n)).vector[A.nodeId] ?? 0) >= HANDSHAKE_CLIENTS, 120_000, `${n.nodeId} holds every client's change`, 100)

    // A real client: syncs everything, then reconnects with its store (the resume handshake), its frames captured.
    const sent: Uint8Array[] = []
    const Base = nodeWebSocket()
    class Recording extends (Base as unknown as typeof WebSocket) {
      override send(data: unknown, ...rest: unknown[]): void {
        if (data instanceof Uint8Array) sent.push(new Uint8Array(data))
        ;(super.send as (...args: unknown[]) => void)(data, ...rest)
      }
    }
    const store = memoryClientStore()
    const clientId = 'c-bench-resume'
    const first = await connectedClient(A, { clientId, store })
    clients.push(first)
    const regionVector = (await status(A)).vector
    await waitFor(() => Object.entries(regionVector).every(([o, s]) => (first.vector.get(o) ?? 0) >= s), 120_000, 'the real client synced', 50)
    await first.lww('notes').put('resume-probe', { title: 'resume' }).durable
    await first.close()
    clients.pop()
    const resumed = await connectedClient(A, { clientId, store, WebSocket: Recording as unknown as typeof WebSocket })
    clients.push(resumed)
    await sleep(500)
    const vvFrames = sent.filter((f) => {
      try {
        return decodeMessage(f).type === MessageType.VersionVector
      } catch {
        return false
      }
    })
    const resumeWire = vvFrames[0]?.byteLength ?? NaN
    const resumeEncoded = encodeMessage({ type: MessageType.VersionVector, vector: resumed.vector }).byteLength
    const entries = resumed.vector.size

    const finalVector = (await status(A)).vector
    const regionVV: VersionVector = new Map(Object.entries(finalVector))
    const peerAnnouncement = encodeMessage({ type: MessageType.VersionVector, vector: regionVV }).byteLength
    const statusBytes = (await (await fetch(`${A.httpUrl}/status`)).arrayBuffer()).byteLength
    const mem = nodes.map((n) => memory(n.child?.pid))

    row(`handshakes: ${fmt(HANDSHAKE_CLIENTS)} distinct clients wrote once (waves of ${WAVE}, raw protocol)`, `${fmt(HANDSHAKE_CLIENTS / (writeMs / 1000))} clients/s`, `${fmt(writeMs)} ms`)
    row('  client resume VersionVector (captured on the wire)', `${fmt(resumeWire)} B`, `${fmt(vvFrames.length)} VersionVector frame(s) sent in the first 500 ms; encodeMessage(client.vector) ${fmt(resumeEncoded)} B, ${fmt(entries)} entries, ${fmt(resumeEncoded / entries, 1)} B/entry`)
    row('  region → peer VersionVector announcement', `${fmt(peerAnnouncement)} B`, `encodeMessage of a's vector, ${fmt(regionVV.size)} entries; sent on every link connect and every anti-entropy round`)
    row('  frames / bytes the raw clients received (all)', `${fmt(received.frames)} / ${mibOf(received.bytes)}`, `${fmt(received.frames / HANDSHAKE_CLIENTS, 1)} frames, ${fmt(received.bytes / HANDSHAKE_CLIENTS)} B per client (HandshakeAccept, the region's vector, then whatever it pushes until closed)`)
    row('  GET /status', `${fmt(statusBytes)} B`, `${fmt(statusEmpty)} B on the empty cluster`)
    row('  RSS a / b / c', mem.map((m) => mibOf(m.rss)).join(' / '))
    json['handshakes'] = { clients: HANDSHAKE_CLIENTS, wave: WAVE, writeMs, resumeVersionVectorWireBytes: resumeWire, resumeVersionVectorEncodedBytes: resumeEncoded, clientVectorEntries: entries, peerAnnouncementBytes: peerAnnouncement, regionVectorEntries: regionVV.size, statusBytes, statusBytesEmpty: statusEmpty, rawClientFramesReceived: received.frames, rawClientBytesReceived: received.bytes, rss: mem.map((m) => m.rss) }
  } finally {
    for (const c of clients) await c.close().catch(() => {})
    await cluster.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// main

const machine = `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown cpu'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB, ${process.platform} ${process.arch}`
console.log(`storage bench: ${machine}; load average ${loadavg().map((l) => fmt(l, 1)).join(' / ')}`)
console.log(
  `scale ${SCALE}: overwrites ${fmt(OVERWRITES)}, restart ${fmt(RESTART_CHANGES)}, catch-up ${fmt(CATCHUP_CHANGES)}, handshakes ${fmt(HANDSHAKE_CLIENTS)} clients; scenarios: ${chosen.join(', ')}`,
)
json['machine'] = machine
// The servers run as `npm start` runs them: the built dist/, no TypeScript loader in the measured process.
if (process.env['MERIDIAN_SERVER_ENTRY'] === undefined) {
  log('building dist/ (the servers run the built code, as npm start does)…')
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
  process.env['MERIDIAN_SERVER_ENTRY'] = 'dist'
}
json['serverEntry'] = process.env['MERIDIAN_SERVER_ENTRY']
json['loadavgAtStart'] = loadavg()
json['scale'] = SCALE
json['startedAt'] = new Date().toISOString()

const runners: Record<Scenario, (track: (c: ProcessCluster) => void) => Promise<void>> = {
  overwrites,
  restart,
  'catch-up': catchUp,
  handshakes,
}
const failures: string[] = []
const startedAt = now()
for (const scenario of chosen) {
  let cluster: ProcessCluster | null = null
  const scenarioStart = now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario ${scenario} ran longer than ${SCENARIO_TIMEOUT_MS / 1000} s (STORAGE_SCENARIO_TIMEOUT_S); stopped`)), SCENARIO_TIMEOUT_MS)
  })
  try {
    await Promise.race([runners[scenario]((c) => (cluster = c)), timeout])
    log(`${scenario}: done in ${fmt((now() - scenarioStart) / 1000, 1)} s`)
  } catch (err) {
    failures.push(`${scenario}: ${err instanceof Error ? err.message : String(err)}`)
    row(`${scenario}: FAILED`, '', err instanceof Error ? err.message.split('\n')[0] : String(err))
    console.error(`[storage] ${scenario} FAILED:`, err)
    const c = cluster as ProcessCluster | null
    if (c !== null) {
      for (const node of c.nodes.values()) console.error(`--- ${node.nodeId} (last lines)\n${node.tail(15)}`)
      await c.stop().catch(() => {})
    }
  } finally {
    clearTimeout(timer)
  }
  ;(json['durationsS'] ??= {} as Record<string, number>)
  ;(json['durationsS'] as Record<string, number>)[scenario] = (now() - scenarioStart) / 1000
}

console.log(`total run ${fmt((now() - startedAt) / 1000, 1)} s`)
printTable()
json['failures'] = failures
const resultsDir = join(REPO_ROOT, 'bench', 'results')
mkdirSync(resultsDir, { recursive: true })
const file = join(resultsDir, `storage-${new Date().toISOString().replace(/[:]/g, '-').slice(0, 19)}.json`)
writeFileSync(file, JSON.stringify(json, null, 2) + '\n')
console.log(`results: ${file}`)
process.exit(failures.length === 0 ? 0 : 1)

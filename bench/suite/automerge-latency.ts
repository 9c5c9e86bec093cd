/**
 * W2, Automerge: 10 documents × 5 unmodified automerge-repo clients (`Repo` + `WebSocketClientAdapter`),
 * all on one server, at 200 and then 411 changes/s in all (spread evenly over the 50 client × document
 * pairs). Servers, in turn, each in its own process:
 *   - meridian: three regions (file storage, full mesh) running dist/; every client on region a's
 *     `/automerge`, which stores each change and replicates it to b and c;
 *   - automerge-repo: its own sync server (bench/suite/anchors/automerge-sync-server.mjs: a Repo with the
 *     Node WebSocket server adapter and file storage).
 * Each change sets the client's own key of the document to [seq, time of the change]; the other four
 * clients of the document see it in a `change` event (one process, one clock). Two latencies per delivery:
 *   - change → visible: what an app sees. It includes the sending Repo's own sync throttle
 *     (DocSynchronizer.syncDebounceRate, 100 ms, not a Repo option in 2.5.6), the same for both servers;
 *   - sent → visible: from the moment the sender's adapter sends the first sync message for that document
 *     after the change (its `send`, observed) to the change event at a receiver: the server's share (and
 *     the receiver's), without the sender's throttle.
 * After each phase every client of a document must hold the same values, and for meridian so must a fresh
 * client of region b.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Repo, type DocHandle, type DocHandleChangePayload } from '@automerge/automerge-repo'
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket'
import { memoryKib } from '../cluster-probe.js'
import { cpuSeconds } from '../proc-cpu.js'
import { ProcessCluster, sleep, waitFor } from '../../test/helpers/cluster.js'
import { AnchorProcess, BENCH_DIR } from './anchor-process.js'
import { percentile, progress, WorkloadResults, type Workload, type WorkloadOptions } from './figures.js'

const DOCUMENTS = 10
const CLIENTS_PER_DOCUMENT = 5
const RATES = [200, 411] as const
const GOAL_P50_MS = 10

type Values = Record<string, [number, number]>

interface Server {
  readonly name: string
  readonly url: string
  readonly pids: readonly (number | undefined)[]
  /** Another region's endpoint for the convergence check (meridian), or null. */
  readonly elsewhere: string | null
  stop(): Promise<void>
}

interface Client {
  readonly repo: Repo
  readonly adapter: WebSocketClientAdapter
}

function client(url: string): Client {
  // The default retry interval (5 s), as an app has it: a shorter one opens a second socket whenever the
  // first takes longer than that to open, and leaves the first one connecting.
  const adapter = new WebSocketClientAdapter(url)
  return { repo: new Repo({ network: [adapter] }), adapter }
}

async function startServer(name: string, dataDir: string): Promise<Server> {
  if (name === 'meridian') {
    const cluster = await ProcessCluster.start({
      ids: ['a', 'b', 'c'],
      storage: 'file',
      config: { collections: { boards: { mode: 'crdt', type: 'automerge' } }, automergeRepoCollection: 'boards' },
    })
    await cluster.waitConnected()
    const url = (id: string) => `ws://127.0.0.1:${cluster.node(id).port}/automerge`
    return { name, url: url('a'), pids: ['a', 'b', 'c'].map((id) => cluster.node(id).child?.pid), elsewhere: url('b'), stop: () => cluster.stop() }
  }
  const anchor = await AnchorProcess.start(name, join(BENCH_DIR, 'suite', 'anchors', 'automerge-sync-server.mjs'), [dataDir])
  return { name, url: `ws://127.0.0.1:${anchor.port}`, pids: [anchor.pid], elsewhere: null, stop: () => anchor.stop() }
}

/** The 50 clients × documents of one server and what they have seen. */
class Documents {
  readonly clients: Client[] = []
  /** handles[d][c]: document d in client c. */
  readonly handles: DocHandle<Values>[][] = []
  private readonly seq: number[][] = []
  /** seen[d][receiver][sender]: the highest seq of sender that receiver has seen in document d. */
  private readonly seen: number[][][] = []
  /** Per document, per sender: seq → when the first sync message after it left the sender. */
  private readonly unsent: number[][][] = []
  private readonly sentAt: Map<number, number>[][] = []
  private recording = false
  /** Documents client 0 (their creator) has sent a sync message for. */
  readonly announced = new Set<string>()
  deliveries = 0
  toVisible: number[] = []
  sentToVisible: number[] = []

  private constructor() {}

  static async open(url: string): Promise<Documents> {
    const docs = new Documents()
    for (let c = 0; c < CLIENTS_PER_DOCUMENT; c++) docs.clients.push(client(url))
    docs.clients.forEach((cl, c) => {
      const send = cl.adapter.send.bind(cl.adapter)
      cl.adapter.send = (message) => {
        if (message.type === 'sync' && 'documentId' in message) {
          if (c === 0) docs.announced.add(String(message.documentId))
          const d = docs.handles.findIndex((row) => row[c]?.documentId === message.documentId)
          const pending = d < 0 ? undefined : docs.unsent[d]?.[c]
          if (pending !== undefined && pending.length > 0) {
            const now = performance.now()
            for (const s of pending.splice(0)) docs.sentAt[d]?.[c]?.set(s, now)
          }
        }
        send(message)
      }
    })
    await Promise.all(docs.clients.map((cl) => cl.repo.networkSubsystem.whenReady()))
    // automerge-repo's sync server answers "unavailable" for a document until its creator's first sync
    // reached it (Meridian waits a second for it): the creator makes them all first, and the others
    // look for them once it has sent each.
    const created = Array.from({ length: DOCUMENTS }, () => (docs.clients[0] as Client).repo.create<Values>({}))
    await waitFor(() => created.every((handle) => docs.announced.has(handle.documentId)), 10_000, 'the creator syncing every document')
    await sleep(200)
    for (let d = 0; d < DOCUMENTS; d++) {
      const first = created[d] as DocHandle<Values>
      const row: DocHandle<Values>[] = [first]
      for (let c = 1; c < CLIENTS_PER_DOCUMENT; c++) row.push(await (docs.clients[c] as Client).repo.find<Values>(first.url))
      docs.handles.push(row)
      docs.seq.push(new Array(CLIENTS_PER_DOCUMENT).fill(0))
      docs.seen.push(row.map(() => new Array(CLIENTS_PER_DOCUMENT).fill(0)))
      docs.unsent.push(row.map(() => []))
      docs.sentAt.push(row.map(() => new Map()))
      row.forEach((handle, receiver) => handle.on('change', (payload: DocHandleChangePayload<Values>) => docs.observe(d, receiver, payload.doc)))
    }
    return docs
  }

  private observe(d: number, receiver: number, doc: Values): void {
    const now = performance.now()
    const seen = this.seen[d]?.[receiver] as number[]
    for (let sender = 0; sender < CLIENTS_PER_DOCUMENT; sender++) {
      if (sender === receiver) continue
      const value = doc[`c${sender}`]
      if (value === undefined || value[0] <= (seen[sender] as number)) continue
      const last = seen[sender] as number
      seen[sender] = value[0]
      if (!this.recording) continue
      this.deliveries += value[0] - last
      this.toVisible.push(now - value[1])
      const sent = this.sentAt[d]?.[sender]?.get(value[0])
      if (sent !== undefined) this.sentToVisible.push(now - sent)
    }
  }

  change(d: number, c: number): void {
    const seqs = this.seq[d] as number[]
    const next = (seqs[c] as number) + 1
    seqs[c] = next
    this.unsent[d]?.[c]?.push(next)
    this.handles[d]?.[c]?.change((doc) => {
      doc[`c${c}`] = [next, performance.now()]
    })
  }

  /** `perSecond` changes a second in all, spread over every client × document pair, for `ms`. */
  async run(perSecond: number, ms: number): Promise<void> {
    const period = (1000 * DOCUMENTS * CLIENTS_PER_DOCUMENT) / perSecond
    const timers: NodeJS.Timeout[] = []
    for (let d = 0; d < DOCUMENTS; d++) {
      for (let c = 0; c < CLIENTS_PER_DOCUMENT; c++) {
        const offset = ((d * CLIENTS_PER_DOCUMENT + c) / (DOCUMENTS * CLIENTS_PER_DOCUMENT)) * period
        timers.push(setTimeout(() => timers.push(setInterval(() => this.change(d, c), period)), offset))
      }
    }
    await sleep(ms)
    for (const t of timers) clearTimeout(t)
  }

  record(on: boolean): void {
    this.recording = on
    if (on) {
      this.deliveries = 0
      this.toVisible = []
      this.sentToVisible = []
      for (const row of this.sentAt) for (const m of row) m.clear()
    }
  }

  /** Every client of every document has seen every change, and holds the same values. */
  async quiesce(timeoutMs: number): Promise<void> {
    await waitFor(
      () => this.seen.every((rows, d) => rows.every((seen, receiver) => (this.seq[d] as number[]).every((s, sender) => sender === receiver || (seen[sender] as number) >= s))),
      timeoutMs,
      'every change at every client of its document',
    )
    for (const [d, row] of this.handles.entries()) {
      const want = canonical(row[0]?.doc())
      for (const handle of row) if (canonical(handle.doc()) !== want) throw new Error(`document ${d}: clients hold different values`)
    }
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.repo.shutdown().catch(() => undefined)))
  }
}

function canonical(doc: Values | undefined): string {
  return JSON.stringify(Object.entries(doc ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

async function measureServer(name: string, options: WorkloadOptions, results: WorkloadResults): Promise<Map<number, number>> {
  const warmMs = options.quick ? 1000 : 2000
  const phaseMs = options.quick ? 4000 : 15_000
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-am-'))
  progress('W2', `${name}: starting the server, ${CLIENTS_PER_DOCUMENT} clients, ${DOCUMENTS} documents…`)
  const server = await startServer(name, dataDir)
  let docs: Documents | null = null
  const sentP50 = new Map<number, number>()
  try {
    docs = await Documents.open(server.url)
    await docs.run(RATES[0], warmMs)
    await docs.quiesce(20_000)
    for (const rate of RATES) {
      progress('W2', `${name}: ${rate} changes/s for ${phaseMs / 1000} s…`)
      const cpuBefore = server.pids.map(cpuSeconds)
      const benchBefore = process.cpuUsage()
      const t0 = performance.now()
      docs.record(true)
      await docs.run(rate, phaseMs)
      await docs.quiesce(20_000)
      docs.record(false)
      const seconds = (performance.now() - t0) / 1000
      const cpu = cpuSeconds(server.pids[0]) - (cpuBefore[0] as number)
      const allCpu = server.pids.reduce<number>((sum, pid, i) => sum + cpuSeconds(pid) - (cpuBefore[i] as number), 0)
      const bench = process.cpuUsage(benchBefore)
      const id = (what: string) => `rate${rate}.${name}.${what}`
      results.figure(id('toVisible.p50Ms'), name, `change → visible p50, ${rate}/s`, percentile(docs.toVisible, 50), 'ms', 'lower')
      results.figure(id('toVisible.p99Ms'), name, `change → visible p99, ${rate}/s`, percentile(docs.toVisible, 99), 'ms', 'lower')
      const p50 = results.figure(id('sentToVisible.p50Ms'), name, `sent → visible p50, ${rate}/s`, percentile(docs.sentToVisible, 50), 'ms', 'lower')
      results.figure(id('sentToVisible.p99Ms'), name, `sent → visible p99, ${rate}/s`, percentile(docs.sentToVisible, 99), 'ms', 'lower')
      results.figure(id('deliveriesPerCoreSecond'), name, `deliveries per server core-second, ${rate}/s`, docs.deliveries / cpu, '/core-s', 'higher')
      results.distribution(`rate${rate}.${name}.toVisible`, name, `change → visible, ${rate}/s`, docs.toVisible)
      results.distribution(`rate${rate}.${name}.sentToVisible`, name, `sent → visible, ${rate}/s`, docs.sentToVisible)
      results.note(
        `${name} at ${rate}/s: ${docs.deliveries} deliveries in ${seconds.toFixed(1)} s; cores busy: the server ${(cpu / seconds).toFixed(2)}` +
          `${server.pids.length > 1 ? ` (all regions ${(allCpu / seconds).toFixed(2)})` : ''}, the bench process with all ${CLIENTS_PER_DOCUMENT} clients ${((bench.user + bench.system) / 1e6 / seconds).toFixed(2)}`,
      )
      sentP50.set(rate, p50)
      progress('W2', `${name} ${rate}/s: change → visible p50 ${percentile(docs.toVisible, 50).toFixed(1)} ms, sent → visible p50 ${p50.toFixed(1)} ms`)
    }
    if (server.elsewhere !== null) {
      const fresh = client(server.elsewhere)
      try {
        for (const row of docs.handles) {
          const want = canonical(row[0]?.doc())
          const handle = await fresh.repo.find<Values>((row[0] as DocHandle<Values>).url)
          await waitFor(() => canonical(handle.doc()) === want, 15_000, 'a document in region b equal to region a’s clients')
        }
      } finally {
        await fresh.repo.shutdown().catch(() => undefined)
      }
    }
    results.figure(`${name}.rssMiB`, name, 'server RSS at the end', memoryKib(server.pids[0]).rss / 1024, 'MiB', 'lower')
    results.figure(`${name}.converged`, name, 'every replica converged (1 = yes)', 1, '', 'higher')
    return sentP50
  } finally {
    await docs?.shutdown()
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

export const w2: Workload = async (options) => {
  const results = new WorkloadResults('W2')
  const meridian = await measureServer('meridian', options, results)
  const anchor = await measureServer('automerge-repo', options, results)
  const m = meridian.get(411) as number
  results.goal(
    `W2: p50 ≤ ${GOAL_P50_MS} ms at 411 changes/s`,
    m <= GOAL_P50_MS,
    `sent → visible p50 ${m.toFixed(1)} ms (automerge-repo's server ${(anchor.get(411) as number).toFixed(1)} ms); change → visible adds the sending client's own 100 ms sync throttle for both`,
  )
  return results
}

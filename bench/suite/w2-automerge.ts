/**
 * W2, Automerge: 10 documents × 5 unmodified automerge-repo clients (each its own `Repo` with a
 * `WebSocketClientAdapter`, every client holding all 10 documents), all on one server, at 200 and then 411
 * changes/s in all, spread evenly over the 50 client × document pairs by one schedule (change k is due at
 * k / rate s and goes to pair k mod 50, documents interleaved). Servers, in turn, each in its own process:
 *   - meridian: three regions a, b, c (file storage, full mesh, the server's default 1 s keep-alive)
 *     running dist/; every client on region a's `/automerge`, which stores each change and replicates it
 *     to b and c;
 *   - automerge-repo: its own sync server (bench/suite/anchors/automerge-sync-server.mjs: a Repo with the
 *     Node WebSocket server adapter and file storage).
 *
 * Each client runs in a worker thread of this process (bench/suite/w2-client.ts): a Repo spends about 2 ms
 * of CPU per change it receives and acknowledges, and one thread cannot carry five. Time is
 * `process.hrtime` (one monotonic clock for every thread). Each change writes a key of its own
 * (`<client>.<seq>`) whose value is the time of the change; the other four clients of the document see
 * the key in a handle `change` event's patches. Two latencies per delivery:
 *   - change → visible: what an app sees. It includes the sending Repo's sync throttle: automerge-repo
 *     2.5.6 sends a document's sync messages at most every 100 ms (`DocSynchronizer.syncDebounceRate`, a
 *     field fixed to 100 and read once in its constructor: no `Repo` option sets it). Under load a change
 *     often leaves earlier, in the Repo's immediate answer to a sync message arriving for that document;
 *   - sent → visible: from the moment the sender's adapter hands the first sync message that carries the
 *     change to its WebSocket (the adapter's `send`, wrapped; the change found by its hash in the message)
 *     to the `change` event at a receiver: the server's share (with, for automerge-repo's server, its own
 *     100 ms sync throttle toward the other peers), the two loopback hops and the receiving Repo, queueing
 *     included.
 * Samples are the changes made in the measured window (after a warm-up at the same rate); all of them are
 * waited for. Deliveries/s counts keys seen by receivers within the window. Server CPU is utime + stime of
 * the process the clients talk to (meridian: region a) over the window; the notes add the other regions,
 * the bench process (the clients) and the clients' event-loop delay, which tell whether the load
 * generator kept up.
 * After both phases every client of a document holds the same heads and every key made in it; for meridian
 * a fresh client of region b finds the same heads and region c's REST read holds every key.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Repo, type AutomergeUrl } from '@automerge/automerge-repo'
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket'
import { next as A } from '@automerge/automerge/slim'
import { memoryKib } from '../cluster-probe.js'
import { cpuSeconds } from '../proc-cpu.js'
import { ProcessCluster, REPO_ROOT, sleep, waitFor } from '../../test/helpers/cluster.js'
import { AnchorProcess, BENCH_DIR } from './anchor-process.js'
import type { W2ClientData, W2RunRequest, W2Samples } from './w2-client.js'
import { percentile, progress, WorkloadResults, type Workload, type WorkloadOptions } from './figures.js'

const DOCUMENTS = 10
const CLIENTS = 5
const RATES = [200, 411] as const
const MAX_SAMPLES = 20_000
const GOAL_P50_MS = 10
/** The overload guard: a phase stops once this many seconds of its offered deliveries are outstanding. */
const OVERLOAD_SECONDS = 3
/** automerge-repo 2.5.6, dist/synchronizer/DocSynchronizer.js: `syncDebounceRate = 100`. */
const CLIENT_THROTTLE_MS = 100

type Values = Record<string, number>

interface Server {
  readonly name: string
  /** Where the clients connect. */
  readonly url: string
  /** The process the clients talk to. */
  readonly pid: number | undefined
  /** Every process of the server (meridian: a, b, c). */
  readonly pids: readonly (number | undefined)[]
  /** meridian: region b's endpoint and region c's HTTP address, for the convergence check. */
  readonly elsewhere: { readonly automerge: string; readonly http: string } | null
  tail(): string
  /** Log lines of note so far (meridian: peer links dropped because a region missed heartbeats). */
  incidents(): string[]
  stop(): Promise<void>
}

async function startServer(name: string, dataDir: string): Promise<Server> {
  if (name === 'meridian') {
    if (existsSync(join(REPO_ROOT, 'dist', 'node', 'server', 'cli.js'))) process.env['MERIDIAN_SERVER_ENTRY'] = 'dist'
    const cluster = await ProcessCluster.start({
      ids: ['a', 'b', 'c'],
      storage: 'file',
      config: {
        collections: { boards: { mode: 'crdt', type: 'automerge' } },
        automergeRepoCollection: 'boards',
        // The server's default (the test cluster's 500 ms is for quick failure detection in tests): a
        // client thread busy for longer than the keep-alive is closed (1006) and stalls for 5 s.
        heartbeatIntervalMs: 1000,
      },
    })
    await cluster.waitConnected()
    const ws = (id: string) => `ws://127.0.0.1:${cluster.node(id).port}/automerge`
    return {
      name,
      url: ws('a'),
      pid: cluster.node('a').child?.pid,
      pids: ['a', 'b', 'c'].map((id) => cluster.node(id).child?.pid),
      elsewhere: { automerge: ws('b'), http: cluster.node('c').httpUrl },
      tail: () => ['a', 'b', 'c'].map((id) => `--- region ${id} ---\n${cluster.node(id).tail(20)}`).join('\n'),
      incidents: () => ['a', 'b', 'c'].flatMap((id) => cluster.node(id).output.filter((line) => /no pong|disconnected|warn|error/i.test(line))),
      stop: () => cluster.stop(),
    }
  }
  const anchor = await AnchorProcess.start(name, join(BENCH_DIR, 'suite', 'anchors', 'automerge-sync-server.mjs'), [dataDir])
  return { name, url: `ws://127.0.0.1:${anchor.port}`, pid: anchor.pid, pids: [anchor.pid], elsewhere: null, tail: () => anchor.tail(), incidents: () => [], stop: () => anchor.stop() }
}

/** The five clients, each an unmodified Repo in a worker thread of this process (bench/suite/w2-client.ts). */
class Clients {
  private readonly workers: Worker[] = []
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>()
  private nextId = 0
  private failure: Error | null = null
  /** The documents' URLs, in order. */
  urls: AutomergeUrl[] = []

  private constructor(url: string) {
    for (let c = 0; c < CLIENTS; c++) {
      const data: W2ClientData = { url, client: c }
      const worker = clientWorker(data)
      worker.on('message', (reply: { id: number; result?: unknown; error?: string }) => {
        const waiter = this.waiting.get(reply.id)
        this.waiting.delete(reply.id)
        if (reply.error !== undefined) waiter?.reject(new Error(`client ${c}: ${reply.error}`))
        else waiter?.resolve(reply.result)
      })
      const fail = (err: Error) => {
        this.failure = new Error(`W2 client ${c} (worker thread) failed: ${err.message}`)
        for (const waiter of this.waiting.values()) waiter.reject(this.failure)
        this.waiting.clear()
      }
      worker.on('error', fail)
      worker.on('exit', (code) => {
        if (code !== 0) fail(new Error(`exited with code ${code}`))
      })
      this.workers.push(worker)
    }
  }

  /** Connects the clients; client 0 makes the documents, the others find them. */
  static async open(url: string): Promise<Clients> {
    const clients = new Clients(url)
    await clients.all('ready')
    // automerge-repo's sync server answers "unavailable" to a request for a document until the creator's
    // first sync message reached it: client 0 makes them all and answers once it has sent each; then a
    // moment for the server to take them in, and the others look for them.
    clients.urls = (await clients.call(0, 'create', { n: DOCUMENTS })) as AutomergeUrl[]
    await sleep(300)
    await Promise.all(clients.workers.slice(1).map((_, i) => clients.call(i + 1, 'find', { urls: clients.urls })))
    return clients
  }

  call(c: number, op: string, args: Record<string, unknown> = {}): Promise<unknown> {
    if (this.failure !== null) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.workers[c]?.postMessage({ id, op, ...args })
    })
  }

  all(op: string, args: Record<string, unknown> = {}): Promise<unknown[]> {
    return Promise.all(this.workers.map((_, c) => this.call(c, op, args)))
  }

  /** Changes not yet seen by some other client of their document, in all. */
  async missing(): Promise<number> {
    const status = (await this.all('status')) as { made: number[]; seen: number[] }[]
    let missing = 0
    for (let d = 0; d < DOCUMENTS; d++) {
      const all = status.reduce((sum, s) => sum + (s.made[d] as number), 0)
      for (const s of status) missing += all - (s.made[d] as number) - (s.seen[d] as number)
    }
    return missing
  }

  /** Changes made to each document, in all. */
  async keys(): Promise<number[]> {
    const status = (await this.all('status')) as { made: number[] }[]
    return Array.from({ length: DOCUMENTS }, (_, d) => status.reduce((sum, s) => sum + (s.made[d] as number), 0))
  }

  /**
   * Waits until every change is at every other client of its document: for as long as deliveries keep
   * arriving (a backlog drains), but no longer than `capMs`, and fails after `stallMs` without one.
   */
  async quiesce(stallMs: number, capMs: number): Promise<void> {
    const start = performance.now()
    let missing = await this.missing()
    let progressAt = start
    while (missing > 0) {
      const now = performance.now()
      if (now - progressAt > stallMs) throw new Error(`${missing} deliveries missing, none for ${stallMs / 1000} s: the clients stopped syncing`)
      if (now - start > capMs) throw new Error(`${missing} deliveries still missing after ${capMs / 1000} s (still arriving: not stalled, but too slow for the benchmark)`)
      await sleep(20)
      const next = await this.missing()
      if (next < missing) progressAt = performance.now()
      missing = next
    }
  }

  /** Throws unless every client holds, in every document, the same heads and every key made in it. */
  async checkConverged(): Promise<string[]> {
    const keys = await this.keys()
    const views = (await this.all('heads')) as { heads: string; keys: number }[][]
    const first = views[0] as { heads: string; keys: number }[]
    for (const [c, view] of views.entries()) {
      for (let d = 0; d < DOCUMENTS; d++) {
        const got = view[d] as { heads: string; keys: number }
        if (got.keys !== keys[d]) throw new Error(`document ${d}: client ${c} holds ${got.keys} keys, ${keys[d]} were made`)
        if (got.heads !== first[d]?.heads) throw new Error(`document ${d}: client ${c}'s heads ${got.heads} differ from client 0's ${first[d]?.heads}`)
      }
    }
    return first.map((view) => view.heads)
  }

  async shutdown(): Promise<void> {
    await Promise.race([this.all('shutdown').catch(() => undefined), sleep(5000)])
    await Promise.all(this.workers.map((worker) => worker.terminate()))
  }
}

/**
 * A worker thread running bench/suite/w2-client. From TypeScript sources (tsx), the worker registers tsx's
 * loader first: a worker thread does not inherit the `--import tsx` hooks of the main thread.
 */
function clientWorker(data: W2ClientData): Worker {
  const here = fileURLToPath(import.meta.url)
  const script = new URL(`./w2-client${extname(here)}`, import.meta.url)
  if (extname(here) !== '.ts') return new Worker(script, { workerData: data })
  const tsx = import.meta.resolve('tsx/esm/api')
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script.href)}) })`, { eval: true, workerData: data })
}

const hrNow = (): number => Number(process.hrtime.bigint()) / 1e6

/** At most MAX_SAMPLES, evenly spaced through the sorted samples (keeps the distribution's shape). */
function subsample(values: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length <= MAX_SAMPLES) return sorted
  const step = sorted.length / MAX_SAMPLES
  return Array.from({ length: MAX_SAMPLES }, (_, i) => sorted[Math.floor(i * step)] as number)
}

function max(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => Math.max(a, b), -Infinity)
}

/** p50 at 411/s of both latencies, for the goal. */
interface ServerSummary {
  readonly toVisibleP50: number
  readonly sentP50: number
  readonly keptUp: boolean
  readonly deliveriesPerSecond: number
}

async function measureServer(name: string, options: WorkloadOptions, results: WorkloadResults, rates: readonly number[]): Promise<ServerSummary> {
  const warmMs = options.quick ? 500 : 2000
  const windowMs = options.quick ? 4000 : 15_000
  /** How long a phase's backlog may take to drain (it must keep draining: 20 s without a delivery fail at once). */
  const drainCapMs = options.quick ? 20_000 : 40_000
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-w2-'))
  progress('W2', `${name}: starting the server, ${CLIENTS} clients × ${DOCUMENTS} documents…`)
  const server = await startServer(name, dataDir)
  let clients: Clients | null = null
  let summary: ServerSummary | null = null
  let incidentsSeen = 0
  try {
    clients = await Clients.open(server.url)
    for (const rate of rates) {
      progress('W2', `${name}: ${rate} changes/s, ${warmMs / 1000} s warm-up + ${windowMs / 1000} s measured…`)
      const t0 = hrNow() + 100
      const run: W2RunRequest = {
        t0,
        perSecond: rate,
        total: Math.round((rate * (warmMs + windowMs)) / 1000),
        documents: DOCUMENTS,
        clients: CLIENTS,
        from: t0 + warmMs,
        to: t0 + warmMs + windowMs,
      }
      // The server's CPU and this process's over the window, read at its edges.
      let cpuStart: number[] = []
      let cpuEnd: number[] = []
      let benchStart = process.cpuUsage()
      let benchCpu = NaN
      let windowEnd = run.to
      const endWindow = () => {
        if (cpuEnd.length > 0) return
        cpuEnd = server.pids.map(cpuSeconds)
        const used = process.cpuUsage(benchStart)
        benchCpu = (used.user + used.system) / 1e6
      }
      const edges = [
        setTimeout(() => {
          cpuStart = server.pids.map(cpuSeconds)
          benchStart = process.cpuUsage()
        }, run.from - hrNow()),
        setTimeout(endWindow, run.to - hrNow()),
      ]
      // Overload guard: once more than OVERLOAD_SECONDS of the offered deliveries are outstanding, the
      // server (or the clients) cannot keep up and the backlog only grows; the schedule stops there, the
      // window ends, and what was made so far is waited for and measured.
      const guard = rate * (CLIENTS - 1) * OVERLOAD_SECONDS
      let stoppedAt: number | null = null
      let outstandingMax = 0
      try {
        let running = true
        const schedule = clients.all('run', { run }).finally(() => {
          running = false
        })
        while (running) {
          await Promise.race([schedule, sleep(250)])
          if (!running) break
          const outstanding = await clients.missing()
          outstandingMax = Math.max(outstandingMax, outstanding)
          if (outstanding > guard && stoppedAt === null) {
            stoppedAt = hrNow()
            if (stoppedAt < run.to) {
              windowEnd = Math.max(run.from, stoppedAt)
              if (stoppedAt >= run.from) endWindow()
            }
            await clients.all('stop', { at: stoppedAt })
          }
        }
        await schedule
        for (const edge of edges) clearTimeout(edge)
        if (cpuStart.length === 0) cpuStart = server.pids.map(cpuSeconds)
        endWindow()
        await clients.quiesce(20_000, drainCapMs)
      } catch (err) {
        for (const edge of edges) clearTimeout(edge)
        const detail = (await clients.all('collect').catch(() => [])) as W2Samples[]
        throw new Error(
          `W2 ${name} at ${rate}/s: ${err instanceof Error ? err.message : String(err)}; connections closed ${detail.reduce((n, s) => n + s.disconnects, 0)} times ` +
            `(codes ${detail.flatMap((s) => s.closeCodes).join(', ') || 'none'}), ${detail.reduce((n, s) => n + s.failedChanges, 0)} changes refused\n${server.tail()}`,
        )
      }
      const drainedAt = hrNow()
      const collected = (await clients.all('collect')) as W2Samples[]
      const seconds = (windowEnd - run.from) / 1000
      const cpu = cpuEnd.map((end, i) => end - (cpuStart[i] as number))
      const rss = server.pids.map((pid) => memoryKib(pid).rss / 1024)

      // sent → visible: the receiver's visible time minus the sender's socket send of the same change.
      const sentAt = new Map<string, number>()
      for (const s of collected) s.sentKey.forEach((key, i) => sentAt.set(`${s.sentDoc[i]}/${key}`, s.sentAt[i] as number))
      const t: number[] = []
      const s: number[] = []
      let unsent = 0
      for (const c of collected) {
        c.seenKey.forEach((key, i) => {
          const visible = c.visibleAt[i] as number
          t.push(visible - (c.madeAt[i] as number))
          const sent = sentAt.get(`${c.seenDoc[i]}/${key}`)
          if (sent === undefined) unsent += 1
          else s.push(visible - sent)
        })
      }
      const delivered = collected.reduce((n, c) => n + c.deliveredInWindow, 0)
      const sum = (f: (c: W2Samples) => number) => collected.reduce((n, c) => n + f(c), 0)
      const worst = (f: (c: W2Samples) => number) => Math.max(...collected.map(f))
      const expected = Math.round(rate * seconds) * (CLIENTS - 1)

      const id = (what: string) => `rate${rate}.${name}.${what}`
      results.figure(id('p50Ms'), name, `change → visible p50, ${rate}/s (default clients: 100 ms sync throttle)`, percentile(t, 50), 'ms', 'lower')
      results.figure(id('p99Ms'), name, `change → visible p99, ${rate}/s`, percentile(t, 99), 'ms', 'lower')
      results.figure(id('maxMs'), name, `change → visible max, ${rate}/s`, max(t), 'ms', 'lower')
      results.figure(id('sent.p50Ms'), name, `sent → visible p50, ${rate}/s (from the sender's socket send)`, percentile(s, 50), 'ms', 'lower')
      results.figure(id('sent.p99Ms'), name, `sent → visible p99, ${rate}/s`, percentile(s, 99), 'ms', 'lower')
      results.figure(id('sent.maxMs'), name, `sent → visible max, ${rate}/s`, max(s), 'ms', 'lower')
      results.figure(id('deliveriesPerSecond'), name, `visible deliveries/s, ${rate}/s (${(rate * (CLIENTS - 1)).toLocaleString('en')} offered)`, delivered / seconds, '/s', 'higher')
      results.figure(id('cpuSeconds'), name, `server CPU over the ${seconds.toFixed(1)} s window, ${rate}/s${server.pids.length > 1 ? ' (region a)' : ''}`, cpu[0] as number, 's', 'lower')
      results.figure(id('rssMiB'), name, `server RSS after ${rate}/s${server.pids.length > 1 ? ' (region a)' : ''}`, rss[0] as number, 'MiB', 'lower')
      const offered = rate * (CLIENTS - 1)
      const keptUp = stoppedAt === null && delivered / seconds >= 0.95 * offered
      results.figure(id('keptUp'), name, `kept up with ${rate}/s (1 = yes: no overload stop, ≥ 95 % of the offered deliveries/s)`, keptUp ? 1 : 0, '', 'higher')
      results.figure(id('windowSeconds'), name, `seconds measured at ${rate}/s (${windowMs / 1000} unless the overload guard stopped the phase)`, seconds, 's', 'higher')
      results.figure(id('drainSeconds'), name, `backlog drained in, after ${rate}/s`, (drainedAt - Math.max(windowEnd, run.from)) / 1000, 's', 'lower')
      results.distribution(id('toVisible'), name, `change → visible, ${rate}/s`, subsample(t))
      results.distribution(id('sentToVisible'), name, `sent → visible, ${rate}/s`, subsample(s))
      results.note(
        `${name} ${rate}/s: ${t.length} samples of ${expected} (${unsent} without an observed send, ${sum((c) => c.unreadable)} sent messages unreadable), ` +
          `${delivered} deliveries in the ${seconds.toFixed(1)} s window, sync messages per delivery: ${(sum((c) => c.received) / delivered).toFixed(2)} to the clients, ${(sum((c) => c.sent) / delivered).toFixed(2)} from them; cores busy: server ${((cpu[0] as number) / seconds).toFixed(2)}` +
          (cpu.length > 1 ? ` (b ${((cpu[1] as number) / seconds).toFixed(2)}, c ${((cpu[2] as number) / seconds).toFixed(2)}; RSS b ${(rss[1] as number).toFixed(0)}, c ${(rss[2] as number).toFixed(0)} MiB)` : '') +
          `, bench process (${CLIENTS} client threads) ${(benchCpu / seconds).toFixed(2)}; client event-loop delay p50 ≤ ${worst((c) => c.loopP50Ms).toFixed(1)}, ` +
          `p99 ≤ ${worst((c) => c.loopP99Ms).toFixed(1)}, max ${worst((c) => c.loopMaxMs).toFixed(0)} ms; changes at most ${worst((c) => c.lateMs).toFixed(1)} ms late`,
      )
      if (stoppedAt !== null) {
        results.note(
          `${name} ${rate}/s: overload guard — ${outstandingMax} deliveries outstanding (more than ${OVERLOAD_SECONDS} s of the offered ${offered}/s) ` +
            `${((stoppedAt - run.t0) / 1000).toFixed(1)} s into the phase (${warmMs / 1000} s warm-up); the schedule stopped there and the figures cover ${seconds.toFixed(1)} s`,
        )
      }
      if (delivered / seconds < 0.95 * offered) {
        results.note(
          `${name} ${rate}/s did not keep up: ${Math.round(delivered / seconds)} of ${offered} deliveries/s offered; its latencies are mostly queueing ` +
            `(cores busy in the window: server ${((cpu[0] as number) / seconds).toFixed(2)}, all clients ${(benchCpu / seconds).toFixed(2)}, of ${availableParallelism()} on this machine)`,
        )
      }
      const allIncidents = server.incidents()
      const incidents = allIncidents.slice(incidentsSeen)
      incidentsSeen = allIncidents.length
      if (incidents.length > 0) {
        results.note(`${name} ${rate}/s: the server logged ${incidents.length} incident(s): ${incidents.slice(0, 6).join(' | ')}${incidents.length > 6 ? ' | …' : ''}`)
      }
      const disconnects = sum((c) => c.disconnects)
      if (disconnects > 0) {
        results.note(
          `${name}: clients lost their connection ${disconnects} times by the end of ${rate}/s (close codes ${collected.flatMap((c) => c.closeCodes).join(', ') || 'none seen'}; ` +
            `each costs the client its 5 s retry interval); ${sum((c) => c.failedChanges)} local changes refused by automerge-repo`,
        )
        progress('W2', `${name}: clients lost their connection ${disconnects} times so far; the server's log ends:\n${server.tail()}`)
      }
      progress(
        'W2',
        `${name} ${rate}/s: change → visible p50 ${percentile(t, 50).toFixed(1)} / p99 ${percentile(t, 99).toFixed(1)} ms, sent → visible p50 ${percentile(s, 50).toFixed(1)} / p99 ${percentile(s, 99).toFixed(1)} ms, ` +
          `${Math.round(delivered / seconds)} deliveries/s, server ${((cpu[0] as number) / seconds).toFixed(2)} cores, bench ${(benchCpu / seconds).toFixed(2)} cores`,
      )
      if (rate === 411 || summary === null) summary = { toVisibleP50: percentile(t, 50), sentP50: percentile(s, 50), keptUp, deliveriesPerSecond: delivered / seconds }
    }

    progress('W2', `${name}: checking convergence…`)
    try {
      const heads = await clients.checkConverged()
      const keys = await clients.keys()
      if (server.elsewhere !== null) {
        const { automerge, http } = server.elsewhere
        const fresh = new Repo({ network: [new WebSocketClientAdapter(automerge)] })
        try {
          for (const [d, url] of clients.urls.entries()) {
            const handle = await fresh.find<Values>(url)
            await waitFor(() => [...A.getHeads(handle.doc())].sort().join(',') === heads[d], 15_000, `document ${d} in a fresh client of region b with region a's clients' heads`)
            await waitFor(
              async () => {
                const reply = await fetch(`${http}/v1/boards/${encodeURIComponent(handle.documentId)}`)
                return reply.status === 200 && Object.keys(((await reply.json()) as { doc: Values }).doc).length === keys[d]
              },
              15_000,
              `document ${d} with all ${keys[d]} keys at region c`,
            )
          }
        } finally {
          await fresh.shutdown().catch(() => undefined)
        }
      }
    } catch (err) {
      results.figure(`${name}.converged`, name, 'every replica converged (1 = yes)', 0, '', 'higher')
      throw new Error(`W2 ${name}: not converged: ${err instanceof Error ? err.message : String(err)}\n${server.tail()}`)
    }
    results.figure(`${name}.converged`, name, 'every replica converged (1 = yes)', 1, '', 'higher')
    return summary as ServerSummary
  } finally {
    await clients?.shutdown()
    await server.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

export const w2: Workload = (options) => runW2(options)

/** W2 against some of the servers (bench/suite/w2-main.ts --only …); the goal is judged when both ran. */
export async function runW2(options: WorkloadOptions, servers: readonly string[] = ['meridian', 'automerge-repo'], rates: readonly number[] = RATES): Promise<WorkloadResults> {
  const results = new WorkloadResults('W2')
  const summaries = new Map<string, ServerSummary>()
  for (const name of servers) summaries.set(name, await measureServer(name, options, results, rates))
  const meridian = summaries.get('meridian')
  const anchor = summaries.get('automerge-repo')
  if (meridian !== undefined && anchor !== undefined && rates.includes(411)) results.goal(
    `W2: p50 ≤ ${GOAL_P50_MS} ms at 411 changes/s`,
    meridian.sentP50 <= GOAL_P50_MS,
    `sent → visible p50: meridian ${meridian.sentP50.toFixed(1)} ms, automerge-repo's server ${anchor.sentP50.toFixed(1)} ms; ` +
      `change → visible p50 (adds the sending client's own ${CLIENT_THROTTLE_MS} ms sync throttle, which no Repo option lowers): ` +
      `meridian ${meridian.toVisibleP50.toFixed(1)} ms, automerge-repo ${anchor.toVisibleP50.toFixed(1)} ms; ` +
      `${meridian.keptUp ? 'meridian kept up' : `meridian did not keep up (${Math.round(meridian.deliveriesPerSecond)} of ${411 * (CLIENTS - 1)} deliveries/s)`}, ` +
      `${anchor.keptUp ? 'automerge-repo kept up' : `automerge-repo did not (${Math.round(anchor.deliveriesPerSecond)}/s)`}`,
  )
  results.note(
    `W2 clients: unmodified automerge-repo 2.5.6 Repos. Their sync throttle (DocSynchronizer.syncDebounceRate = ${CLIENT_THROTTLE_MS} ms) is not a Repo option ` +
      '(RepoConfig: peerId, isEphemeral, storage, network, sharePolicy, shareConfig, enableRemoteHeadsGossiping, denylist, saveDebounceRate, idFactory; ' +
      'saveDebounceRate only delays storage writes), so every client runs with the default.',
  )
  results.note(
    'W2 change → visible: change made → key in a receiving client\'s change event; includes the sender\'s throttle (up to 100 ms, often less under load: ' +
      'a Repo answers each incoming sync message at once, and that answer carries its pending changes). sent → visible: the sender\'s adapter handing the ' +
      'first sync message carrying the change to its socket → the change event at a receiver; the server\'s share plus loopback and the receiving Repo. ' +
      'automerge-repo\'s server runs the same Repo code, so its sent → visible includes its own 100 ms throttle toward the other peers; Meridian sends to ' +
      'every other peer of a document in the event-loop turn after the change is logged.',
  )
  return results
}

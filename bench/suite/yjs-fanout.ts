/**
 * W1, Yjs fan-out: 20 rooms × 5 unmodified Yjs clients on one server, first at 20 updates/s per client,
 * then closed-loop (each client sends its next update as soon as the other four of its room have its
 * last one). Servers, in turn, each in its own process:
 *   - meridian: three regions (file storage, full mesh) running dist/; every client on region a, whose
 *     `/yjs` endpoint stores each update and replicates it to b and c; y-websocket's `WebsocketProvider`;
 *   - y-websocket: @y/websocket-server's own server, unmodified, persisting nothing; same provider;
 *   - hocuspocus: @hocuspocus/server 3.x, persisting nothing; its own `HocuspocusProvider` (the
 *     y-websocket provider cannot speak its framing).
 * Each update sets the client's own key of a Y.Map to [seq, send time]; the other four clients of the
 * room observe it (one process, one clock). A delivery is an update observed by another client (a
 * receiver that sees seq jump by k counts k). Server CPU is utime + stime of the server process(es)
 * over the phase; "per server core-second" divides deliveries by it. After each server's phases every
 * client of a room must hold the same map, and for meridian so must fresh clients of regions b and c.
 */
import { join } from 'node:path'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { memoryKib } from '../cluster-probe.js'
import { cpuSeconds } from '../proc-cpu.js'
import { ProcessCluster, sleep, waitFor } from '../../test/helpers/cluster.js'
import { AnchorProcess, BENCH_DIR } from './anchor-process.js'
import { percentile, progress, WorkloadResults, type Workload, type WorkloadOptions } from './figures.js'

const ROOMS = 20
const CLIENTS_PER_ROOM = 5
const RATE_PER_CLIENT = 20
const MAX_SAMPLES = 20_000
const RSS_GOAL_MIB = 100

interface YClient {
  readonly doc: Y.Doc
  synced(): boolean
  destroy(): void
}
type Connect = (room: string) => YClient

function yWebsocketClient(serverUrl: string): Connect {
  return (room) => {
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
    return { doc, synced: () => provider.synced, destroy: () => provider.destroy() }
  }
}

interface HocuspocusProviderLike {
  readonly synced: boolean
  destroy(): void
}
/**
 * @hocuspocus/provider lives in bench/node_modules, which `npm test`'s type-check does not install:
 * loaded by a name TypeScript does not resolve.
 */
async function loadHocuspocusProvider(): Promise<new (configuration: object) => HocuspocusProviderLike> {
  const name: string = '@hocuspocus/provider'
  return ((await import(name)) as { HocuspocusProvider: new (configuration: object) => HocuspocusProviderLike }).HocuspocusProvider
}

function hocuspocusClient(url: string, HocuspocusProvider: new (configuration: object) => HocuspocusProviderLike): Connect {
  return (room) => {
    const doc = new Y.Doc()
    // The provider passes the whole configuration to the socket it creates, WebSocketPolyfill included.
    const provider = new HocuspocusProvider({ url, name: room, document: doc, WebSocketPolyfill: WebSocket })
    return { doc, synced: () => provider.synced, destroy: () => provider.destroy() }
  }
}

/** The server under test: how clients reach it, and its processes for CPU and RSS. */
interface Server {
  readonly name: string
  readonly connect: Connect
  /** The process the clients talk to. */
  readonly pid: number | undefined
  /** Every process of the server (meridian: the three regions). */
  readonly pids: readonly (number | undefined)[]
  /** Connects a client somewhere else (meridian: regions b and c), for the convergence check. */
  readonly elsewhere: readonly Connect[]
  stop(): Promise<void>
}

interface PhaseResult {
  deliveries: number
  seconds: number
  serverCpu: number
  allServersCpu: number
  benchCpu: number
  latencies: number[]
}

/** The 100 clients of one server, the counters and the senders. */
class FanOut {
  readonly rooms: YClient[][] = []
  /** Per room, per sender, the highest seq each receiver has seen. */
  private readonly seen: number[][][] = []
  private readonly seq: number[][] = []
  private deliveries = 0
  private latencies: number[] = []
  private recording = false
  private closedLoop = false
  private stopped = false

  constructor(connect: Connect) {
    for (let r = 0; r < ROOMS; r++) {
      const clients = Array.from({ length: CLIENTS_PER_ROOM }, () => connect(`w1-room-${r}`))
      this.rooms.push(clients)
      this.seq.push(new Array(CLIENTS_PER_ROOM).fill(0))
      this.seen.push(clients.map(() => new Array(CLIENTS_PER_ROOM).fill(0)))
      clients.forEach((client, receiver) => {
        const map = client.doc.getMap<[number, number]>('w1')
        map.observe((event) => {
          const now = performance.now()
          for (const key of event.keysChanged) {
            const sender = Number(key.slice(1))
            if (sender === receiver) continue
            const value = map.get(key)
            if (value === undefined) continue
            const seen = this.seen[r]?.[receiver] as number[]
            const last = seen[sender] as number
            if (value[0] <= last) continue
            seen[sender] = value[0]
            if (this.recording) {
              this.deliveries += value[0] - last
              this.latencies.push(now - value[1])
            }
            if (this.closedLoop && value[0] === this.seq[r]?.[sender] && this.allSeen(r, sender)) setImmediate(() => this.send(r, sender))
          }
        })
      })
    }
  }

  async synced(timeoutMs: number): Promise<void> {
    await waitFor(() => this.rooms.every((room) => room.every((c) => c.synced())), timeoutMs, 'every client synced')
  }

  private allSeen(room: number, sender: number): boolean {
    const want = this.seq[room]?.[sender] as number
    return (this.seen[room] as number[][]).every((seen, receiver) => receiver === sender || (seen[sender] as number) >= want)
  }

  send(room: number, sender: number): void {
    if (this.stopped) return
    const seqs = this.seq[room] as number[]
    const next = (seqs[sender] as number) + 1
    seqs[sender] = next
    this.rooms[room]?.[sender]?.doc.getMap('w1').set(`c${sender}`, [next, performance.now()])
  }

  /** Every client sends RATE_PER_CLIENT updates a second (spread over the interval) for `ms`. */
  async rate(ms: number): Promise<void> {
    const timers: NodeJS.Timeout[] = []
    const period = 1000 / RATE_PER_CLIENT
    this.rooms.forEach((room, r) =>
      room.forEach((_, c) => {
        const offset = ((r * CLIENTS_PER_ROOM + c) / (ROOMS * CLIENTS_PER_ROOM)) * period
        timers.push(setTimeout(() => timers.push(setInterval(() => this.send(r, c), period)), offset))
      }),
    )
    await sleep(ms)
    for (const t of timers) clearTimeout(t)
  }

  /** Closed loop for `ms`: every client sends again once its last update reached its whole room. */
  async saturate(ms: number): Promise<void> {
    this.closedLoop = true
    this.rooms.forEach((room, r) => room.forEach((_, c) => this.send(r, c)))
    await sleep(ms)
    this.closedLoop = false
  }

  start(): void {
    this.deliveries = 0
    this.latencies = []
    this.recording = true
  }

  stop(): { deliveries: number; latencies: number[] } {
    this.recording = false
    return { deliveries: this.deliveries, latencies: this.latencies }
  }

  /** Waits until every client of every room holds the same map (every sender's last seq). */
  async quiesce(timeoutMs: number): Promise<void> {
    await waitFor(
      () => this.rooms.every((room, r) => room.every((_, receiver) => (this.seq[r] as number[]).every((s, sender) => sender === receiver || ((this.seen[r]?.[receiver] as number[])[sender] as number) >= s))),
      timeoutMs,
      'every update at every client of its room',
    )
    for (const [r, room] of this.rooms.entries()) {
      const first = content(room[0] as YClient)
      for (const client of room) {
        if (content(client) !== first) throw new Error(`room ${r}: clients hold different maps`)
      }
    }
  }

  expected(room: number): string {
    return content(this.rooms[room]?.[0] as YClient)
  }

  destroy(): void {
    this.stopped = true
    for (const room of this.rooms) for (const client of room) client.destroy()
  }
}

/** The client's map as JSON with sorted keys (Y.Map keeps the order in which this replica met them). */
function content(client: YClient): string {
  return JSON.stringify(Object.entries(client.doc.getMap('w1').toJSON()).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

async function measured(server: Server, fanOut: FanOut, act: () => Promise<void>): Promise<PhaseResult> {
  const cpuBefore = server.pids.map(cpuSeconds)
  const benchBefore = process.cpuUsage()
  const t0 = performance.now()
  fanOut.start()
  await act()
  const { deliveries, latencies } = fanOut.stop()
  const seconds = (performance.now() - t0) / 1000
  const cpu = server.pids.map((pid, i) => cpuSeconds(pid) - (cpuBefore[i] as number))
  const bench = process.cpuUsage(benchBefore)
  return { deliveries, seconds, serverCpu: cpu[0] as number, allServersCpu: cpu.reduce((a, b) => a + b, 0), benchCpu: (bench.user + bench.system) / 1e6, latencies }
}

function subsample(values: readonly number[]): number[] {
  if (values.length <= MAX_SAMPLES) return [...values]
  const step = values.length / MAX_SAMPLES
  return Array.from({ length: MAX_SAMPLES }, (_, i) => values[Math.floor(i * step)] as number)
}

async function startServer(name: string): Promise<Server> {
  if (name === 'meridian') {
    const cluster = await ProcessCluster.start({
      ids: ['a', 'b', 'c'],
      storage: 'file',
      config: { collections: { rooms: { mode: 'crdt', type: 'yjs' } }, yjsRoomCollection: 'rooms' },
    })
    await cluster.waitConnected()
    const url = (id: string) => `ws://127.0.0.1:${cluster.node(id).port}/yjs`
    return {
      name,
      connect: yWebsocketClient(url('a')),
      pid: cluster.node('a').child?.pid,
      pids: ['a', 'b', 'c'].map((id) => cluster.node(id).child?.pid),
      elsewhere: [yWebsocketClient(url('b')), yWebsocketClient(url('c'))],
      stop: () => cluster.stop(),
    }
  }
  if (name === 'y-websocket') {
    const anchor = await AnchorProcess.start(name, join(BENCH_DIR, 'node_modules', '@y', 'websocket-server', 'src', 'server.js'))
    return { name, connect: yWebsocketClient(`ws://127.0.0.1:${anchor.port}`), pid: anchor.pid, pids: [anchor.pid], elsewhere: [], stop: () => anchor.stop() }
  }
  const anchor = await AnchorProcess.start(name, join(BENCH_DIR, 'suite', 'anchors', 'hocuspocus-server.mjs'))
  return { name, connect: hocuspocusClient(`ws://127.0.0.1:${anchor.port}`, await loadHocuspocusProvider()), pid: anchor.pid, pids: [anchor.pid], elsewhere: [], stop: () => anchor.stop() }
}

interface ServerFigures {
  ratePerCore: number
  saturatedPerCore: number
  rateP99: number
}

async function measureServer(name: string, options: WorkloadOptions, results: WorkloadResults): Promise<ServerFigures> {
  const warmMs = options.quick ? 1000 : 3000
  const rateMs = options.quick ? 5000 : 20_000
  const saturateMs = options.quick ? 4000 : 15_000
  progress('W1', `${name}: starting the server and ${ROOMS * CLIENTS_PER_ROOM} clients…`)
  const server = await startServer(name)
  const fanOut = new FanOut(server.connect)
  const extra: YClient[] = []
  try {
    await fanOut.synced(30_000)
    progress('W1', `${name}: ${RATE_PER_CLIENT} updates/s per client for ${(warmMs + rateMs) / 1000} s (${warmMs / 1000} s warm-up)…`)
    await fanOut.rate(warmMs)
    const rate = await measured(server, fanOut, () => fanOut.rate(rateMs))
    await fanOut.quiesce(20_000)
    progress('W1', `${name}: ${Math.round(rate.deliveries / rate.seconds)} deliveries/s, p99 ${percentile(rate.latencies, 99).toFixed(1)} ms; closed loop for ${saturateMs / 1000} s…`)
    const saturated = await measured(server, fanOut, () => fanOut.saturate(saturateMs))
    await fanOut.quiesce(30_000)
    progress('W1', `${name}: saturated at ${Math.round(saturated.deliveries / saturated.seconds)} deliveries/s; checking convergence…`)

    // Fresh clients elsewhere (meridian: regions b and c) must hold what region a's clients hold.
    for (const connect of server.elsewhere) {
      for (let r = 0; r < ROOMS; r++) {
        const client = connect(`w1-room-${r}`)
        extra.push(client)
        const want = fanOut.expected(r)
        await waitFor(() => client.synced() && content(client) === want, 15_000, `room ${r} elsewhere equal to region a's clients`)
      }
    }
    const rss = server.pids.map((pid) => memoryKib(pid).rss / 1024)

    const id = (phase: string, what: string) => `${phase}.${name}.${what}`
    for (const [phase, r, label] of [['rate20', rate, `${RATE_PER_CLIENT}/s/client`], ['saturated', saturated, 'closed loop']] as const) {
      results.figure(id(phase, 'deliveriesPerSecond'), name, `deliveries/s, ${label}`, r.deliveries / r.seconds, '/s', 'higher')
      results.figure(id(phase, 'deliveriesPerCoreSecond'), name, `deliveries per server core-second, ${label}`, r.deliveries / r.serverCpu, '/core-s', 'higher')
      if (server.pids.length > 1) results.figure(id(phase, 'deliveriesPerClusterCoreSecond'), name, `deliveries per core-second of all 3 regions, ${label}`, r.deliveries / r.allServersCpu, '/core-s', 'higher')
      results.figure(id(phase, 'p50Ms'), name, `update → other clients p50, ${label}`, percentile(r.latencies, 50), 'ms', 'lower')
      results.figure(id(phase, 'p99Ms'), name, `update → other clients p99, ${label}`, percentile(r.latencies, 99), 'ms', 'lower')
      results.distribution(`${phase}.${name}`, name, `Yjs update → other clients of the room, ${label}`, subsample(r.latencies))
      results.note(`${name} ${label}: bench process (all ${ROOMS * CLIENTS_PER_ROOM} clients) used ${(r.benchCpu / r.seconds).toFixed(2)} cores, the server ${(r.serverCpu / r.seconds).toFixed(2)}`)
    }
    results.figure(`${name}.rssMiB`, name, 'server RSS at the end (MiB)', rss[0] as number, 'MiB', 'lower')
    if (rss.length > 1) results.figure(`${name}.peerRssMiB`, name, 'largest RSS of regions b and c', Math.max(...rss.slice(1)), 'MiB', 'lower')
    results.figure(`${name}.converged`, name, 'every replica converged (1 = yes)', 1, '', 'higher')
    if (name === 'meridian') {
      const worst = Math.max(...rss)
      results.goal(`W1: RSS ≤ ${RSS_GOAL_MIB} MB per region`, worst <= RSS_GOAL_MIB, `a ${rss.map((m) => m.toFixed(0)).join(' / ')} MiB (a / b / c)`)
    }
    return { ratePerCore: rate.deliveries / rate.serverCpu, saturatedPerCore: saturated.deliveries / saturated.serverCpu, rateP99: percentile(rate.latencies, 99) }
  } finally {
    for (const client of extra) client.destroy()
    fanOut.destroy()
    await server.stop()
  }
}

export const w1: Workload = async (options) => {
  const results = new WorkloadResults('W1')
  const figures = new Map<string, ServerFigures>()
  // MERIDIAN_BENCH_W1_SERVERS=meridian measures one server alone (to profile it); the goals need all three.
  const names = (process.env['MERIDIAN_BENCH_W1_SERVERS'] ?? 'meridian,y-websocket,hocuspocus').split(',')
  for (const name of names) figures.set(name, await measureServer(name, options, results))
  if (!['meridian', 'y-websocket', 'hocuspocus'].every((name) => figures.has(name))) return results
  const m = figures.get('meridian') as ServerFigures
  const y = figures.get('y-websocket') as ServerFigures
  const h = figures.get('hocuspocus') as ServerFigures
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
  results.goal(
    'W1: ≥ 1.5× y-websocket’s deliveries per server core-second, persisting and replicating',
    m.saturatedPerCore >= 1.5 * y.saturatedPerCore,
    `closed loop ${ratio(m.saturatedPerCore, y.saturatedPerCore)} (${Math.round(m.saturatedPerCore)} vs ${Math.round(y.saturatedPerCore)}); at 20/s ${ratio(m.ratePerCore, y.ratePerCore)}`,
  )
  results.goal(
    'W1: ≥ 2× Hocuspocus’s deliveries per server core-second',
    m.saturatedPerCore >= 2 * h.saturatedPerCore,
    `closed loop ${ratio(m.saturatedPerCore, h.saturatedPerCore)} (${Math.round(m.saturatedPerCore)} vs ${Math.round(h.saturatedPerCore)}); at 20/s ${ratio(m.ratePerCore, h.ratePerCore)}`,
  )
  results.goal('W1: p99 at 20/s/client no worse than y-websocket’s', m.rateP99 <= y.rateP99, `${m.rateP99.toFixed(2)} vs ${y.rateP99.toFixed(2)} ms`)
  results.note('W1 "server core-second": the CPU of the process the clients talk to (meridian: region a, which also stores every update and sends it to b and c); the cluster-wide figure counts all three regions.')
  return results
}

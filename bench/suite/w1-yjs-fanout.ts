/**
 * W1, Yjs fan-out (issue 12): 20 rooms × 5 unmodified Yjs clients, all in this process, against each
 * server in turn (one at a time, each in processes of its own):
 *   - meridian: three regions a, b, c (file storage, full mesh) with `/yjs` on the crdt yjs collection
 *     `rooms`; every client talks to region a, which stores each update and replicates it to b and c.
 *     Client: y-websocket's `WebsocketProvider`, unmodified.
 *   - y-websocket: @y/websocket-server 0.1.1's own server, unmodified, persisting nothing; same client.
 *   - hocuspocus: @hocuspocus/server 3.x as its README starts it, persisting nothing. Client: its own
 *     `HocuspocusProvider` (y-websocket's provider cannot speak Hocuspocus's framing).
 *
 * Each client owns one key of the room's Y.Map 'w1' and sets it to { id, seq, t } (a unique id, its own
 * sequence number, performance.now() at send). A delivery is another client of the room observing one
 * of those updates; its latency is the observation time minus the send time (one process, one clock).
 * When a receiver's observer sees a sender's seq jump by k (the server merged k of that sender's updates
 * into one message, as Meridian does within one event-loop turn), all k were delivered then: each counts
 * and each gets its own latency, from the send time this process recorded for that seq.
 *
 * Phases per server: (1) every client sends 20 updates/s (after an uncounted warm-up); (2) closed loop:
 * each client sends its next update as soon as all four others of its room have observed its previous
 * one (see CLOSED_LOOP_WINDOW). After each phase, once every update has reached every client, every
 * client of a room must hold the same map and the same state vector; for meridian, fresh clients of
 * regions b and c must hold what region a's clients hold. Server CPU is utime + stime of the server
 * process over the phase (/proc), so "deliveries per server core-second" does not depend on what else
 * ran on the machine; for meridian "the server" is region a, and the three regions' total is reported
 * beside it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { dirBytes, memoryKib } from '../cluster-probe.js'
import { cpuSeconds } from '../proc-cpu.js'
import { ProcessCluster, REPO_ROOT, sleep, waitFor } from '../../test/helpers/cluster.js'
import { AnchorProcess, BENCH_DIR } from './anchor-process.js'
import { percentile, progress, WorkloadResults, type Workload, type WorkloadOptions } from './figures.js'

const ROOMS = 20
const CLIENTS_PER_ROOM = 5
const CLIENTS = ROOMS * CLIENTS_PER_ROOM
const RATE_PER_CLIENT = 20
/**
 * Closed loop: how many of its own updates a client may have out that not all four others of its room
 * have observed yet. With 1 (the next update once the room has the last one) the loop is bound by the
 * round trip, not by CPU: on the 2-core machine this was written on, with Meridian's three regions and
 * the bench process sharing the cores, region a ran at ~0.4 cores and the bench process at ~0.4 while
 * throughput still rose with the window (window 1 → 2 → 4 → 8 → 16: 15k → 17k → 25k → 26k → 40k
 * deliveries/s; y-websocket 22k → 20k → 21k → 26k → 42k), and the processes spent as long waiting for
 * a core (/proc/<pid>/schedstat) as running. 4 keeps the pipeline full across scheduling delays with
 * little queueing (16 gives p99s in the hundreds of ms and puts the bench process at a full core with
 * y-websocket and Hocuspocus: then the client, not the server, is measured). A server that merges
 * what one event-loop turn brings (Meridian does, per room) merges more the more is in flight; each
 * closed-loop figure therefore comes with `deliveriesPerObservedChange` (1: nothing merged), and the
 * bench process's CPU is in the notes, flagged when it, not the server, was the limit.
 */
const CLOSED_LOOP_WINDOW = 4
const MAX_DISTRIBUTION_SAMPLES = 20_000
/** The issue's RSS goal is "≤ 100 MB per region": judged as 100 × 10⁶ bytes (95.4 MiB), the stricter reading. */
const RSS_GOAL_MIB = 100e6 / 2 ** 20
const SYNC_TIMEOUT_MS = 30_000
const QUIESCE_TIMEOUT_MS = 30_000
const ELSEWHERE_TIMEOUT_MS = 10_000
const PROGRESS_EVERY_MS = 3_000
/** A seq no client reaches. */
const NEVER = 2 ** 31 - 1

export const W1_SERVERS = ['meridian', 'y-websocket', 'hocuspocus'] as const
export type W1Server = (typeof W1_SERVERS)[number]

interface Timing {
  readonly warmMs: number
  readonly rateMs: number
  readonly closedLeadMs: number
  readonly closedMs: number
}
const FULL: Timing = { warmMs: 3_000, rateMs: 20_000, closedLeadMs: 1_000, closedMs: 15_000 }
const QUICK: Timing = { warmMs: 1_000, rateMs: 5_000, closedLeadMs: 0, closedMs: 4_000 }

// ---------------------------------------------------------------------------------------------------
// Clients

/** What a client writes: one key of the room's map per client. */
interface W1Record {
  readonly id: string
  readonly seq: number
  readonly t: number
}

interface Client {
  readonly doc: Y.Doc
  synced(): boolean
  /** Times the provider reported 'disconnected' after `markStarted()` (a server closing or dropping it). */
  disconnects(): number
  markStarted(): void
  destroy(): void
}
type Connect = (room: string) => Client

/** Counts 'disconnected' statuses after the start mark (both providers emit 'status' with { status }). */
function statusCounter(provider: { on(event: 'status', f: (e: { status: string }) => void): unknown }): { disconnects(): number; markStarted(): void } {
  let started = false
  let count = 0
  provider.on('status', (e) => {
    if (started && e.status === 'disconnected') count++
  })
  return { disconnects: () => count, markStarted: () => (started = true) }
}

function yWebsocketClient(serverUrl: string): Connect {
  return (room) => {
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
    const status = statusCounter(provider as never)
    return { doc, synced: () => provider.synced, ...status, destroy: () => provider.destroy() }
  }
}

/** The part of @hocuspocus/provider 3.x's HocuspocusProvider this bench uses. */
interface HocuspocusProviderLike {
  readonly synced: boolean
  on(event: string, f: (e: { status: string }) => void): unknown
  destroy(): void
}
type HocuspocusProviderClass = new (configuration: object) => HocuspocusProviderLike

/**
 * @hocuspocus/provider is installed in bench/node_modules only (bench/run.ts installs it), which the
 * repository's type-check does not require: imported by a name TypeScript does not resolve. It
 * resolves yjs from the repository root, the same copy as this file's.
 */
async function loadHocuspocusProvider(): Promise<HocuspocusProviderClass> {
  const name: string = '@hocuspocus/provider'
  return ((await import(name)) as { HocuspocusProvider: HocuspocusProviderClass }).HocuspocusProvider
}

function hocuspocusClient(url: string, HocuspocusProvider: HocuspocusProviderClass): Connect {
  return (room) => {
    const doc = new Y.Doc()
    // Given `url` (no `websocketProvider`), the provider makes a HocuspocusProviderWebsocket of its own
    // from the same configuration — one socket per provider, like the y-websocket clients — and passes
    // WebSocketPolyfill on to it; destroy() destroys that socket too.
    const provider = new HocuspocusProvider({ url, name: room, document: doc, WebSocketPolyfill: WebSocket })
    const status = statusCounter(provider as never)
    return { doc, synced: () => provider.synced, ...status, destroy: () => provider.destroy() }
  }
}

function roomName(room: number): string {
  return `w1-room-${room}`
}

/** The map as JSON with sorted keys (a Y.Map iterates in the order this replica met its keys). */
function content(doc: Y.Doc): string {
  const json = doc.getMap('w1').toJSON() as { [key: string]: unknown }
  return JSON.stringify(Object.keys(json).sort().map((key) => [key, json[key]]))
}

/** The state vector, sorted by client id (compared decoded: the encoding need not order its entries). */
function stateVector(doc: Y.Doc): string {
  return JSON.stringify([...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0]))
}

// ---------------------------------------------------------------------------------------------------
// Servers

interface ServerProcess {
  /** 'server' for an anchor; 'a', 'b', 'c' for Meridian's regions. */
  readonly label: string
  readonly pid: number | undefined
  running(): boolean
}

interface ServerUnderTest {
  readonly name: W1Server
  readonly connect: Connect
  /** The process the clients talk to first, then the others (meridian: regions b and c). */
  readonly processes: readonly ServerProcess[]
  /** Connects fresh clients elsewhere for the convergence check (meridian: regions b and c). */
  readonly elsewhere: readonly { readonly label: string; readonly connect: Connect }[]
  /** Bytes stored on disk by the process the clients talk to (meridian only). */
  readonly diskBytes?: () => number
  /** Last lines each process printed, for failure messages. */
  tail(): string
  stop(): Promise<void>
}

/**
 * Meridian's regions run compiled: with dist/ built, MERIDIAN_SERVER_ENTRY=dist makes ProcessCluster
 * start `node dist/node/server/cli.js` (as `npm start` does) instead of the sources through tsx, so that
 * neither the CPU nor the RSS measured includes a TypeScript loader. Returns a warning when dist/ is
 * missing or older than the server's sources.
 */
function useCompiledServer(): string | null {
  const cli = join(REPO_ROOT, 'dist', 'node', 'server', 'cli.js')
  if (!existsSync(cli)) return 'dist/ is not built (npm run build): the Meridian regions ran from the sources through tsx, RSS includes the loader'
  process.env['MERIDIAN_SERVER_ENTRY'] ??= 'dist'
  const built = statSync(cli).mtimeMs
  const newer = ['server', 'core'].flatMap((dir) =>
    readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && statSync(join(REPO_ROOT, dir, file)).mtimeMs > built),
  )
  return newer.length === 0 ? null : `dist/ is older than ${newer.length} source file(s) of server/ and core/ (e.g. ${newer[0]}): the regions ran the last build, not the working tree`
}

async function startMeridian(): Promise<ServerUnderTest> {
  const cluster = await ProcessCluster.start({
    ids: ['a', 'b', 'c'],
    topology: 'mesh',
    storage: 'file',
    // heartbeatIntervalMs: the server's default (ProcessCluster sets 500 ms for tests: pings to 100
    // clients twice a second are no part of serving them).
    config: { collections: { rooms: { mode: 'crdt', type: 'yjs' } }, yjsRoomCollection: 'rooms', heartbeatIntervalMs: 1000 },
  })
  try {
    await cluster.waitConnected(15_000)
  } catch (err) {
    await cluster.stop()
    throw err
  }
  const url = (id: string) => `ws://127.0.0.1:${cluster.node(id).port}/yjs`
  const regions = ['a', 'b', 'c'].map((id) => cluster.node(id))
  return {
    name: 'meridian',
    connect: yWebsocketClient(url('a')),
    processes: regions.map((node) => ({ label: node.nodeId, pid: node.child?.pid, running: () => node.running })),
    elsewhere: ['b', 'c'].map((id) => ({ label: `region ${id}`, connect: yWebsocketClient(url(id)) })),
    diskBytes: () => dirBytes(join(cluster.dir, 'data', 'a')),
    tail: () => regions.map((node) => `--- region ${node.nodeId} ---\n${node.tail(40)}`).join('\n'),
    stop: () => cluster.stop(),
  }
}

async function startAnchor(name: 'y-websocket' | 'hocuspocus'): Promise<ServerUnderTest> {
  if (name === 'y-websocket' && process.env['YPERSISTENCE'] !== undefined) throw new Error('YPERSISTENCE is set: y-websocket’s server would persist to LevelDB; unset it for W1')
  const script = name === 'y-websocket' ? join(BENCH_DIR, 'node_modules', '@y', 'websocket-server', 'src', 'server.js') : join(BENCH_DIR, 'suite', 'anchors', 'hocuspocus-server.mjs')
  const Provider = name === 'hocuspocus' ? await loadHocuspocusProvider() : null
  const anchor = await AnchorProcess.start(name, script)
  const alive = { exited: false }
  // AnchorProcess does not expose its child; a process is running while /proc has it.
  const running = () => !alive.exited && Number.isFinite(cpuSeconds(anchor.pid))
  return {
    name,
    connect: Provider === null ? yWebsocketClient(`ws://127.0.0.1:${anchor.port}`) : hocuspocusClient(`ws://127.0.0.1:${anchor.port}`, Provider),
    processes: [{ label: 'server', pid: anchor.pid, running }],
    elsewhere: [],
    tail: () => anchor.tail(40),
    stop: async () => {
      alive.exited = true
      await anchor.stop()
    },
  }
}

function startServer(name: W1Server): Promise<ServerUnderTest> {
  return name === 'meridian' ? startMeridian() : startAnchor(name)
}

// ---------------------------------------------------------------------------------------------------
// The clients of one server: who sent what, who saw what

interface PhaseCounts {
  readonly seconds: number
  readonly sent: number
  readonly deliveries: number
  readonly observations: number
  /** CPU seconds of each server process over the phase, in `processes` order. */
  readonly serverCpu: readonly number[]
  readonly benchCpu: number
  /** Per second of the phase, seconds each server process (then the bench process) waited for a core. */
  readonly runQueueWait: readonly number[]
  /** RSS (MiB) of each server process at the end of the phase. */
  readonly rssEnd: readonly number[]
}

/** Latency samples in a growable Float64Array (hundreds of thousands per phase). */
class Samples {
  private data = new Float64Array(1 << 16)
  length = 0
  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2)
      grown.set(this.data)
      this.data = grown
    }
    this.data[this.length++] = value
  }
  take(): Float64Array {
    const out = this.data.slice(0, this.length)
    this.length = 0
    return out
  }
}

class FanOut {
  /** clients[s]: sender index s = room × CLIENTS_PER_ROOM + position in the room. */
  readonly clients: Client[] = []
  /** sent[s]: the last seq client s sent. */
  private readonly sent = new Int32Array(CLIENTS)
  /** seen[s × CLIENTS_PER_ROOM + k]: the highest seq of sender s the client at position k of its room observed. */
  private readonly seen = new Int32Array(CLIENTS * CLIENTS_PER_ROOM)
  /** sendTimes[s][seq]: performance.now() when s sent seq. */
  private readonly sendTimes: number[][] = Array.from({ length: CLIENTS }, () => [0])
  private readonly latencies = new Samples()
  /**
   * Latency is sampled for the updates *sent* in the measured interval, sampleFrom[s]..sampleTo[s] of
   * each sender, whenever they are observed (until quiescence): the slowest, observed after the interval
   * ended, are not cut off. Deliveries are counted *observed* in the interval, the same interval as the
   * server CPU they are divided by.
   */
  private readonly sampleFrom = new Int32Array(CLIENTS).fill(NEVER)
  private readonly sampleTo = new Int32Array(CLIENTS).fill(NEVER)
  private recording = false
  private deliveries = 0
  /** Changes of another client's key the observers saw (a merged message shows several updates as one). */
  private observations = 0
  private sentInPhase = 0
  private closedLoop = false
  /** Senders whose window may have opened, served in one setImmediate. */
  private readonly ready = new Set<number>()
  private readyScheduled = false
  private destroyed = false

  constructor(connect: Connect) {
    for (let s = 0; s < CLIENTS; s++) {
      const room = Math.floor(s / CLIENTS_PER_ROOM)
      const position = s % CLIENTS_PER_ROOM
      const client = connect(roomName(room))
      this.clients.push(client)
      const map = client.doc.getMap<W1Record>('w1')
      const firstOfRoom = room * CLIENTS_PER_ROOM
      map.observe((event) => {
        const now = performance.now()
        for (const key of event.keysChanged) {
          const from = Number(key.slice(1))
          if (from === position || !(from >= 0 && from < CLIENTS_PER_ROOM)) continue
          const value = map.get(key)
          if (value === undefined) continue
          const sender = firstOfRoom + from
          const slot = sender * CLIENTS_PER_ROOM + position
          const last = this.seen[slot] as number
          if (value.seq <= last) continue
          this.seen[slot] = value.seq
          if (this.recording) {
            this.deliveries += value.seq - last
            this.observations++
          }
          const first = Math.max(last + 1, this.sampleFrom[sender] as number)
          const final = Math.min(value.seq, this.sampleTo[sender] as number)
          if (first <= final) {
            const times = this.sendTimes[sender] as number[]
            for (let seq = first; seq <= final; seq++) this.latencies.push(now - (times[seq] as number))
          }
          if (this.closedLoop) this.wake(sender)
        }
      })
    }
  }

  async synced(): Promise<void> {
    await waitFor(() => this.clients.every((c) => c.synced()), SYNC_TIMEOUT_MS, `all ${CLIENTS} clients synced`, 50)
    for (const client of this.clients) client.markStarted()
  }

  send(sender: number): void {
    if (this.destroyed) return
    const seq = (this.sent[sender] as number) + 1
    this.sent[sender] = seq
    const room = Math.floor(sender / CLIENTS_PER_ROOM)
    const position = sender % CLIENTS_PER_ROOM
    const t = performance.now()
    ;(this.sendTimes[sender] as number[])[seq] = t
    if (this.recording) this.sentInPhase++
    this.clients[sender]?.doc.getMap<W1Record>('w1').set(`c${position}`, { id: `r${room}c${position}#${seq}`, seq, t })
  }

  /** The lowest seq of `sender` that all the others of its room observed. */
  private minSeen(sender: number): number {
    const position = sender % CLIENTS_PER_ROOM
    let min = Infinity
    for (let k = 0; k < CLIENTS_PER_ROOM; k++) if (k !== position) min = Math.min(min, this.seen[sender * CLIENTS_PER_ROOM + k] as number)
    return min
  }

  private wake(sender: number): void {
    this.ready.add(sender)
    if (this.readyScheduled) return
    this.readyScheduled = true
    // Sent outside the receiving doc's observer (not from within another doc's transaction), all the
    // senders woken by one incoming message at once.
    setImmediate(() => {
      this.readyScheduled = false
      const senders = [...this.ready]
      this.ready.clear()
      for (const s of senders) this.fill(s)
    })
  }

  private fill(sender: number): void {
    while (this.closedLoop && (this.sent[sender] as number) - this.minSeen(sender) < CLOSED_LOOP_WINDOW) this.send(sender)
  }

  /** Every client sends RATE_PER_CLIENT updates a second for `ms`, the clients' send times spread evenly over the period. */
  async rate(ms: number): Promise<void> {
    const period = 1000 / RATE_PER_CLIENT
    const start = performance.now()
    const due = Array.from({ length: CLIENTS }, (_, s) => start + (s / CLIENTS) * period)
    const end = start + ms
    await new Promise<void>((resolve) => {
      // One 2 ms ticker for all clients instead of 100 intervals; a client late by a tick or two (a busy
      // event loop) catches up one update per tick, so the offered rate holds on average.
      const ticker = setInterval(() => {
        const now = performance.now()
        if (now >= end || this.destroyed) {
          clearInterval(ticker)
          resolve()
          return
        }
        for (let s = 0; s < CLIENTS; s++) {
          if (now >= (due[s] as number)) {
            this.send(s)
            due[s] = (due[s] as number) + period
          }
        }
      }, 2)
    })
  }

  async closed(ms: number): Promise<void> {
    this.closedLoop = true
    for (let s = 0; s < CLIENTS; s++) this.fill(s)
    await sleep(ms)
    this.closedLoop = false
  }

  startRecording(): void {
    this.latencies.take()
    this.deliveries = 0
    this.observations = 0
    this.sentInPhase = 0
    this.recording = true
    for (let s = 0; s < CLIENTS; s++) {
      this.sampleFrom[s] = (this.sent[s] as number) + 1
      this.sampleTo[s] = NEVER
    }
  }

  /** Ends the measured interval: deliveries stop counting; latency is still sampled for what was sent in it. */
  stopRecording(): { sent: number; deliveries: number; observations: number } {
    this.recording = false
    this.sampleTo.set(this.sent)
    return { sent: this.sentInPhase, deliveries: this.deliveries, observations: this.observations }
  }

  /** The latencies of the updates sent in the last interval (call once they all arrived: after `converged()`). */
  takeLatencies(): Float64Array {
    this.sampleFrom.fill(NEVER)
    return this.latencies.take()
  }

  /** So far in the phase: updates sent and deliveries observed (for progress lines). */
  counts(): { sent: number; deliveries: number } {
    return { sent: this.sentInPhase, deliveries: this.deliveries }
  }

  /** Deliveries still missing: for every sender, the receivers of its room behind its last seq. */
  missing(): number {
    let total = 0
    for (let s = 0; s < CLIENTS; s++) {
      const position = s % CLIENTS_PER_ROOM
      for (let k = 0; k < CLIENTS_PER_ROOM; k++) if (k !== position) total += Math.max(0, (this.sent[s] as number) - (this.seen[s * CLIENTS_PER_ROOM + k] as number))
    }
    return total
  }

  /**
   * Waits until every update reached every other client of its room, then checks that the clients of
   * each room hold the same map and the same state vector. Returns what is wrong, or null.
   */
  async converged(): Promise<string | null> {
    try {
      await waitFor(() => this.missing() === 0, QUIESCE_TIMEOUT_MS, 'every update at every other client of its room', 50)
    } catch {
      const behind: string[] = []
      for (let s = 0; s < CLIENTS && behind.length < 8; s++) {
        const position = s % CLIENTS_PER_ROOM
        for (let k = 0; k < CLIENTS_PER_ROOM; k++) {
          const saw = this.seen[s * CLIENTS_PER_ROOM + k] as number
          if (k !== position && saw < (this.sent[s] as number)) behind.push(`room ${Math.floor(s / CLIENTS_PER_ROOM)}: client ${k} saw client ${position} up to seq ${saw} of ${this.sent[s]}`)
        }
      }
      const unsynced = this.clients.filter((c) => !c.synced()).length
      return `${this.missing()} deliveries missing after ${QUIESCE_TIMEOUT_MS / 1000} s (${unsynced} providers not synced); e.g. ${behind.join('; ')}`
    }
    for (let room = 0; room < ROOMS; room++) {
      const first = this.clients[room * CLIENTS_PER_ROOM] as Client
      const [map, sv] = [content(first.doc), stateVector(first.doc)]
      for (let k = 1; k < CLIENTS_PER_ROOM; k++) {
        const other = (this.clients[room * CLIENTS_PER_ROOM + k] as Client).doc
        if (content(other) !== map) return `room ${room}: client ${k}'s map differs from client 0's`
        if (stateVector(other) !== sv) return `room ${room}: client ${k}'s state vector ${stateVector(other)} differs from client 0's ${sv}`
      }
    }
    return null
  }

  /** What the clients of `room` hold (after `converged()`). */
  expected(room: number): { map: string; sv: string } {
    const doc = (this.clients[room * CLIENTS_PER_ROOM] as Client).doc
    return { map: content(doc), sv: stateVector(doc) }
  }

  disconnects(): number {
    return this.clients.reduce((sum, c) => sum + c.disconnects(), 0)
  }

  destroy(): void {
    this.destroyed = true
    this.closedLoop = false
    for (const client of this.clients) {
      try {
        client.destroy()
      } catch {
        // destroying the others matters more
      }
    }
  }
}

/** Fresh clients elsewhere (meridian: regions b and c) must hold, for every room, what region a's clients hold. */
async function convergedElsewhere(server: ServerUnderTest, fanOut: FanOut): Promise<string | null> {
  const extra: Client[] = []
  try {
    const problems = await Promise.all(
      server.elsewhere.flatMap(({ label, connect }) =>
        Array.from({ length: ROOMS }, async (_, room) => {
          const client = connect(roomName(room))
          extra.push(client)
          const want = fanOut.expected(room)
          try {
            await waitFor(() => client.synced() && content(client.doc) === want.map && stateVector(client.doc) === want.sv, ELSEWHERE_TIMEOUT_MS, 'same content', 50)
            return null
          } catch {
            const got = client.synced() ? `synced, state vector ${stateVector(client.doc)}` : 'never synced'
            return `room ${room} at ${label}: ${got}, region a's clients ${want.sv}`
          }
        }),
      ),
    )
    const wrong = problems.filter((p): p is string => p !== null)
    return wrong.length === 0 ? null : `${wrong.length} room(s) differ elsewhere after ${ELSEWHERE_TIMEOUT_MS / 1000} s: ${wrong.slice(0, 4).join('; ')}`
  } finally {
    for (const client of extra) client.destroy()
  }
}

// ---------------------------------------------------------------------------------------------------
// Measuring one server

/** CPU and RSS of the server processes, sampled for progress lines and the peak RSS. */
class Probe {
  readonly peakRss: number[]
  constructor(private readonly server: ServerUnderTest) {
    this.peakRss = server.processes.map(() => 0)
  }
  cpu(): number[] {
    return this.server.processes.map((p) => cpuSeconds(p.pid))
  }
  /** Seconds each process spent runnable but waiting for a core (/proc/<pid>/schedstat); NaN if unreadable. */
  runQueueWait(): number[] {
    return this.server.processes.map((p) => schedWaitSeconds(p.pid))
  }
  rss(): number[] {
    const rss = this.server.processes.map((p) => memoryKib(p.pid).rss / 1024)
    rss.forEach((mib, i) => {
      if (mib > (this.peakRss[i] as number)) this.peakRss[i] = mib
    })
    return rss
  }
  /** Throws, with the processes' last output, when one of them died. */
  checkRunning(): void {
    const dead = this.server.processes.filter((p) => !p.running())
    if (dead.length > 0) throw new Error(`${this.server.name}: ${dead.map((p) => p.label).join(', ')} exited\n${this.server.tail()}`)
  }
}

/** Run-queue wait of a process so far (second field of /proc/<pid>/schedstat, ns), in seconds. */
function schedWaitSeconds(pid: number | undefined): number {
  try {
    return Number(readFileSync(`/proc/${pid ?? 'self'}/schedstat`, 'utf8').split(' ')[1]) / 1e9
  } catch {
    return NaN
  }
}

async function phase(name: string, server: ServerUnderTest, fanOut: FanOut, probe: Probe, totalMs: number, act: () => Promise<void>): Promise<PhaseCounts> {
  const cpuBefore = probe.cpu()
  const waitBefore = [...probe.runQueueWait(), schedWaitSeconds(process.pid)]
  const benchBefore = process.cpuUsage()
  const t0 = performance.now()
  fanOut.startRecording()
  let lastLine = t0
  let lastCounts = fanOut.counts()
  let lastCpu = cpuBefore
  const ticker = setInterval(() => {
    const rss = probe.rss()
    const now = performance.now()
    if (now - lastLine < PROGRESS_EVERY_MS - 500) return
    const counts = fanOut.counts()
    const cpu = probe.cpu()
    const seconds = (now - lastLine) / 1000
    const cores = cpu.map((c, i) => ((c - (lastCpu[i] as number)) / seconds).toFixed(2))
    progress(
      'W1',
      `${server.name} ${name} ${((now - t0) / 1000).toFixed(0)}/${(totalMs / 1000).toFixed(0)} s: ` +
        `${Math.round((counts.sent - lastCounts.sent) / seconds)} updates/s, ${Math.round((counts.deliveries - lastCounts.deliveries) / seconds)} deliveries/s, ` +
        `server cores ${cores.join(' / ')}, RSS ${rss.map((m) => m.toFixed(0)).join(' / ')} MiB`,
    )
    lastLine = now
    lastCounts = counts
    lastCpu = cpu
  }, 1000)
  try {
    await act()
  } finally {
    clearInterval(ticker)
  }
  const { sent, deliveries, observations } = fanOut.stopRecording()
  const seconds = (performance.now() - t0) / 1000
  const cpuAfter = probe.cpu()
  const bench = process.cpuUsage(benchBefore)
  const waitAfter = [...probe.runQueueWait(), schedWaitSeconds(process.pid)]
  probe.checkRunning()
  return {
    seconds,
    sent,
    deliveries,
    observations,
    serverCpu: cpuAfter.map((c, i) => c - (cpuBefore[i] as number)),
    benchCpu: (bench.user + bench.system) / 1e6,
    runQueueWait: waitAfter.map((w, i) => (w - (waitBefore[i] as number)) / seconds),
    rssEnd: probe.rss(),
  }
}

/** An even subsample by rank (quantiles), which keeps the shape of the distribution. */
function distributionSample(sorted: Float64Array): number[] {
  if (sorted.length <= MAX_DISTRIBUTION_SAMPLES) return Array.from(sorted)
  return Array.from({ length: MAX_DISTRIBUTION_SAMPLES }, (_, i) => sorted[Math.floor(((i + 0.5) / MAX_DISTRIBUTION_SAMPLES) * sorted.length)] as number)
}

interface PhaseSummary {
  readonly deliveriesPerSecond: number
  readonly perCoreSecond: number
  readonly p50: number
  readonly p99: number
}

interface ServerSummary {
  readonly rate: PhaseSummary
  readonly closed: PhaseSummary
  readonly peakRss: readonly number[]
  readonly endRss: readonly number[]
}

/** Records a phase's figures; returns the numbers the goals need. */
function report(results: WorkloadResults, server: ServerUnderTest, key: 'rate20' | 'closed', counts: PhaseCounts, latencies: Float64Array): PhaseSummary {
  const s = server.name
  const what = key === 'rate20' ? `${RATE_PER_CLIENT}/s/client` : `closed loop (window ${CLOSED_LOOP_WINDOW})`
  const id = (figure: string) => `${key}.${s}.${figure}`
  const sorted = latencies.sort()
  const samples = Array.from(sorted)
  const p50 = percentile(samples, 50)
  const p99 = percentile(samples, 99)
  const mainCpu = counts.serverCpu[0] as number
  const allCpu = counts.serverCpu.reduce((a, b) => a + b, 0)
  const deliveriesPerSecond = counts.deliveries / counts.seconds
  const perCoreSecond = counts.deliveries / mainCpu
  const merged = counts.deliveries / counts.observations
  // At a fixed offered load, less server CPU is better; at saturation the CPU used only describes the run.
  const cpuBetter = key === 'rate20' ? 'lower' : 'none'
  results.figure(id('updatesPerSecond'), s, `updates sent/s (all clients), ${what}`, counts.sent / counts.seconds, '/s', 'none')
  results.figure(id('deliveriesPerSecond'), s, `delivered/s (updates observed by other clients), ${what}`, deliveriesPerSecond, '/s', 'higher')
  results.figure(id('deliveriesPerCoreSecond'), s, `deliveries per server core-second, ${what}`, perCoreSecond, '/core-s', 'higher')
  results.figure(id('p50Ms'), s, `update → other clients p50, ${what}`, p50, 'ms', 'lower')
  results.figure(id('p99Ms'), s, `update → other clients p99, ${what}`, p99, 'ms', 'lower')
  results.figure(id('serverCores'), s, `server CPU (cores), ${what}`, mainCpu / counts.seconds, 'cores', cpuBetter)
  results.figure(id('rssMiB'), s, `server RSS at the end, ${what}`, counts.rssEnd[0] as number, 'MiB', 'lower')
  if (server.processes.length > 1) {
    results.figure(id('clusterCores'), s, `CPU of all ${server.processes.length} regions (cores), ${what}`, allCpu / counts.seconds, 'cores', cpuBetter)
    results.figure(id('deliveriesPerClusterCoreSecond'), s, `deliveries per core-second of all ${server.processes.length} regions, ${what}`, counts.deliveries / allCpu, '/core-s', 'higher')
    server.processes.slice(1).forEach((p, i) => results.figure(id(`region${p.label.toUpperCase()}RssMiB`), s, `region ${p.label} RSS at the end, ${what}`, counts.rssEnd[i + 1] as number, 'MiB', 'lower'))
  }
  results.figure(id('deliveriesPerObservedChange'), s, `deliveries per change a client observed (1: none merged), ${what}`, merged, '', 'none')
  results.figure(id('benchCores'), s, `bench process CPU (all ${CLIENTS} clients, cores), ${what}`, counts.benchCpu / counts.seconds, 'cores', 'none')
  if (key === 'rate20') results.distribution(`rate20.${s}`, s, `Yjs update → other clients of the room, ${what}`, distributionSample(sorted))
  const benchCores = counts.benchCpu / counts.seconds
  const cpuLine = server.processes.map((p, i) => `${server.processes.length > 1 ? `${p.label} ` : ''}${((counts.serverCpu[i] as number) / counts.seconds).toFixed(2)}`).join(', ')
  results.note(
    `${s}, ${what}: ${Math.round(counts.sent / counts.seconds)} updates/s sent, ${Math.round(deliveriesPerSecond)} delivered/s; server cores ${cpuLine}; ` +
      `bench process ${benchCores.toFixed(2)} cores; waiting for a core (s/s): ${counts.runQueueWait.map((w) => w.toFixed(2)).join(' / ')} (server${server.processes.length > 1 ? 's a / b / c' : ''} / bench)` +
      `${merged > 1.05 ? `; ${merged.toFixed(2)} updates per change a client observed: the server merged a sender's updates, each client applied fewer, larger messages` : ''}${key === 'closed' && benchCores > 0.85 && mainCpu / counts.seconds < 0.85 ? ' — the client process, not the server, was the limit (one Node thread runs all 100 clients)' : ''}`,
  )
  return { deliveriesPerSecond, perCoreSecond, p50, p99 }
}

async function measure(name: W1Server, timing: Timing, results: WorkloadResults): Promise<ServerSummary> {
  progress('W1', `${name}: starting the server and ${ROOMS} rooms × ${CLIENTS_PER_ROOM} clients…`)
  const server = await startServer(name)
  let fanOut: FanOut | null = null
  try {
    const probe = new Probe(server)
    fanOut = new FanOut(server.connect)
    await fanOut.synced()
    probe.rss()
    const check = async (phaseName: string): Promise<void> => {
      const f = fanOut as FanOut
      const wrong = (await f.converged()) ?? (server.elsewhere.length > 0 ? await convergedElsewhere(server, f) : null)
      probe.checkRunning()
      if (wrong !== null) throw new NotConverged(`${name} did not converge after the ${phaseName} phase: ${wrong}\n${server.tail()}`)
    }

    progress('W1', `${name}: ${RATE_PER_CLIENT} updates/s per client, ${timing.warmMs / 1000} s warm-up then ${timing.rateMs / 1000} s measured`)
    await fanOut.rate(timing.warmMs)
    const rate = await phase('rate20', server, fanOut, probe, timing.rateMs, () => (fanOut as FanOut).rate(timing.rateMs))
    await check('20/s/client')
    const rateSummary = report(results, server, 'rate20', rate, fanOut.takeLatencies())
    progress('W1', `${name}: converged; ${Math.round(rateSummary.deliveriesPerSecond)} delivered/s, p50 ${rateSummary.p50.toFixed(1)} ms, p99 ${rateSummary.p99.toFixed(1)} ms, ${Math.round(rateSummary.perCoreSecond)} per server core-s`)

    progress('W1', `${name}: closed loop (window ${CLOSED_LOOP_WINDOW}) for ${timing.closedMs / 1000} s${timing.closedLeadMs > 0 ? ` after ${timing.closedLeadMs / 1000} s uncounted` : ''}`)
    // The lead-in (full mode) runs in the same closed loop before the measured interval starts, so that
    // the interval begins in steady state; CPU and deliveries are both counted from its end.
    const loop = fanOut.closed(timing.closedLeadMs + timing.closedMs)
    await sleep(timing.closedLeadMs)
    const closed = await phase('closed', server, fanOut, probe, timing.closedMs, () => loop)
    await check('closed-loop')
    const closedSummary = report(results, server, 'closed', closed, fanOut.takeLatencies())
    progress('W1', `${name}: converged; closed loop ${Math.round(closedSummary.deliveriesPerSecond)} delivered/s, p99 ${closedSummary.p99.toFixed(1)} ms, ${Math.round(closedSummary.perCoreSecond)} per server core-s`)

    const endRss = probe.rss()
    results.figure(`${name}.peakRssMiB`, name, 'server RSS, highest sampled (1/s) while measuring', probe.peakRss[0] as number, 'MiB', 'lower')
    server.processes.slice(1).forEach((p, i) => results.figure(`${name}.region${p.label.toUpperCase()}PeakRssMiB`, name, `region ${p.label} RSS, highest sampled while measuring`, probe.peakRss[i + 1] as number, 'MiB', 'lower'))
    results.figure(`${name}.reconnects`, name, 'provider disconnects after the initial sync (all phases)', fanOut.disconnects(), '', 'lower')
    if (server.diskBytes !== undefined) results.figure(`${name}.diskMiB`, name, 'region a data on disk at the end', server.diskBytes() / 2 ** 20, 'MiB', 'none')
    results.figure(`${name}.converged`, name, 'every client (and region) converged: 1 = yes', 1, '', 'higher')
    return { rate: rateSummary, closed: closedSummary, peakRss: [...probe.peakRss], endRss }
  } finally {
    fanOut?.destroy()
    await server.stop()
  }
}

class NotConverged extends Error {}

// ---------------------------------------------------------------------------------------------------
// The workload

/** W1 on the given servers (default all three; the goals need all three). */
export async function runW1(options: WorkloadOptions, servers: readonly W1Server[] = W1_SERVERS): Promise<WorkloadResults> {
  const results = new WorkloadResults('W1')
  const timing = options.quick ? QUICK : FULL
  const warning = servers.includes('meridian') ? useCompiledServer() : null
  if (warning !== null) {
    progress('W1', `warning: ${warning}`)
    results.note(`W1: ${warning}`)
  }
  const summaries = new Map<W1Server, ServerSummary>()
  const failures: string[] = []
  // y-websocket's provider adds a process 'exit' listener each (to drop its awareness state): 100 and
  // the 40 fresh clients of the convergence check are no leak.
  const maxListeners = process.getMaxListeners()
  process.setMaxListeners(Math.max(maxListeners, CLIENTS + 2 * ROOMS + 20))
  for (const name of servers) {
    const started = performance.now()
    try {
      summaries.set(name, await measure(name, timing, results))
    } catch (err) {
      // Not converged or crashed: recorded, and the run goes on to the other servers; thrown at the end.
      const message = err instanceof Error ? err.message : String(err)
      failures.push(message)
      results.figure(`${name}.converged`, name, 'every client (and region) converged: 1 = yes', 0, '', 'higher')
      results.note(`W1 ${name} FAILED: ${message.split('\n')[0]}`)
      progress('W1', `${name} FAILED: ${message}`)
    }
    progress('W1', `${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  process.setMaxListeners(maxListeners)

  const m = summaries.get('meridian')
  const y = summaries.get('y-websocket')
  const h = summaries.get('hocuspocus')
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
  const perCoreGoal = (anchor: ServerSummary | undefined, anchorName: string, factor: number): void => {
    const text = `W1: ≥ ${factor}× ${anchorName}'s deliveries per server core-second, persisting and replicating (at 20/s/client and in the closed loop)`
    if (m === undefined || anchor === undefined) {
      if (servers.includes('meridian') && servers.includes(anchorName === 'y-websocket' ? 'y-websocket' : 'hocuspocus')) results.goal(text, m === undefined ? false : null, m === undefined ? 'Meridian failed' : `${anchorName} failed`)
      return
    }
    const atRate = m.rate.perCoreSecond / anchor.rate.perCoreSecond
    const atClosed = m.closed.perCoreSecond / anchor.closed.perCoreSecond
    results.goal(
      text,
      atRate >= factor && atClosed >= factor,
      `20/s/client ${ratio(m.rate.perCoreSecond, anchor.rate.perCoreSecond)} ${anchorName} (${Math.round(m.rate.perCoreSecond)} vs ${Math.round(anchor.rate.perCoreSecond)}); ` +
        `closed loop ${ratio(m.closed.perCoreSecond, anchor.closed.perCoreSecond)} (${Math.round(m.closed.perCoreSecond)} vs ${Math.round(anchor.closed.perCoreSecond)})`,
    )
  }
  perCoreGoal(y, 'y-websocket', 1.5)
  perCoreGoal(h, 'hocuspocus', 2)
  if (servers.includes('meridian') && servers.includes('y-websocket')) {
    const text = "W1: p99 at 20/s/client no worse than y-websocket's"
    if (m === undefined || y === undefined) results.goal(text, m === undefined ? false : null, m === undefined ? 'Meridian failed' : 'y-websocket failed')
    else results.goal(text, m.rate.p99 <= y.rate.p99, `${m.rate.p99.toFixed(2)} vs ${y.rate.p99.toFixed(2)} ms (p50 ${m.rate.p50.toFixed(2)} vs ${y.rate.p50.toFixed(2)} ms)`)
  }
  if (servers.includes('meridian')) {
    const text = 'W1: RSS ≤ 100 MB per region'
    if (m === undefined) results.goal(text, false, 'Meridian failed')
    else {
      const anchors = [y === undefined ? '' : `; y-websocket's server ${(y.peakRss[0] as number).toFixed(0)} MiB`, h === undefined ? '' : `, Hocuspocus ${(h.peakRss[0] as number).toFixed(0)} MiB`].join('')
      results.goal(
        text,
        Math.max(...m.peakRss) <= RSS_GOAL_MIB,
        `peak ${m.peakRss.map((r) => r.toFixed(0)).join(' / ')} MiB, at the end ${m.endRss.map((r) => r.toFixed(0)).join(' / ')} MiB (a / b / c; limit 100 MB = ${RSS_GOAL_MIB.toFixed(1)} MiB)${anchors}`,
      )
    }
  }
  results.note(
    `W1: "server" is the process the clients talk to (meridian: region a, which also logs every update to disk and sends it to b and c); ` +
      `the meridian cluster figures count all three regions. Closed loop: each client sends again once all 4 others of its room observed its previous update (window ${CLOSED_LOOP_WINDOW}).`,
  )
  if (failures.length > 0) {
    const error = new Error(`W1 failed:\n${failures.join('\n\n')}`) as Error & { results: WorkloadResults }
    error.results = results
    throw error
  }
  return results
}

/** `npm run bench`'s W1. MERIDIAN_BENCH_W1_SERVERS=meridian (comma-separated) measures some servers only, e.g. to profile one. */
export const w1: Workload = (options) => {
  const only = process.env['MERIDIAN_BENCH_W1_SERVERS']
  const servers = only === undefined || only === '' ? W1_SERVERS : only.split(',').map((s) => s.trim()).filter((s): s is W1Server => (W1_SERVERS as readonly string[]).includes(s))
  return runW1(options, servers)
}

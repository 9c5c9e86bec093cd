/**
 * Real server processes on loopback for integration tests (docs/design.md §9): writes one config per node to
 * a temp dir, spawns `node --import tsx server/cli.ts serve --config …`, waits for readiness, can
 * SIGKILL and restart a node, and always cleans up (every child is killed when the test process exits).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export type Topology = 'mesh' | 'chain' | 'star'

/** A TCP port on 127.0.0.1 that is free now and that nothing else in the test run will take before it is bound. */
export async function freePort(): Promise<number> {
  // A port found free is bound later (often by another process), so it must not be one that anything
  // else may take meanwhile: not an ephemeral port (the kernel hands those to outgoing connections, of
  // which the browser tests make many), and not one another vitest worker may pick. Each worker takes
  // ports from its own block below the ephemeral range (32768 up on Linux).
  const pool = Number(process.env['VITEST_POOL_ID'])
  if (Number.isInteger(pool) && pool >= 0) {
    for (let tries = 0; tries < PORTS_PER_WORKER; tries++) {
      const port = FIRST_WORKER_PORT + (pool % WORKER_BLOCKS) * PORTS_PER_WORKER + (nextPortOffset++ % PORTS_PER_WORKER)
      if ((await listenOnce(port)) !== null) return port
    }
  }
  const port = await listenOnce(0)
  if (port === null) throw new Error('no free port on 127.0.0.1')
  return port
}

const FIRST_WORKER_PORT = 20_000
const PORTS_PER_WORKER = 1_000
const WORKER_BLOCKS = 12
let nextPortOffset = 0

/** Listens on `port` (0: any) and closes again; the port, or null when it is taken. */
function listenOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(null))
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : null
      server.close(() => resolve(bound))
    })
  })
}

/** Neighbours of each node: full mesh, a chain in the given order, or a star around the first node. */
export function neighbours(ids: readonly string[], topology: Topology): Map<string, string[]> {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]))
  const link = (a: string, b: string) => {
    out.get(a)?.push(b)
    out.get(b)?.push(a)
  }
  ids.forEach((a, i) => {
    if (topology === 'mesh') for (const b of ids.slice(i + 1)) link(a, b)
    else if (topology === 'chain' && i > 0) link(ids[i - 1] as string, a)
    else if (topology === 'star' && i > 0) link(ids[0] as string, a)
  })
  return out
}

export interface NodeAddress {
  readonly nodeId: string
  readonly region: string
  readonly port: number
}

/**
 * Config objects for a cluster on loopback. Every node lists every member (needed for chains and
 * stars, harmless for a mesh).
 */
export function clusterConfigs(
  nodes: readonly NodeAddress[],
  topology: Topology,
  base: Record<string, unknown> & { dataDirRoot?: string },
): Map<string, Record<string, unknown>> {
  const { dataDirRoot, ...rest } = base
  const ids = nodes.map((n) => n.nodeId)
  const byId = new Map(nodes.map((n) => [n.nodeId, n]))
  const peersOf = neighbours(ids, topology)
  const out = new Map<string, Record<string, unknown>>()
  for (const node of nodes) {
    out.set(node.nodeId, {
      nodeId: node.nodeId,
      region: node.region,
      host: '127.0.0.1',
      port: node.port,
      ...(dataDirRoot === undefined ? {} : { dataDir: join(dataDirRoot, node.nodeId) }),
      peerSecret: 'test-secret',
      members: ids,
      peers: (peersOf.get(node.nodeId) ?? []).map((id) => {
        const peer = byId.get(id) as NodeAddress
        return {
          nodeId: id,
          region: peer.region,
          url: `ws://127.0.0.1:${peer.port}/peer`,
          httpUrl: `http://127.0.0.1:${peer.port}`,
        }
      }),
      ...rest,
    })
  }
  return out
}

// Every child of this process, killed on exit whatever happens to the tests.
const children = new Set<ChildProcess>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  const killAll = () => {
    for (const child of children) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      killAll()
      // Then die of the signal as if we had not been listening.
      process.off(signal, onSignal)
      process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

export interface ProcessClusterOptions {
  readonly ids?: readonly string[]
  readonly topology?: Topology
  readonly storage?: 'file' | 'memory'
  /** Merged into every node's config. */
  readonly config?: Record<string, unknown>
}

export class ClusterNode {
  child: ChildProcess | null = null
  /** The last lines the process printed, for failure messages. */
  readonly output: string[] = []

  constructor(
    readonly nodeId: string,
    readonly port: number,
    readonly configPath: string,
  ) {}

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/sync`
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null
  }

  tail(lines = 30): string {
    return this.output.slice(-lines).join('\n')
  }
}

/**
 * A cluster of real server processes.
 *
 * @example
 * ```ts
 * const cluster = await ProcessCluster.start({ ids: ['a', 'b', 'c'], topology: 'chain' })
 * afterAll(() => cluster.stop())
 * await fetch(`${cluster.node('a').httpUrl}/v1/notes/n1`, { method: 'PUT', body: '{}' })
 * ```
 */
export class ProcessCluster {
  readonly nodes = new Map<string, ClusterNode>()

  private constructor(readonly dir: string) {}

  static async start(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    installExitHook()
    const ids = options.ids ?? ['a', 'b', 'c']
    const dir = mkdtempSync(join(tmpdir(), 'meridian-cluster-'))
    const cluster = new ProcessCluster(dir)
    try {
      const addresses: NodeAddress[] = []
      for (const id of ids) addresses.push({ nodeId: id, region: `r-${id}`, port: await freePort() })
      const configs = clusterConfigs(addresses, options.topology ?? 'mesh', {
        storage: options.storage ?? 'memory',
        dataDirRoot: join(dir, 'data'),
        heartbeatIntervalMs: 500,
        reconnect: { minDelayMs: 50, maxDelayMs: 500 },
        collections: { notes: { mode: 'crdt', type: 'lww' } },
        ...options.config,
      })
      for (const address of addresses) {
        const path = join(dir, `${address.nodeId}.json`)
        writeFileSync(path, JSON.stringify(configs.get(address.nodeId), null, 2))
        cluster.nodes.set(address.nodeId, new ClusterNode(address.nodeId, address.port, path))
      }
      await Promise.all(ids.map((id) => cluster.launch(id)))
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  node(id: string): ClusterNode {
    const node = this.nodes.get(id)
    if (node === undefined) throw new Error(`no node ${id} in the cluster`)
    return node
  }

  /** Spawns the node's process and waits until /readyz answers 200. */
  async launch(id: string, readyTimeoutMs = 20_000): Promise<void> {
    const node = this.node(id)
    if (node.running) throw new Error(`${id} is already running`)
    // MERIDIAN_SERVER_ENTRY=dist runs the built server, as `npm start` does (benchmarks: no TypeScript
    // loader in the measured process); by default the sources run through tsx.
    const entry = process.env['MERIDIAN_SERVER_ENTRY'] === 'dist' ? ['dist/node/server/cli.js'] : ['--import', 'tsx', 'server/cli.ts']
    // MERIDIAN_SERVER_NODE_ARGS adds Node flags to each server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"
    // to profile a benchmark's servers (NODE_OPTIONS refuses --cpu-prof).
    const nodeArgs = process.env['MERIDIAN_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? []
    const child = spawn(process.execPath, [...nodeArgs, ...entry, 'serve', '--config', node.configPath], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'test' },
    })
    children.add(child)
    node.child = child
    const record = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) node.output.push(line)
      if (node.output.length > 500) node.output.splice(0, node.output.length - 500)
    }
    child.stdout?.on('data', record)
    child.stderr?.on('data', record)
    child.once('exit', () => children.delete(child))
    const deadline = Date.now() + readyTimeoutMs
    for (;;) {
      if (!node.running) throw new Error(`${id} exited during startup (code ${child.exitCode}):\n${node.tail()}`)
      try {
        const response = await fetch(`${node.httpUrl}/readyz`)
        if (response.status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${id} not ready after ${readyTimeoutMs} ms:\n${node.tail()}`)
      await sleep(50)
    }
  }

  /** SIGKILL: no shutdown, nothing flushed that was not flushed already. */
  async kill(id: string): Promise<void> {
    const node = this.node(id)
    const child = node.child
    if (child === null || !node.running) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }

  async restart(id: string): Promise<void> {
    await this.kill(id)
    await this.launch(id)
  }

  /** Polls until every node reports every configured peer `connected`. */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => {
      for (const node of this.nodes.values()) {
        const status = (await (await fetch(`${node.httpUrl}/status`)).json()) as { peers: { state: string }[] }
        if (status.peers.some((peer) => peer.state !== 'connected')) return false
      }
      return true
    }, timeoutMs, 'peers connected')
  }

  /** SIGTERM every node (graceful), SIGKILL what is left after a grace period, remove the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.nodes.values()].map(async (node) => {
        const child = node.child
        if (child === null || !node.running) return
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
        await exited
        clearTimeout(timer)
      }),
    )
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown = null
  for (;;) {
    try {
      if (await check()) return
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === null ? '' : `: ${String(lastError)}`}`)
    }
    await sleep(intervalMs)
  }
}

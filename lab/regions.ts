/**
 * Real region processes on loopback for the lab runs (soak, storm): the built server (dist/, as `npm start`
 * runs it, so the RSS measured is the server's and not a TypeScript loader's), file storage, and — unlike
 * test/helpers/cluster.ts — every peer link through a {@link LinkProxy} in this process, so a run can cut a
 * region off from the others while its clients stay connected to it. Clients talk to the regions directly.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, REPO_ROOT, sleep, waitFor } from '../test/helpers/cluster.js'
import { LinkProxy } from '../test/helpers/link-proxy.js'

export const SERVER_ENTRY = join(REPO_ROOT, 'dist', 'node', 'server', 'cli.js')

/** Exits with a hint when dist/ is missing, as examples/shared/need-build.mjs does for the examples. */
export function needBuild(what: string): void {
  if (!existsSync(SERVER_ENTRY)) {
    process.stderr.write(`${what}: dist/node/server/cli.js is missing; run \`npm run build\` first\n`)
    process.exit(1)
  }
}

export interface RegionsOptions {
  readonly ids: readonly string[]
  /** Merged into every node's config. */
  readonly config: Record<string, unknown>
  /** `dist` (default): the built server, as `npm start` runs it; `source`: server/cli.ts through tsx (tests, no build needed). */
  readonly entry?: 'dist' | 'source'
  /** Extra `node` flags for the region processes, e.g. `--heapsnapshot-signal=SIGUSR2` (see `signal`). */
  readonly nodeArgs?: readonly string[]
}

/** A region's memory as its /metrics reports it (Prometheus default metrics, prefix `meridian_`), in bytes. */
export interface RegionMemory {
  /** V8 heap in use (live objects and garbage not yet collected): `meridian_nodejs_heap_size_used_bytes`. */
  readonly heapUsed: number
  readonly heapTotal: number
  /** V8's old generation in use, where long-lived objects end up (less noisy than heapUsed). */
  readonly oldSpaceUsed: number
  /** Memory outside the V8 heap held by JS objects (Buffers, ArrayBuffers): `meridian_nodejs_external_memory_bytes`. */
  readonly external: number
  readonly rss: number
}

interface Region {
  readonly id: string
  readonly port: number
  readonly configPath: string
  child: ChildProcess | null
  readonly output: string[]
}

export class Regions {
  private readonly regions = new Map<string, Region>()
  /** `a→b`: the proxy a dials to reach b. */
  private readonly proxies = new Map<string, LinkProxy>()
  private readonly cut = new Set<string>()

  private constructor(
    readonly dir: string,
    private readonly entry: readonly string[],
    private readonly nodeArgs: readonly string[],
  ) {}

  static async start(options: RegionsOptions): Promise<Regions> {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-lab-'))
    const regions = new Regions(dir, options.entry === 'source' ? ['--import', 'tsx', join(REPO_ROOT, 'server', 'cli.ts')] : [SERVER_ENTRY], options.nodeArgs ?? [])
    process.on('exit', () => regions.killAllNow())
    // Interrupted (Ctrl-C, a timeout's SIGTERM): take the regions along, then die of the signal.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        regions.killAllNow()
        process.kill(process.pid, signal)
      })
    }
    try {
      const ports = new Map<string, number>()
      for (const id of options.ids) ports.set(id, await freePort())
      for (const from of options.ids) {
        for (const to of options.ids) if (from !== to) regions.proxies.set(`${from}→${to}`, await LinkProxy.start(ports.get(to) as number))
      }
      for (const id of options.ids) {
        const config = {
          nodeId: id,
          region: `r-${id}`,
          host: '127.0.0.1',
          port: ports.get(id),
          storage: 'file',
          dataDir: join(dir, 'data', id),
          peerSecret: 'lab-secret-0123456789',
          members: options.ids,
          peers: options.ids
            .filter((peer) => peer !== id)
            .map((peer) => ({
              nodeId: peer,
              region: `r-${peer}`,
              url: `ws://127.0.0.1:${(regions.proxies.get(`${id}→${peer}`) as LinkProxy).port}/peer`,
              httpUrl: `http://127.0.0.1:${ports.get(peer) as number}`,
            })),
          ...options.config,
        }
        const configPath = join(dir, `${id}.json`)
        writeFileSync(configPath, JSON.stringify(config, null, 2))
        regions.regions.set(id, { id, port: ports.get(id) as number, configPath, child: null, output: [] })
      }
      await Promise.all(options.ids.map((id) => regions.launch(id)))
    } catch (err) {
      await regions.stop()
      throw err
    }
    return regions
  }

  get ids(): string[] {
    return [...this.regions.keys()]
  }

  private region(id: string): Region {
    const region = this.regions.get(id)
    if (region === undefined) throw new Error(`no region ${id}`)
    return region
  }

  httpUrl(id: string): string {
    return `http://127.0.0.1:${this.region(id).port}`
  }

  syncUrl(id: string): string {
    return `ws://127.0.0.1:${this.region(id).port}/sync`
  }

  running(id: string): boolean {
    const child = this.region(id).child
    return child !== null && child.exitCode === null && child.signalCode === null
  }

  pid(id: string): number | undefined {
    return this.running(id) ? this.region(id).child?.pid : undefined
  }

  tail(id: string, lines = 30): string {
    return this.region(id).output.slice(-lines).join('\n')
  }

  /** Resident set size of the region's process in bytes (Linux /proc), NaN when it is not running. */
  rss(id: string): number {
    const pid = this.pid(id)
    if (pid === undefined) return NaN
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      return match === null ? NaN : Number(match[1]) * 1024
    } catch {
      return NaN
    }
  }

  /**
   * The region's memory from its /metrics, or null when it does not answer within `timeoutMs` (down,
   * restarting). A scrape costs the region a few milliseconds; sample every few seconds, not faster.
   */
  async memory(id: string, timeoutMs = 2000): Promise<RegionMemory | null> {
    try {
      const response = await fetch(`${this.httpUrl(id)}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })
      if (response.status !== 200) return null
      const text = await response.text()
      const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN)
      return {
        heapUsed: value(/^meridian_nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m),
        heapTotal: value(/^meridian_nodejs_heap_size_total_bytes(?:\{[^}]*\})? (\S+)/m),
        oldSpaceUsed: value(/^meridian_nodejs_heap_space_size_used_bytes\{space="old"\} (\S+)/m),
        external: value(/^meridian_nodejs_external_memory_bytes(?:\{[^}]*\})? (\S+)/m),
        rss: value(/^meridian_process_resident_memory_bytes(?:\{[^}]*\})? (\S+)/m),
      }
    } catch {
      return null
    }
  }

  /** Sends `signal` to the region's process (e.g. SIGUSR2 with `--heapsnapshot-signal=SIGUSR2`); false when it is not running. */
  signal(id: string, signal: NodeJS.Signals): boolean {
    const child = this.region(id).child
    return this.running(id) && child !== null && child.kill(signal)
  }

  /** Spawns the region's process and waits until /readyz answers 200. */
  async launch(id: string, readyTimeoutMs = 60_000): Promise<void> {
    const region = this.region(id)
    if (this.running(id)) throw new Error(`${id} is already running`)
    const child = spawn(process.execPath, [...this.nodeArgs, ...this.entry, 'serve', '--config', region.configPath], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production' },
    })
    region.child = child
    const record = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) region.output.push(line)
      if (region.output.length > 300) region.output.splice(0, region.output.length - 300)
    }
    child.stdout?.on('data', record)
    child.stderr?.on('data', record)
    const deadline = Date.now() + readyTimeoutMs
    for (;;) {
      if (!this.running(id)) throw new Error(`${id} exited during startup (code ${child.exitCode}):\n${this.tail(id)}`)
      try {
        if ((await fetch(`${this.httpUrl(id)}/readyz`)).status === 200) return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${id} not ready after ${readyTimeoutMs} ms:\n${this.tail(id)}`)
      await sleep(50)
    }
  }

  /** SIGKILL: nothing flushed that was not flushed already. */
  async kill(id: string): Promise<void> {
    const child = this.region(id).child
    if (child === null || !this.running(id)) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }

  /** SIGKILL and relaunch; resolves once the new process is ready. */
  async restart(id: string): Promise<void> {
    await this.kill(id)
    await this.launch(id)
  }

  /** Cuts every peer link between `id` and the other regions (both directions); its clients stay connected to it. */
  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue
      for (const name of [`${id}→${other}`, `${other}→${id}`]) {
        this.proxies.get(name)?.cut('refuse')
        this.cut.add(name)
      }
    }
  }

  heal(): void {
    for (const name of this.cut) this.proxies.get(name)?.heal()
    this.cut.clear()
  }

  /** GET /status of a region, parsed. */
  async status(id: string): Promise<RegionStatus> {
    const response = await fetch(`${this.httpUrl(id)}/status`)
    return (await response.json()) as RegionStatus
  }

  /** Waits until every region reports every peer link connected. */
  async waitConnected(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => {
      for (const id of this.ids) if ((await this.status(id)).peers.some((peer) => peer.state !== 'connected')) return false
      return true
    }, timeoutMs, 'all peer links connected', 100)
  }

  private killAllNow(): void {
    for (const region of this.regions.values()) {
      try {
        region.child?.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM every region (SIGKILL after 5 s), close the proxies, remove the temp dir. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(
      this.ids.map(async (id) => {
        const child = this.region(id).child
        if (child === null || !this.running(id)) return
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }),
    )
    await Promise.allSettled([...this.proxies.values()].map((proxy) => proxy.close()))
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export interface CollectionStatus {
  readonly type: string
  readonly digest: string
  readonly documents: number
  readonly vector: Record<string, number>
}

export interface RegionStatus {
  readonly peers: readonly { readonly state: string }[]
  readonly collections: Record<string, CollectionStatus>
  readonly role: string
  readonly commitIndex: number | null
}

/** Reads an env var as a number ≥ 0, or the fallback. */
export function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback)
  return Number.isFinite(value) && value >= 0 ? value : fallback
}

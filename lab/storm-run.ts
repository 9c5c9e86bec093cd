/**
 * The reconnect storm (issue 14 item 6): `clients` real clients, spread over `workers` processes, connected
 * to one region; the region is SIGKILLed and relaunched; the clients reconnect with their jittered backoff.
 * Measured: whether the region stays up, its RSS (peak before and after the restart), and how long until
 * every client is synced again — synced meaning the write each client made while the region was down is
 * acknowledged (a strict write, w majority of a one-member cluster: fsynced by the region). Bounded by `timeoutS`. `lab/storm.ts` is the command; the smoke test runs it small.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT, sleep } from '../test/helpers/cluster.js'
import { Regions } from './regions.js'
import type { WorkerCommand, WorkerProgress } from './storm-worker.js'

export interface StormOptions {
  readonly clients: number
  readonly workers: number
  /** Clients created per second in all, before the storm (so that the set-up is not a storm already). */
  readonly rampPerS: number
  readonly minDelayMs: number
  readonly maxDelayMs: number
  /** The whole run (connect, restart, resync) gives up after this. */
  readonly timeoutS: number
  readonly log: (line: string) => void
  /** Which server the regions run: lab/regions.ts. */
  readonly entry: 'dist' | 'source'
}

export const STORM_DEFAULTS: StormOptions = {
  clients: 10_000,
  workers: 4,
  rampPerS: 1000,
  minDelayMs: 100,
  maxDelayMs: 5000,
  timeoutS: 600,
  log: (line) => process.stdout.write(`${line}\n`),
  entry: 'dist',
}

export interface StormResult {
  readonly ok: boolean
  readonly failures: readonly string[]
  readonly clients: number
  /** Time to connect every client and have its first write durable, before the storm. */
  readonly setupMs: number
  /** MiB: the region's RSS with every client connected, before the kill; the relaunched region's peak and at the end. */
  readonly rssBeforeMiB: number
  readonly peakRssBeforeMiB: number
  readonly peakRssAfterMiB: number
  readonly rssEndMiB: number
  /** From SIGKILL to the relaunched region answering /readyz. */
  readonly relaunchMs: number
  /** From SIGKILL to every client synced (NaN when not all made it). */
  readonly allSyncedMs: number
  /** From the relaunched region being ready to every client synced. */
  readonly absorbMs: number
  readonly synced: number
  readonly connectedAtEnd: number
  readonly regionStayedUp: boolean
  /** Strict writes answered indeterminate or refused (the region went away), written again. */
  readonly retries: number
  readonly errors: Record<string, number>
}

const MiB = 1024 * 1024

export async function runStorm(partial: Partial<StormOptions> = {}): Promise<StormResult> {
  const o: StormOptions = { ...STORM_DEFAULTS, ...partial }
  const log = o.log
  const failures: string[] = []
  const deadline = Date.now() + o.timeoutS * 1000
  const regions = await Regions.start({
    entry: o.entry,
    ids: ['storm'],
    config: {
      // Strict: no client holds a replica of the collection (see lab/storm-worker.ts).
      collections: { storm: { mode: 'strict' } },
      // Every client comes from 127.0.0.1.
      limits: { maxConnectionsPerIp: 0 },
      groupCommitMaxDelayMs: 2,
    },
  })
  const workers: ChildProcess[] = []
  const progress = new Map<number, WorkerProgress>()
  let sampling = true
  let peak = 0
  const sampler = (async () => {
    while (sampling) {
      const rss = regions.rss('storm')
      if (Number.isFinite(rss)) peak = Math.max(peak, rss)
      await sleep(100)
    }
  })()
  const total = (key: 'created' | 'connected' | 'ready' | 'synced') => [...progress.values()].reduce((sum, p) => sum + p[key], 0)
  const waitUntil = async (what: string, check: () => boolean): Promise<boolean> => {
    let nextLog = Date.now() + 5000
    while (!check()) {
      if (Date.now() > deadline) {
        failures.push(`timed out after ${o.timeoutS} s waiting for ${what} (created ${total('created')}, connected ${total('connected')}, ready ${total('ready')}, synced ${total('synced')})`)
        return false
      }
      if (Date.now() > nextLog) {
        nextLog += 5000
        log(`[storm] ${what}: connected ${total('connected')}, ready ${total('ready')}, synced ${total('synced')}, region RSS ${(regions.rss('storm') / MiB).toFixed(0)} MiB`)
      }
      await sleep(50)
    }
    return true
  }
  try {
    const url = regions.syncUrl('storm')
    for (let w = 0; w < o.workers; w++) {
      const count = Math.floor(o.clients / o.workers) + (w < o.clients % o.workers ? 1 : 0)
      const child = fork(join(REPO_ROOT, 'lab', 'storm-worker.ts'), [], { execArgv: ['--import', 'tsx'], cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      workers.push(child)
      child.on('message', (message: WorkerProgress) => progress.set(w, message))
      const start: WorkerCommand = { type: 'start', url, count, rampPerS: o.rampPerS / o.workers, prefix: `storm-${w}`, minDelayMs: o.minDelayMs, maxDelayMs: o.maxDelayMs }
      child.send(start)
    }
    const setupStarted = Date.now()
    let setupMs = NaN
    let rssBefore = NaN
    let peakBefore = NaN
    let relaunchMs = NaN
    let allSyncedMs = NaN
    let absorbMs = NaN
    let regionStayedUp = true
    if (await waitUntil('clients connecting', () => total('ready') >= o.clients)) {
      setupMs = Date.now() - setupStarted
      rssBefore = regions.rss('storm')
      peakBefore = peak
      log(`[storm] ${o.clients} clients connected and ready in ${setupMs} ms; region RSS ${(rssBefore / MiB).toFixed(0)} MiB; SIGKILL`)
      const killedAt = Date.now()
      await regions.kill('storm')
      for (const child of workers) child.send({ type: 'phase' } satisfies WorkerCommand)
      peak = 0
      await regions.launch('storm')
      relaunchMs = Date.now() - killedAt
      const readyAt = Date.now()
      log(`[storm] relaunched, ready after ${relaunchMs} ms; clients reconnecting`)
      if (await waitUntil('clients resyncing', () => total('synced') >= o.clients || !regions.running('storm'))) {
        if (!regions.running('storm')) {
          regionStayedUp = false
          failures.push(`the region exited during the storm:\n${regions.tail('storm')}`)
        } else {
          allSyncedMs = Date.now() - killedAt
          absorbMs = Date.now() - readyAt
        }
      }
      if (!regions.running('storm')) regionStayedUp = false
      else {
        const health = await fetch(`${regions.httpUrl('storm')}/healthz`).then((r) => r.status, () => 0)
        if (health !== 200) {
          regionStayedUp = false
          failures.push(`/healthz answered ${health} after the storm`)
        }
      }
    }
    await sleep(500)
    const errors: Record<string, number> = {}
    for (const p of progress.values()) for (const [code, n] of Object.entries(p.errors)) errors[code] = (errors[code] ?? 0) + n
    const result: StormResult = {
      ok: failures.length === 0,
      failures,
      clients: o.clients,
      setupMs,
      rssBeforeMiB: rssBefore / MiB,
      peakRssBeforeMiB: peakBefore / MiB,
      peakRssAfterMiB: peak / MiB,
      rssEndMiB: regions.rss('storm') / MiB,
      relaunchMs,
      allSyncedMs,
      absorbMs,
      synced: total('synced'),
      connectedAtEnd: total('connected'),
      regionStayedUp,
      retries: [...progress.values()].reduce((sum, p) => sum + p.retries, 0),
      errors,
    }
    return result
  } finally {
    sampling = false
    await sampler
    await Promise.all(
      workers.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
            child.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            child.send({ type: 'stop' } satisfies WorkerCommand)
          }),
      ),
    )
    await regions.stop()
  }
}

// `npm start` (scripts/start.mjs): configs for three regions, a clear failure when a port is taken, and,
// once the server CLI exists, a real cluster: /healthz on all three, a PUT in one region read back in
// another, dashboard and app pages, and a graceful stop on SIGTERM that leaves no region running.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const startScript = join(root, 'scripts', 'start.mjs')
const serverCliExists = existsSync(join(root, 'server', 'cli.ts')) || existsSync(join(root, 'dist', 'node', 'server', 'cli.js'))

interface PeerConfig {
  nodeId: string
  region: string
  url: string
  httpUrl: string
}
interface NodeConfig {
  nodeId: string
  region: string
  host: string
  port: number
  dataDir: string
  storage: string
  peers: PeerConfig[]
  peerSecret: string
  clientToken: null
  collections: Record<string, { mode: string; type?: string }>
  yjsRoomCollection: string | null
  automergeRepoCollection: string | null
}
interface StartConfigModule {
  clusterConfigs(o: { home: string; host: string; basePort: number; secret: string }): { nodeId: string; port: number; file: string; config: NodeConfig }[]
  writeClusterConfigs(o: { home: string; host: string; basePort: number }): { nodeId: string; port: number; file: string; config: NodeConfig }[]
  loadOrCreateSecret(home: string): string
}

const temps: string[] = []
function tempHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-start-'))
  temps.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
})

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** A base port with base, base+1 and base+2 free on 127.0.0.1. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30_000 + Math.floor(Math.random() * 25_000)
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) return base
  }
  throw new Error('no three consecutive free ports found')
}

interface Started {
  proc: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function runStart(env: Record<string, string>): Started {
  const proc = spawn(process.execPath, [startScript], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return { proc, output: () => out, exited }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers }
}

describe('start-config', () => {
  it('writes a full mesh of three regions in the server config shape, with one persistent secret', async () => {
    const mod = (await import(pathToFileURL(join(root, 'scripts', 'start-config.mjs')).href)) as StartConfigModule
    const home = tempHome()
    const nodes = mod.writeClusterConfigs({ home, host: '127.0.0.1', basePort: 5101 })
    expect(nodes.map((n) => [n.nodeId, n.port])).toEqual([
      ['eu-1', 5101],
      ['us-1', 5102],
      ['ap-1', 5103],
    ])
    const secret = readFileSync(join(home, 'secret'), 'utf8').trim()
    expect(secret.length).toBeGreaterThanOrEqual(16)
    expect(statSync(join(home, 'secret')).mode & 0o077).toBe(0)
    expect(mod.loadOrCreateSecret(home)).toBe(secret)

    for (const node of nodes) {
      const config = JSON.parse(readFileSync(join(home, 'config', `${node.nodeId}.json`), 'utf8')) as NodeConfig
      expect(config).toEqual(node.config)
      expect(Object.keys(config).sort()).toEqual(
        [
          'nodeId', 'region', 'host', 'port', 'dataDir', 'storage', 'peers', 'peerSecret', 'clientToken',
          'collections', 'yjsRoomCollection', 'automergeRepoCollection', 'heartbeatIntervalMs', 'maxFrameBytes', 'reconnect', 'groupCommitMaxDelayMs',
        ].sort(),
      )
      expect(config.dataDir).toBe(join(home, node.nodeId))
      expect(existsSync(config.dataDir)).toBe(true)
      expect(config.storage).toBe('file')
      expect(config.peerSecret).toBe(secret)
      expect(config.yjsRoomCollection).toBe('docs')
      expect(config.automergeRepoCollection).toBe('boards')
      expect(config.collections).toEqual({
        notes: { mode: 'crdt', type: 'lww' },
        docs: { mode: 'crdt', type: 'yjs' },
        boards: { mode: 'crdt', type: 'automerge' },
        accounts: { mode: 'strict' },
        transfers: { mode: 'strict' },
      })
      // Full mesh, and every peer lists this node back with matching addresses.
      expect(config.peers.map((p) => p.nodeId).sort()).toEqual(nodes.map((n) => n.nodeId).filter((id) => id !== node.nodeId).sort())
      for (const peer of config.peers) {
        const other = nodes.find((n) => n.nodeId === peer.nodeId)!
        expect(peer.url).toBe(`ws://127.0.0.1:${other.port}/peer`)
        expect(peer.httpUrl).toBe(`http://127.0.0.1:${other.port}`)
        expect(other.config.peers.some((p) => p.nodeId === node.nodeId)).toBe(true)
      }
    }
    // A second start keeps the secret.
    mod.writeClusterConfigs({ home, host: '127.0.0.1', basePort: 5101 })
    expect(readFileSync(join(home, 'secret'), 'utf8').trim()).toBe(secret)
  })
})

describe('npm start', () => {
  let blocker: Server | undefined
  afterEach(async () => {
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()))
    blocker = undefined
  })

  it('fails with a message naming the port when one is taken', async () => {
    const base = await freeBasePort()
    blocker = createServer()
    await new Promise<void>((resolve) => blocker!.listen({ port: base + 1, host: '127.0.0.1' }, resolve))
    const run = runStart({ MERIDIAN_BASE_PORT: String(base), MERIDIAN_HOME: tempHome() })
    const result = await Promise.race([run.exited, sleep(20_000).then(() => null)])
    if (result === null) run.proc.kill('SIGKILL')
    expect(result).toEqual({ code: 1, signal: null })
    expect(run.output()).toContain(`port ${base + 1}`)
    expect(run.output()).toContain('in use')
  })

  describe.skipIf(!serverCliExists)('three-region cluster', () => {
    let run: Started | undefined
    const pids: number[] = []
    afterAll(() => {
      if (run && run.proc.exitCode === null && run.proc.signalCode === null) run.proc.kill('SIGKILL')
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
    })

    it('starts, replicates a PUT from region 1 to region 3, serves the pages, stops on SIGTERM', async () => {
      const base = await freeBasePort()
      const home = tempHome()
      const started = runStart({ MERIDIAN_BASE_PORT: String(base), MERIDIAN_HOME: home })
      run = started
      const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${base + i}`)
      const ids = ['eu-1', 'us-1', 'ap-1']

      // All three /healthz (the script may build dist/ first).
      let done = false
      void started.exited.then(() => (done = true))
      const deadline = Date.now() + 120_000
      const health: any[] = []
      for (const [i, url] of urls.entries()) {
        for (;;) {
          if (done) throw new Error(`npm start exited early:\n${started.output()}`)
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}/healthz:\n${started.output()}`)
          const r = await getJson(`${url}/healthz`).catch(() => null)
          if (r?.status === 200 && r.body?.ok === true) {
            health[i] = r.body
            break
          }
          await sleep(250)
        }
      }
      expect(health.map((h) => h.nodeId)).toEqual(ids)
      for (const h of health) pids.push(h.pid as number)
      expect(new Set(pids).size).toBe(3)
      expect(existsSync(join(home, 'config', 'eu-1.json'))).toBe(true)
      expect(existsSync(join(home, 'secret'))).toBe(true)

      // PUT in eu-1, read back in ap-1.
      const put = await fetch(`${urls[0]}/v1/notes/n1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'hello' }),
      })
      expect(put.status).toBe(200)
      const replicatedBy = Date.now() + 10_000
      let got: any
      for (;;) {
        got = await getJson(`${urls[2]}/v1/notes/n1`).catch(() => null)
        if (got?.status === 200 && got.body?.doc?.title === 'hello') break
        if (Date.now() > replicatedBy) throw new Error(`not replicated to ap-1: ${JSON.stringify(got?.body)}\n${started.output()}`)
        await sleep(100)
      }
      expect(got.body).toMatchObject({ collection: 'notes', id: 'n1', doc: { title: 'hello' } })

      // /status of every region, readable from any origin (the dashboard polls all of them).
      for (const [i, url] of urls.entries()) {
        const status = await getJson(`${url}/status`)
        expect(status.status).toBe(200)
        expect(status.headers.get('access-control-allow-origin')).toBe('*')
        expect(status.body.nodeId).toBe(ids[i])
      }

      // Dashboard and example app.
      const page = async (path: string) => {
        const res = await fetch(`${urls[0]}${path}`, { signal: AbortSignal.timeout(5000) })
        return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
      }
      const dashboard = await page('/')
      expect(dashboard.status).toBe(200)
      expect(dashboard.type).toContain('text/html')
      expect(dashboard.text).toContain('<title>Meridian dashboard</title>')
      const dashboardJs = await page('/dashboard.js')
      expect(dashboardJs.status).toBe(200)
      expect(dashboardJs.type).toContain('javascript')
      expect(dashboardJs.text).toContain('fetchStatus')
      const app = await page('/app/')
      expect(app.status).toBe(200)
      expect(app.type).toContain('text/html')
      expect(app.text).toContain('<title>Meridian example: todos and a bank</title>')
      const appJs = await page('/app/app.js')
      expect(appJs.status).toBe(200)
      expect(appJs.type).toContain('javascript')
      const bundle = await page('/bundle/meridian-client.js')
      expect(bundle.status).toBe(200)
      expect(bundle.type).toContain('javascript')
      // What the app loads besides the base client, and Automerge's wasm as a file of its own.
      for (const file of ['meridian-strict.js', 'meridian-idb.js']) expect((await page(`/bundle/${file}`)).status).toBe(200)
      const wasm = await page('/bundle/automerge.wasm')
      expect(wasm.status).toBe(200)
      expect(wasm.type).toContain('application/wasm')

      // SIGTERM: the script stops every region and exits 0.
      started.proc.kill('SIGTERM')
      const result = await Promise.race([started.exited, sleep(30_000).then(() => null)])
      expect(result, started.output()).toEqual({ code: 0, signal: null })
      for (const pid of pids) expect(alive(pid), `pid ${pid} still running`).toBe(false)
      expect(started.output()).toContain('all regions stopped')
    }, 240_000)
  })
})

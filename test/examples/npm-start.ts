/**
 * The examples' tests run them as a user would (docs/examples.md): `npm start`'s script (scripts/start.mjs)
 * on free ports with a temporary home, then each Node example as a child process pointed at it with
 * MERIDIAN_BASE_PORT. The examples import Meridian by its package name, which resolves to dist/: the
 * cluster runs dist/ as built (MERIDIAN_SKIP_BUILD=1 when it exists, so that concurrent test files never
 * rebuild it under each other; .ci/run builds before testing).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const REGION_IDS = ['eu-1', 'us-1', 'ap-1'] as const

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/**
 * A base port with base..base+2 free, below the ephemeral range and the blocks test/helpers/cluster.ts
 * hands to vitest workers (20,000 up).
 */
export async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + 3 * Math.floor(Math.random() * 2_500)
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) return base
  }
  throw new Error('no three consecutive free ports found')
}

export interface NpmStart {
  readonly basePort: number
  url(i: number): string
  output(): string
  stop(): Promise<void>
}

/** `npm start` (its script) on free ports; resolves once it printed that the three regions are up. */
export async function npmStart(timeoutMs = 60_000): Promise<NpmStart> {
  const basePort = await freeBasePort()
  const home = mkdtempSync(join(tmpdir(), 'meridian-examples-'))
  const built = existsSync(join(ROOT, 'dist', 'node', 'server', 'cli.js')) && existsSync(join(ROOT, 'dist', 'browser', 'meridian-client.js'))
  const proc: ChildProcess = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs')], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', MERIDIAN_BASE_PORT: String(basePort), MERIDIAN_HOME: home, ...(built ? { MERIDIAN_SKIP_BUILD: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
    await exited
    rmSync(home, { recursive: true, force: true })
  }
  const deadline = Date.now() + timeoutMs
  while (!out.includes('three regions up')) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`npm start did not come up:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return { basePort, url: (i) => `http://127.0.0.1:${basePort + i}`, output: () => out, stop }
}

export interface ExampleRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Runs `npm run example:<name>`'s command (node --import need-build <file> …args), stdin not a terminal. */
export function runExample(file: string, args: readonly string[], env: Record<string, string>, timeoutMs = 60_000): Promise<ExampleRun> {
  const started = Date.now()
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', './examples/shared/need-build.mjs', file, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
    proc.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
}

/**
 * Starts one server in a process of its own for `npm run bench` (an anchor such as y-websocket's or
 * Hocuspocus's, or the raw ws forwarder), waits until its port accepts connections, and reads its CPU
 * and memory from /proc. Anchors run from bench/node_modules, installed by bench/run.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { memoryKib } from '../cluster-probe.js'
import { cpuSeconds } from '../proc-cpu.js'
import { freePort, sleep } from '../../test/helpers/cluster.js'

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')

const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export class AnchorProcess {
  private readonly output: string[] = []

  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    const record = (chunk: Buffer) => {
      this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200)
    }
    child.stdout?.on('data', record)
    child.stderr?.on('data', record)
  }

  /**
   * Runs `node <script> ...args` with PORT and HOST=127.0.0.1 in its environment (and `port` replaced
   * in args by the chosen port); resolves once the port accepts a TCP connection.
   */
  static async start(name: string, script: string, args: readonly string[] = [], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<AnchorProcess> {
    const port = await freePort()
    const child = spawn(process.execPath, [script, ...args.map((a) => (a === '{port}' ? String(port) : a))], {
      cwd: BENCH_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    })
    running.add(child)
    child.once('exit', () => running.delete(child))
    const anchor = new AnchorProcess(name, port, child)
    const deadline = Date.now() + timeoutMs
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new Error(`${name} exited during startup (code ${child.exitCode}):\n${anchor.tail()}`)
      if (Date.now() > deadline) throw new Error(`${name} not listening after ${timeoutMs} ms:\n${anchor.tail()}`)
      await sleep(50)
    }
    return anchor
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** utime + stime so far, in seconds. */
  cpuSeconds(): number {
    return cpuSeconds(this.child.pid)
  }

  /** Resident memory now, in MiB. */
  rssMib(): number {
    return memoryKib(this.child.pid).rss / 1024
  }

  tail(lines = 30): string {
    return this.output.slice(-lines).join('\n')
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    this.child.kill('SIGKILL')
    await exited
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

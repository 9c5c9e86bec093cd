/** The `meridian` command as a real process: exit codes and graceful shutdown. */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, freePort, waitFor } from '../helpers/cluster.js'

const dir = mkdtempSync(join(tmpdir(), 'meridian-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function run(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited, output: () => output }
}

describe('meridian serve (process)', () => {
  it('exits 2 with the JSON path of a bad config', async () => {
    const path = join(dir, 'bad.json')
    writeFileSync(path, JSON.stringify({ nodeId: 'x', region: 'r', storage: 'tape' }))
    const proc = run(['serve', '--config', path])
    expect(await proc.exited).toBe(2)
    expect(proc.output()).toContain('config.storage: expected "file" or "memory", got "tape"')
  })

  it('prints its URLs and exits 0 after SIGTERM', async () => {
    const port = await freePort()
    const path = join(dir, 'ok.json')
    writeFileSync(path, JSON.stringify({ nodeId: 'x', region: 'r', port, storage: 'file', dataDir: join(dir, 'data') }))
    const proc = run(['serve', '--config', path])
    // The peers line is the last one printed, after the signal handlers are in place.
    await waitFor(() => proc.output().includes(`ws://127.0.0.1:${port}/peer`), 15_000, 'the URLs')
    expect(proc.output()).toContain(`http://127.0.0.1:${port}`)
    expect(proc.output()).toContain(`ws://127.0.0.1:${port}/sync`)
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    proc.child.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
  })
})

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { EXIT_OK, EXIT_USAGE, runCli, type CliIo } from '../../server/cli-main.js'

function io() {
  const out: string[] = []
  const err: string[] = []
  const signals = new Map<string, () => void>()
  const value: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), onSignal: (s, h) => signals.set(s, h) }
  return { value, out, err, signals }
}

describe('meridian CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-cli-'))

  it('prints usage for --help', async () => {
    const t = io()
    expect(await runCli(['--help'], t.value)).toEqual({ exitCode: EXIT_OK })
    expect(t.out.join('\n')).toMatch(/usage: meridian serve --config/)
  })

  it('exits 2 on bad usage', async () => {
    for (const argv of [[], ['serve'], ['start', '--config', 'x'], ['serve', '--config'], ['serve', '--bogus']]) {
      const t = io()
      expect(await runCli(argv, t.value)).toEqual({ exitCode: EXIT_USAGE })
      expect(t.err.join('\n')).toMatch(/^meridian: /)
    }
  })

  it('exits 2 with the JSON path on a bad config', async () => {
    const path = join(dir, 'bad.json')
    writeFileSync(path, JSON.stringify({ nodeId: 'a', region: 'r', peers: [{ nodeId: 'b', region: 'r', url: 'http://x', httpUrl: 'http://x' }], peerSecret: 's' }))
    const t = io()
    expect(await runCli(['serve', '--config', path], t.value)).toEqual({ exitCode: EXIT_USAGE })
    expect(t.err.join('\n')).toContain('config.peers[0].url: expected a ws:// URL')
  })

  it('serves, prints its URLs, and shuts down on SIGTERM', async () => {
    const path = join(dir, 'ok.json')
    writeFileSync(path, JSON.stringify({ nodeId: 'cli', region: 'r', port: 0, storage: 'memory' }))
    const t = io()
    const result = await runCli([`--config=${path}`, 'serve'], t.value)
    if ('exitCode' in result) throw new Error(t.err.join('\n'))
    expect(t.out.join('\n')).toContain(result.server.httpUrl)
    expect((await fetch(`${result.server.httpUrl}/healthz`)).status).toBe(200)
    t.signals.get('SIGTERM')?.()
    expect(await result.stopped).toBe(EXIT_OK)
    await expect(fetch(`${result.server.httpUrl}/healthz`)).rejects.toThrow()
  })
})

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, formatStatus, runCli, type CliIo, type StatusLike } from '../../server/cli-main.js'
import type { MeridianServer } from '../../server/server.js'
import type { ReplicaStatus } from '../../server/strict/strict-status.js'
import { freePort, waitFor } from '../helpers/cluster.js'
import { startServer } from './in-process.js'

function io(env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const signals = new Map<string, () => void>()
  // env is explicit so that MERIDIAN_ADMIN_TOKEN / MERIDIAN_URL of the shell running the tests do not leak in.
  const value: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), onSignal: (s, h) => signals.set(s, h), env }
  return { value, out, err, signals }
}

async function run(argv: string[], env: Record<string, string> = {}) {
  const t = io(env)
  const result = await runCli(argv, t.value)
  if (!('exitCode' in result)) throw new Error('expected a one-shot command')
  return { exitCode: result.exitCode, out: t.out.join('\n'), err: t.err.join('\n') }
}

async function role(server: MeridianServer): Promise<string> {
  return ((await (await fetch(`${server.httpUrl}/status`)).json()) as { role: string }).role
}

describe('meridian CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-cli-'))

  it('prints usage for --help', async () => {
    const t = io()
    expect(await runCli(['--help'], t.value)).toEqual({ exitCode: EXIT_OK })
    expect(t.out.join('\n')).toMatch(/usage: meridian serve --config/)
    expect(t.out.join('\n')).toContain('meridian admin promote --url')
    expect(t.out.join('\n')).toContain('meridian admin stepdown --url')
    expect(t.out.join('\n')).toContain('meridian status --url')
  })

  it('exits 2 on bad usage', async () => {
    const cases: [string[], RegExp][] = [
      [[], /missing command/],
      [['serve'], /missing --config/],
      [['start', '--config', 'x'], /unknown command start/],
      [['serve', '--config'], /--config needs a file name/],
      [['serve', '--bogus'], /unknown option --bogus/],
      [['serve', '--config', 'x', '--url', 'http://h'], /--url is not an option of serve/],
      [['status'], /missing --url/],
      [['status', '--url', 'ftp://h'], /expected an http/],
      [['status', '--url', 'http://h', '--token', 't'], /--token is not an option of status/],
      [['status', '--url', 'http://h', '--timeout', 'soon'], /--timeout: expected a positive number/],
      [['admin', '--url', 'http://h'], /admin needs an action/],
      [['admin', 'demote', '--url', 'http://h'], /unknown admin action demote/],
      [['admin', 'promote'], /missing --url/],
      [['admin', 'promote', '--url', 'http://h', 'now'], /unexpected argument now/],
      [['admin', 'stepdown', '--url'], /--url needs a url/],
    ]
    for (const [argv, why] of cases) {
      const t = io()
      expect(await runCli(argv, t.value), argv.join(' ')).toEqual({ exitCode: EXIT_USAGE })
      expect(t.err.join('\n')).toMatch(/^meridian: /)
      expect(t.err.join('\n'), argv.join(' ')).toMatch(why)
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

  describe('admin and status against a running node', () => {
    let open: MeridianServer // adminToken 't'
    let closed: MeridianServer // no admin token: the admin API is off

    beforeAll(async () => {
      ;[open, closed] = await Promise.all([startServer({ nodeId: 'eu-1', region: 'eu', adminToken: 't' }), startServer({ nodeId: 'us-1', region: 'us', adminToken: null })])
      // A single-member cluster elects itself primary at start.
      await waitFor(async () => (await role(open)) === 'primary', 5_000, 'eu-1 primary')
    })
    afterAll(async () => {
      await Promise.all([open?.close(), closed?.close()])
    })

    it('refuses without a configured token (ADMIN_DISABLED) or with a missing or wrong one (UNAUTHORIZED)', async () => {
      const disabled = await run(['admin', 'stepdown', '--url', closed.httpUrl, '--token', 't'])
      expect(disabled.exitCode).toBe(EXIT_FAILURE)
      expect(disabled.err).toMatch(/^meridian: ADMIN_DISABLED: /)

      const missing = await run(['admin', 'stepdown', '--url', open.httpUrl])
      expect(missing.exitCode).toBe(EXIT_FAILURE)
      expect(missing.err).toMatch(/^meridian: UNAUTHORIZED: .*pass --token or set MERIDIAN_ADMIN_TOKEN/)

      const wrong = await run(['admin', 'promote', '--url', open.httpUrl, '--token', 'nope'])
      expect(wrong.exitCode).toBe(EXIT_FAILURE)
      expect(wrong.err).toMatch(/^meridian: UNAUTHORIZED: /)
      expect(wrong.out).toBe('')
      expect(await role(open)).toBe('primary')
    })

    it('steps down and promotes with the token from --token or MERIDIAN_ADMIN_TOKEN', async () => {
      const down = await run(['admin', 'stepdown', '--url', open.httpUrl], { MERIDIAN_ADMIN_TOKEN: 't' })
      expect(down).toMatchObject({ exitCode: EXIT_OK, err: '' })
      expect(down.out).toMatch(/^eu-1 stepped down in epoch \d+; a new primary is being elected$/)
      expect(await role(open)).not.toBe('primary')

      const again = await run(['admin', 'stepdown', '--url', open.httpUrl, '--token', 't'])
      expect(again.exitCode).toBe(EXIT_FAILURE)
      expect(again.err).toMatch(/^meridian: NOT_PRIMARY: eu-1 is not the primary/)

      const up = await run(['admin', 'promote', `--url=${open.httpUrl}/`, '--token=t'])
      expect(up).toMatchObject({ exitCode: EXIT_OK, err: '' })
      const epoch = Number(/^eu-1 is now primary in epoch (\d+)$/.exec(up.out)?.[1])
      expect(epoch).toBeGreaterThan(1)
      expect(await role(open)).toBe('primary')

      const json = await run(['admin', 'promote', '-u', open.httpUrl.replace(/^http:\/\//, ''), '--json'], { MERIDIAN_ADMIN_TOKEN: 't' })
      expect(json.exitCode).toBe(EXIT_OK)
      expect(JSON.parse(json.out)).toEqual({ promoted: true, nodeId: 'eu-1', role: 'primary', epoch, primary: 'eu-1' })
    })

    it('prints a status summary, or the raw JSON', async () => {
      const human = await run(['status'], { MERIDIAN_URL: open.httpUrl })
      expect(human.exitCode).toBe(EXIT_OK)
      expect(human.out).toMatch(/^eu-1 \(eu\): primary, epoch \d+, primary eu-1, commit index \d+/)
      expect(human.out).toContain('replicas: none')

      const json = await run(['status', '--url', open.httpUrl, '--json'])
      expect(json.exitCode).toBe(EXIT_OK)
      expect(JSON.parse(json.out)).toMatchObject({ nodeId: 'eu-1', role: 'primary', primary: 'eu-1' })
    })

    it('exits 3 when the node cannot be reached', async () => {
      const url = `http://127.0.0.1:${await freePort()}`
      for (const argv of [['status', '--url', url], ['admin', 'promote', '--url', url, '--token', 't'], ['admin', 'stepdown', '--url', url, '--token', 't']]) {
        const result = await run(argv)
        expect(result.exitCode, argv.join(' ')).toBe(EXIT_UNREACHABLE)
        expect(result.err).toMatch(/^meridian: cannot reach http:\/\/127\.0\.0\.1:\d+\/(status|admin\/\w+): /)
      }
    })
  })

  it('formats a strict primary with replicas, lag and warnings', () => {
    const status: StatusLike = {
      nodeId: 'eu-1', region: 'eu', role: 'primary', uptimeMs: 65_000, epoch: 4, primary: 'eu-1', commitIndex: 120,
      strict: {
        appliedLsn: 120, durableLsn: 130, lastLsn: 130, lastEpoch: 4, snapshotLsn: 0, degraded: true, pendingWrites: 2,
        sincePrimaryContactMs: null, storageFailed: null,
        replicas: [
          { nodeId: 'us-1', link: 'streaming', syncRole: 'sync', sentLsn: 130, receivedLsn: 130, durableLsn: 130, appliedLsn: 120, lag: { entries: 0, bytes: 0, ms: null }, lastReplyMs: 40 },
          { nodeId: 'ap-1', link: 'catch-up', syncRole: 'quorum', sentLsn: 100, receivedLsn: 90, durableLsn: 80, appliedLsn: 80, lag: { entries: 50, bytes: 4096, ms: 1500 }, lastReplyMs: null },
        ],
      },
      peers: [{ nodeId: 'us-1', state: 'connected', lagEntries: 0 }, { nodeId: 'ap-1', state: 'down', lagEntries: 3 }],
    }
    const lines = formatStatus(status)
    expect(lines[0]).toBe('eu-1 (eu): primary, epoch 4, primary eu-1, commit index 120, up 1m 5s')
    expect(lines[1]).toBe('  log: applied 120, durable 130, last 130 (epoch 4), 2 writes pending')
    expect(lines).toContain('  DEGRADED: semi-sync fell back to local; `one` writes are acknowledged without a replica')
    const us = lines.find((l) => l.trimStart().startsWith('us-1 '))
    const ap = lines.find((l) => l.trimStart().startsWith('ap-1 '))
    expect(us).toMatch(/us-1\s+streaming\s+sync\s+130\s+130\s+130\s+120\s+0\s+0 B\s+idle\s+40 ms ago$/)
    expect(ap).toMatch(/ap-1\s+catch-up\s+quorum\s+100\s+90\s+80\s+80\s+50\s+4\.0 KiB\s+1\.5 s\s+never$/)
    expect(lines.at(-1)).toBe('  peers: us-1 connected, ap-1 down (crdt lag 3)')

    const replica = formatStatus({ nodeId: 'us-1', role: 'replica', epoch: 4, primary: 'eu-1', commitIndex: 120, strict: { sincePrimaryContactMs: 30, replicas: [] } })
    expect(replica).toContain('  last heard from the primary 30 ms ago; not caught up with a primary yet')
    // Cascading: the primary names the relay of a replica; a relay lists its hops; a cascaded replica its relay.
    const cascaded = formatStatus({ ...status, strict: { ...status.strict, replicas: [{ ...(status.strict?.replicas?.[1] as ReplicaStatus), via: 'us-1' }] } })
    expect(cascaded.find((l) => l.includes('ap-1'))).toMatch(/^\s+ap-1 via us-1\s+catch-up/)
    const relay = formatStatus({
      nodeId: 'us-1', role: 'replica', epoch: 4, primary: 'eu-1', commitIndex: 120,
      strict: { upstream: 'eu-1', replicas: [], downstream: [{ nodeId: 'ap-1', sentLsn: 120, matchLsn: 118, durableLsn: 110, appliedLsn: 100, lag: { entries: 10, bytes: 2048, ms: 30 }, lastReplyMs: 5 }] },
    })
    expect(relay).toContain('  relays the log to ap-1: durable 110, 10 behind this node (2.0 KiB, 30 ms old)')
    expect(relay.some((l) => l.includes('streams the log from'))).toBe(false)
    const leaf = formatStatus({ nodeId: 'ap-1', role: 'replica', epoch: 4, primary: 'eu-1', commitIndex: 120, strict: { upstream: 'us-1', replicas: [] } })
    expect(leaf).toContain('  streams the log from us-1 (cascading; the primary is eu-1)')
    expect(formatStatus({ nodeId: 'x', role: 'crdt', changes: 3, clients: 1, strict: null })[0]).toBe('x: crdt, 3 changes, 1 client')
  })
})

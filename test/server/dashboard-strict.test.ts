// The dashboard's strict-mode panel: server/dashboard/dashboard.js builds it with pure functions
// (strictPanel → virtual elements → toHtml), so it is checked here in Node without a DOM.
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MeridianServer } from '../../server/server.js'
import { waitFor } from '../helpers/cluster.js'
import { startServer } from './in-process.js'

interface VNode {
  readonly tag: string
  readonly attrs: Record<string, unknown>
  readonly children: (VNode | string)[]
}
interface Entry {
  nodeId: string
  region?: string
  status: unknown
  error: string | null
  okAt: number | null
}
interface Dashboard {
  strictPanel(entries: Entry[], now?: number): VNode | null
  toHtml(node: VNode | string): string
  mergeStrictEvents(entries: Entry[], limit?: number): { nodeId: string; at: string; kind: string; message: string }[]
}

// A computed specifier: the dashboard is plain browser JavaScript without type declarations.
const dashboardUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'server', 'dashboard', 'dashboard.js')).href
const load = async (): Promise<Dashboard> => (await import(dashboardUrl)) as Dashboard

const NOW = Date.parse('2025-01-01T12:00:10.000Z')

function replica(nodeId: string, over: Record<string, unknown> = {}) {
  return { nodeId, link: 'streaming', syncRole: 'quorum', sentLsn: 130, receivedLsn: 130, durableLsn: 130, appliedLsn: 130, lag: { entries: 0, bytes: 0, ms: null }, lastReplyMs: 40, ...over }
}

function strict(role: string, over: Record<string, unknown> = {}) {
  return {
    role, epoch: 4, primary: 'eu-1', commitIndex: 120, appliedLsn: 120, durableLsn: 130, lastLsn: 130, lastEpoch: 4, snapshotLsn: 0,
    degraded: false, pendingWrites: 0, sincePrimaryContactMs: role === 'primary' ? null : 25, replicas: [], storageFailed: null,
    counters: { rollbackEntries: 0, elections: 1 }, events: [], ...over,
  }
}

function status(nodeId: string, s: ReturnType<typeof strict>) {
  return { nodeId, region: nodeId.slice(0, 2), role: s.role, epoch: s.epoch, primary: s.primary, commitIndex: s.commitIndex, strict: s, peers: [] }
}

const SAMPLE: Entry[] = [
  {
    nodeId: 'eu-1', okAt: NOW, error: null,
    status: status('eu-1', strict('primary', {
      degraded: true,
      replicas: [
        replica('us-1', { syncRole: 'sync' }),
        replica('ap-1', { link: 'catch-up', sentLsn: 100, receivedLsn: 90, durableLsn: 80, appliedLsn: 75, lag: { entries: 50, bytes: 4096, ms: 1500 }, lastReplyMs: null }),
      ],
      events: [
        { at: '2025-01-01T12:00:01.000Z', kind: 'role', message: 'eu-1 became primary in epoch 4' },
        { at: '2025-01-01T12:00:08.000Z', kind: 'degraded', message: 'semi-sync: <no replica> acknowledged' },
      ],
    })),
  },
  {
    nodeId: 'us-1', okAt: NOW, error: null,
    status: status('us-1', strict('replica', { events: [{ at: '2025-01-01T12:00:05.000Z', kind: 'rollback', message: 'rolled back 2 entries' }] })),
  },
  {
    // down now; its last status is still known
    nodeId: 'ap-1', okAt: NOW - 7_000, error: 'timed out',
    status: status('ap-1', strict('candidate', { epoch: 5, events: [{ at: '2025-01-01T12:00:02.000Z', kind: 'role', message: 'ap-1 stands for election in epoch 5' }] })),
  },
  { nodeId: 'zz-9', okAt: null, error: 'Failed to fetch', status: null }, // never answered
]

describe('dashboard strict panel', () => {
  it('is absent without strict nodes', async () => {
    const { strictPanel } = await load()
    expect(strictPanel([{ nodeId: 'a', okAt: NOW, error: null, status: { nodeId: 'a', role: 'crdt', strict: null } }], NOW)).toBeNull()
    expect(strictPanel([{ nodeId: 'a', okAt: null, error: 'down', status: null }], NOW)).toBeNull()
  })

  it('shows roles, epochs, commit index, the degraded flag, replica lag and down nodes', async () => {
    const { strictPanel, toHtml } = await load()
    const panel = strictPanel(SAMPLE, NOW)
    expect(panel).not.toBeNull()
    const html = toHtml(panel as VNode)
    expect(html).toContain('<h2>Strict mode</h2>')
    // role badges
    expect(html).toMatch(/<tr data-node="eu-1" class="degraded"><td>eu-1<\/td><td><span class="pill primary">primary<\/span><\/td><td class="num">4<\/td><td>eu-1<\/td><td class="num">120<\/td>/)
    expect(html).toMatch(/<tr data-node="us-1"><td>us-1<\/td><td><span class="pill replica">replica<\/span>/)
    expect(html).toContain('25 ms ago') // us-1's last contact with the primary
    // degraded: a warning box and a flag in the row
    expect(html).toMatch(/<div class="warn-box degraded">⚠ eu-1 is degraded/)
    expect(html).toContain('<span class="pill degraded" title="semi-sync fell back to local">degraded</span>')
    // a node that is down: badge and its last known role, not an exception
    expect(html).toMatch(/<tr class="down" data-node="ap-1"><td>ap-1<\/td><td><span class="pill down">down<\/span><\/td><td colspan="9" class="muted">unreachable: timed out; last seen 7\.0 s ago as candidate in epoch 5, commit index 120<\/td>/)
    expect(html).toContain('unreachable: Failed to fetch</td>')
    // the replica table of the primary
    expect(html).toContain('<table class="strict-replicas" data-primary="eu-1">')
    const rows = [...html.matchAll(/<tr data-replica="([^"]+)">(.*?)<\/tr>/g)].map((m) => [m[1], m[2]?.replace(/<[^>]+>/g, '|').replace(/\|+/g, '|')])
    expect(rows).toEqual([
      ['us-1', '|us-1|streaming|sync|130|130|130|130|0|0 B|idle|40 ms ago|'],
      ['ap-1', '|ap-1|catch-up|quorum|100|90|80|75|50|4.0 KiB|1.5 s|never|'],
    ])
    expect(html).toContain('<td class="num behind">50</td>')
  })

  it('merges the events of all nodes, newest first, and escapes them', async () => {
    const { strictPanel, toHtml, mergeStrictEvents } = await load()
    expect(mergeStrictEvents(SAMPLE).map((e) => `${e.nodeId} ${e.kind}`)).toEqual(['eu-1 degraded', 'us-1 rollback', 'ap-1 role', 'eu-1 role'])
    expect(mergeStrictEvents(SAMPLE, 2)).toHaveLength(2)
    const html = toHtml(strictPanel(SAMPLE, NOW) as VNode)
    const events = html.slice(html.indexOf('<table class="strict-events">'))
    expect([...events.matchAll(/<tr class="event (\w+)"><td class="num" title="([^"]+)">([^<]+)<\/td><td>([^<]+)<\/td>/g)].map((m) => `${m[4]} ${m[1]} ${m[3]}`)).toEqual([
      'eu-1 degraded 2.0 s ago',
      'us-1 rollback 5.0 s ago',
      'ap-1 role 8.0 s ago',
      'eu-1 role 9.0 s ago',
    ])
    expect(html).toContain('semi-sync: &lt;no replica&gt; acknowledged')
    expect(html).not.toContain('<no replica>')
  })

  it('warns when no reachable node is primary, or when two report primary', async () => {
    const { strictPanel, toHtml } = await load()
    const none = toHtml(strictPanel([SAMPLE[1] as Entry], NOW) as VNode)
    expect(none).toContain('No primary among the reachable nodes')
    expect(none).toContain('No reachable primary')
    const stale: Entry = { nodeId: 'us-1', okAt: NOW, error: null, status: status('us-1', strict('primary', { epoch: 3, primary: 'us-1' })) }
    const two = toHtml(strictPanel([SAMPLE[0] as Entry, stale], NOW) as VNode)
    expect(two).toContain('2 nodes report primary: eu-1 (epoch 4), us-1 (epoch 3). Only eu-1&#39;s epoch can commit; us-1 will step down')
    // the newest epoch's replica table comes first
    expect(two.indexOf('data-primary="eu-1"')).toBeLessThan(two.indexOf('data-primary="us-1"'))
  })

  describe('with a running node', () => {
    let server: MeridianServer
    beforeAll(async () => {
      server = await startServer({ nodeId: 'eu-1', region: 'eu' })
      await waitFor(async () => ((await (await fetch(`${server.httpUrl}/status`)).json()) as { role: string }).role === 'primary', 5_000, 'primary')
    })
    afterAll(async () => {
      await server?.close()
    })

    it('renders the panel from a real /status and serves the panel hooks', async () => {
      const { strictPanel, toHtml } = await load()
      const live = await (await fetch(`${server.httpUrl}/status`)).json()
      const html = toHtml(strictPanel([{ nodeId: 'eu-1', status: live, error: null, okAt: Date.now() }]) as VNode)
      expect(html).toContain('<span class="pill primary">primary</span>')
      expect(html).toContain('<table class="strict-replicas" data-primary="eu-1">')
      expect(html).toContain('no replicas configured')
      expect(html).toContain('<span class="pill role">role</span>') // the election at start

      const page = await (await fetch(`${server.httpUrl}/`)).text()
      expect(page).toContain('<div id="strict"></div>')
      const js = await (await fetch(`${server.httpUrl}/dashboard.js`)).text()
      expect(js).toContain('export function strictPanel')
      expect(js).toContain("getElementById('strict')")
    })
  })
})

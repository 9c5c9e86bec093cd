import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MeridianServer } from '../../server/server.js'
import { acceptedClient, http, startServer } from './in-process.js'

let server: MeridianServer
let base: string

beforeAll(async () => {
  server = await startServer({
    nodeId: 'eu-1',
    region: 'eu',
    peerSecret: 's',
    // A peer that never answers: its link stays down, its lag grows.
    peers: [{ nodeId: 'us-1', region: 'us', url: 'ws://127.0.0.1:9/peer', httpUrl: 'http://127.0.0.1:9' }],
    reconnect: { minDelayMs: 50, maxDelayMs: 100 },
  })
  base = server.httpUrl
})
afterAll(() => server.close())

describe('health, readiness, status, metrics', () => {
  it('GET /healthz', async () => {
    const res = await http(base, 'GET', '/healthz')
    expect(res.status).toBe(200)
    // The node serves the strict `accounts` collection but cannot reach a majority: no primary.
    expect(res.json).toEqual({ ok: true, nodeId: 'eu-1', region: 'eu', role: expect.stringMatching(/^(replica|candidate)$/), pid: process.pid, uptimeMs: expect.any(Number) })
  })

  it('GET /readyz reports storage and peer link states', async () => {
    const res = await http(base, 'GET', '/readyz')
    expect(res.status).toBe(200)
    expect(res.json).toEqual({ ready: true, storageRecovered: true, peers: { 'us-1': expect.stringMatching(/^(connecting|down)$/) } })
  })

  it('GET /status has the contract shape, with CORS for the dashboard', async () => {
    await http(base, 'PUT', '/v1/notes/s1', { a: 1 })
    await http(base, 'PUT', '/v1/notes/s2', { a: 2 })
    const client = await acceptedClient(server.url, 'c-status')
    const res = await http(base, 'GET', '/status')
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.json).toEqual({
      nodeId: 'eu-1',
      region: 'eu',
      role: expect.stringMatching(/^(replica|candidate)$/),
      pid: process.pid,
      uptimeMs: expect.any(Number),
      epoch: expect.any(Number),
      primary: null,
      commitIndex: 0,
      strict: expect.objectContaining({ primary: null, commitIndex: 0, degraded: false, replicas: [], events: expect.any(Array) }),
      vector: { 'eu-1': 2 },
      durableVector: { 'eu-1': 2 },
      replicatedVector: {},
      changes: 2,
      documents: expect.any(Number),
      clients: 1,
      peers: [
        {
          nodeId: 'us-1',
          region: 'us',
          url: 'ws://127.0.0.1:9/peer',
          httpUrl: 'http://127.0.0.1:9',
          state: expect.stringMatching(/^(connecting|down)$/),
          lagEntries: 2,
          lagBytes: expect.any(Number),
          lagMs: expect.any(Number),
          sentChanges: 0,
          receivedChanges: 0,
          lastHeardMs: null,
        },
      ],
      collections: {
        notes: { type: 'lww', digest: expect.stringMatching(/^[0-9a-f]{16}$/), documents: 2, vector: { 'eu-1': 2 }, token: expect.any(String) },
        docs: { type: 'yjs', digest: '0000000000000000', documents: 0, vector: { 'eu-1': 2 }, token: expect.any(String) },
      },
      storage: { kind: 'memory', logRecords: 2, snapshotRounds: expect.any(Number), compactedChanges: 0, stateTransfersSent: 0, stateTransfersReceived: 0 },
    })
    expect(res.json.peers[0].lagBytes).toBeGreaterThan(2 * 20)
    expect(res.json.collections.notes.digest).not.toBe('0000000000000000')
    client.ws.close()
    const preflight = await fetch(`${base}/status`, { method: 'OPTIONS', headers: { origin: 'http://x', 'access-control-request-method': 'GET' } })
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('GET /metrics is Prometheus text with meridian_ metrics', async () => {
    const res = await fetch(`${base}/metrics`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    for (const name of [
      'meridian_changes_applied_total 2',
      'meridian_changes_duplicate_total 0',
      'meridian_conflicts_total 0',
      'meridian_log_changes 2',
      'meridian_fsync_total',
      'meridian_fsync_duration_seconds_bucket',
      'meridian_group_commit_batch_size_bucket',
      'meridian_peer_lag_entries{peer="us-1"} 2',
      'meridian_peer_lag_bytes{peer="us-1"}',
      'meridian_peer_lag_ms{peer="us-1"}',
      'meridian_peer_connected{peer="us-1"} 0',
      'meridian_connected_clients',
      'meridian_bytes_in_total{kind="client"}',
      'meridian_bytes_out_total{kind="client"}',
      'meridian_frames_rejected_total',
      'meridian_rest_writes_total{op="put",ack="local"} 2',
      'meridian_collection_documents{collection="notes"} 2',
      'meridian_collection_documents{collection="docs"} 0',
      'meridian_collection_digest{collection="notes"}',
      'meridian_collection_digest{collection="docs"} 0',
    ]) {
      expect(text).toContain(name)
    }
    for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) expect(line).toMatch(/^meridian_/)
  })

  it('the collection digest is that of the state, not of the history; the metric is its low 48 bits (docs/crdt.md "Divergence digest")', async () => {
    const digest = async (): Promise<string> => (await http(base, 'GET', '/status')).json.collections.notes.digest as string
    const before = await digest()
    await http(base, 'PUT', '/v1/notes/s1', { a: 9 })
    const changed = await digest()
    expect(changed).not.toBe(before)
    await http(base, 'PUT', '/v1/notes/s1', { a: 1 })
    expect(await digest()).toBe(before)
    const text = await (await fetch(`${base}/metrics`)).text()
    const low48 = /meridian_collection_digest\{collection="notes"\} (\d+)/.exec(text)?.[1]
    expect(Number(low48)).toBe(Number(BigInt(`0x${before}`) & 0xffff_ffff_ffffn))
  })

  it('serves the dashboard, the example app and the bundle (or says what is missing)', async () => {
    const home = await fetch(`${base}/`)
    expect(home.status).toBe(200)
    expect(home.headers.get('content-type')).toMatch(/text\/html/)
    expect((await fetch(`${base}/dashboard.js`)).status).toBeOneOf([200, 404])
    const redirect = await fetch(`${base}/app`, { redirect: 'manual' })
    expect(redirect.status).toBe(301)
    expect(redirect.headers.get('location')).toBe('/app/')
    const escape = await fetch(`${base}/app/..%2f..%2fpackage.json`)
    expect(escape.status).toBe(404)
    const bundle = await fetch(`${base}/bundle/meridian-client.js`)
    if (bundle.status === 404) expect(await bundle.text()).toMatch(/run npm run build/)
    else expect(bundle.headers.get('content-type')).toMatch(/javascript/)
    expect((await fetch(`${base}/bundle/other.js`)).status).toBe(404)
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CloseCode, encodeMessage, MessageType, type Message } from '../../core/codec/index.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/index.js'
import type { Change } from '../../core/types.js'
import { createNodeClient } from '../../client/node.js'
import type { ConnectionError } from '../../client/errors.js'
import { parseConfig } from '../../server/config.js'
import { clientFrameBytes } from '../../server/limits.js'
import { BucketsPerAddress } from '../../server/rest-rate-limit.js'
import { silentLogger } from '../../server/logger.js'
import { createServer, type MeridianServer } from '../../server/server.js'
import { FOREIGN_TOO_LARGE } from '../../server/foreign-socket.js'
import { acceptedClient, handshake, http, rawClient, startServer } from './in-process.js'

/**
 * [limits] Issue 14 item 3 (docs/security.md, "Limits"): the client frame limit, REST writes per second
 * per address, and what one client connection can make a region hold.
 */

const MiB = 1024 * 1024
const FRAGMENT = 512 * 1024

async function metricOf(server: MeridianServer, name: string, label: string): Promise<number> {
  const text = (await http(server.httpUrl, 'GET', '/metrics')).json as string
  const escaped = label.replace(/[{}"]/g, (c) => `\\${c}`)
  return Number(new RegExp(`^${name}${escaped} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
}
const refusals = (server: MeridianServer, limit: string) => metricOf(server, 'meridian_limit_refusals_total', `{limit="${limit}"}`)

/**
 * Sends one message in `FRAGMENT`-byte fragments, never the last one, until the socket closes or
 * `upTo` bytes went out: the close code and the bytes sent before it.
 */
async function fragmentsUntilClosed(ws: WebSocket, upTo: number): Promise<{ code: number; sent: number }> {
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  let sent = 0
  let done = false
  void closed.then(() => (done = true))
  const chunk = new Uint8Array(FRAGMENT).fill(7)
  while (!done && sent < upTo) {
    await new Promise<void>((resolve) => ws.send(chunk, { binary: true, fin: false }, () => resolve()))
    sent += FRAGMENT
    await new Promise((r) => setTimeout(r, 5))
  }
  return { code: await closed, sent }
}

function openSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.on('error', () => {})
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
  })
}

/** A client change of `bytes` payload bytes (arbitrary: the frame limits look at sizes only). */
function rawChange(client: string, seq: number, bytes: number): Change {
  return { origin: client, seq, hlc: { wallMs: Date.now(), counter: seq, node: client }, collection: 'notes', docId: `raw-${seq}`, docType: 'lww', payload: new Uint8Array(bytes).fill(1) }
}

/** A client's lww put of `{ v }`, as Meridian's client encodes it. */
function putChange(client: string, seq: number, docId: string, value: Record<string, unknown>): Change {
  return { origin: client, seq, hlc: { wallMs: Date.now(), counter: seq, node: client }, collection: 'notes', docId, docType: 'lww', payload: lwwPutPayload(new LwwReplica({ collection: 'notes', docId }), value) }
}

describe('[limits] config', () => {
  it('maxClientFrameBytes defaults to 8 MiB (following a smaller maxFrameBytes), is 0 or from 4 MiB to maxFrameBytes', () => {
    const base = { nodeId: 'n', region: 'r' }
    expect(clientFrameBytes(parseConfig(base))).toBe(8 * MiB)
    expect(clientFrameBytes(parseConfig({ ...base, maxFrameBytes: 64 * 1024 }))).toBe(64 * 1024)
    expect(clientFrameBytes(parseConfig({ ...base, limits: { maxClientFrameBytes: 0 } }))).toBe(16 * MiB)
    expect(clientFrameBytes(parseConfig({ ...base, limits: { maxClientFrameBytes: 4 * MiB } }))).toBe(4 * MiB)
    expect(() => parseConfig({ ...base, limits: { maxClientFrameBytes: MiB } })).toThrow(/maxClientFrameBytes: must be 0 or from 4194304/)
    expect(() => parseConfig({ ...base, limits: { maxClientFrameBytes: 32 * MiB } })).toThrow(/to maxFrameBytes \(16777216\)/)
    const limits = parseConfig(base).limits
    expect([limits.maxClientGapBytes, limits.maxRestWritesPerSecondPerIp]).toEqual([4 * MiB, 10_000])
  })
})

describe('[limits] client frames', () => {
  let server: MeridianServer
  beforeAll(async () => {
    server = await startServer({
      peerSecret: 'secret',
      collections: { notes: { mode: 'crdt', type: 'lww' }, rooms: { mode: 'crdt', type: 'yjs' }, repo: { mode: 'crdt', type: 'automerge' } },
      yjsRoomCollection: 'rooms',
      automergeRepoCollection: 'repo',
    })
  })
  afterAll(() => server?.close())

  it('a /sync message split into fragments is closed TOO_LARGE as soon as they pass 8 MiB, and counted', async () => {
    const before = [await refusals(server, 'clientFrameBytes'), await metricOf(server, 'meridian_frames_rejected_total', '{reason="TOO_LARGE"}')]
    const client = await acceptedClient(server.url, 'c-fragments')
    const { code, sent } = await fragmentsUntilClosed(client.ws, 16 * MiB)
    expect(code).toBe(CloseCode.TOO_LARGE)
    // Refused at the fragment that passed the limit (one or two more may have been on the wire), never at 16 MiB.
    expect(sent).toBeGreaterThan(8 * MiB)
    expect(sent).toBeLessThanOrEqual(8 * MiB + 3 * FRAGMENT)
    expect(await refusals(server, 'clientFrameBytes')).toBe(before[0] as number + 1)
    expect(await metricOf(server, 'meridian_frames_rejected_total', '{reason="TOO_LARGE"}')).toBe(before[1] as number + 1)
  })

  it('so is one before the handshake, and a /yjs or /automerge one (4413)', async () => {
    const before = await refusals(server, 'clientFrameBytes')
    expect((await fragmentsUntilClosed(await openSocket(server.url), 16 * MiB)).code).toBe(CloseCode.TOO_LARGE)
    const base = server.url.replace(/\/sync$/, '')
    expect((await fragmentsUntilClosed(await openSocket(`${base}/yjs/room-1`), 16 * MiB)).code).toBe(FOREIGN_TOO_LARGE)
    expect((await fragmentsUntilClosed(await openSocket(`${base}/automerge`), 16 * MiB)).code).toBe(FOREIGN_TOO_LARGE)
    expect(await refusals(server, 'clientFrameBytes')).toBe(before + 3)
  })

  it('a peer keeps maxFrameBytes: a 10 MiB fragmented frame on /peer is read whole (then refused as no handshake)', async () => {
    const ws = await openSocket(server.peerUrl)
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    const chunk = new Uint8Array(FRAGMENT).fill(7)
    for (let i = 0; i < 20; i++) ws.send(chunk, { binary: true, fin: i === 19 })
    expect(await closed).toBe(CloseCode.BAD_FRAME)
  })

  // 7 MiB: the size class of one lww put replacing a document of 150,000 small fields (a stamp per field).
  it('a raw client frame of 7 MiB is taken; one of 9 MiB is refused', async () => {
    const fine = await acceptedClient(server.url, 'c-3mib')
    fine.send({ type: MessageType.ChangeBatch, changes: [putChange('c-3mib', 1, 'three', { a: 'x'.repeat(500_000) }), rawChange('c-3mib', 2, 6_500_000)] })
    await expect.poll(async () => (await http(server.httpUrl, 'GET', '/v1/notes/three')).status, { timeout: 3_000 }).toBe(200)
    expect(fine.ws.readyState).toBe(WebSocket.OPEN)
    fine.ws.terminate()
    const over = await acceptedClient(server.url, 'c-5mib')
    over.send({ type: MessageType.ChangeBatch, changes: [rawChange('c-5mib', 1, 9 * MiB)] })
    expect((await over.closed).code).toBe(CloseCode.TOO_LARGE)
  })

  it("Meridian's client writing many values near maxDocumentBytes at once gets them all durable, never closed", async () => {
    const before = await refusals(server, 'clientFrameBytes')
    const errors: ConnectionError[] = []
    const client = createNodeClient({ urls: [server.url], minDelayMs: 50, maxDelayMs: 200 })
    client.onError((e) => errors.push(e))
    try {
      const notes = client.lww<Record<string, unknown>>('notes')
      // ~1,040,000 bytes each, just under maxDocumentBytes (1 MiB): 40 of them, written at once.
      const near = { a: 'a'.repeat(500_000), b: 'b'.repeat(500_000), c: 'c'.repeat(40_000) }
      const handles = Array.from({ length: 40 }, (_, n) => notes.put(`near-${n}`, { ...near, n }))
      await Promise.all(handles.map((h) => h.durable))
      expect(errors).toEqual([])
      expect(client.error).toBeNull()
      const last = (await http(server.httpUrl, 'GET', '/v1/notes/near-39')).json.doc as Record<string, unknown>
      expect([last.n, (last.a as string).length, (last.c as string).length]).toEqual([39, 500_000, 40_000])
      expect(await refusals(server, 'clientFrameBytes')).toBe(before)
    } finally {
      await client.close()
    }
  }, 60_000)
})

describe('[limits] what one client connection can make a region hold', () => {
  let server: MeridianServer
  beforeAll(async () => {
    server = await startServer({ collections: { notes: { mode: 'crdt', type: 'lww' } } })
  })
  afterAll(() => server?.close())

  const gapOf = (client: string) =>
    (server.node.mesh as unknown as { peers: Map<string, { clientGapBytes: number; clientGap: Map<number, unknown> }> }).peers.get(client)

  it("a hostile client's out-of-order changes: at most maxClientGapBytes held, the rest dropped and counted; its gap fills, the buffer empties", async () => {
    const before = await refusals(server, 'clientGapBytes')
    const hostile = await acceptedClient(server.url, 'c-gap')
    // Seqs 2..25 of 600 kB each (14.4 MB), never seq 1, one frame each.
    for (let seq = 2; seq <= 25; seq++) hostile.send({ type: MessageType.ChangeBatch, changes: [rawChange('c-gap', seq, 600_000)] })
    await expect.poll(async () => refusals(server, 'clientGapBytes'), { timeout: 5_000 }).toBeGreaterThan(before)
    await expect.poll(() => gapOf('c-gap')?.clientGap.size, { timeout: 5_000 }).toBeGreaterThan(0)
    const held = gapOf('c-gap')?.clientGapBytes ?? 0
    expect(held).toBeGreaterThan(3 * MiB)
    expect(held).toBeLessThanOrEqual(4 * MiB)
    // 24 sent, 6 held (3.6 MB): 18 dropped.
    await expect.poll(async () => refusals(server, 'clientGapBytes'), { timeout: 5_000 }).toBe(before + 18)
    hostile.send({ type: MessageType.ChangeBatch, changes: [rawChange('c-gap', 1, 100)] })
    await expect.poll(() => server.node.mesh.acceptedFrom('c-gap'), { timeout: 3_000 }).toBe(7)
    expect(gapOf('c-gap')?.clientGapBytes).toBe(0)
    hostile.ws.terminate()
  })

  it('frames sent while a slow authentication decides may take one client frame (8 MiB) in all; more close BAD_FRAME', async () => {
    const slow = await createServer(
      { nodeId: 'slow-auth', region: 'test', port: 0, storage: 'memory', collections: { notes: { mode: 'crdt', type: 'lww' } } },
      { logger: silentLogger, defaultMetrics: false, authenticate: () => new Promise((resolve) => setTimeout(() => resolve({ id: 'u', claims: {}, expiresAtMs: null }), 300)) },
    )
    try {
      const batch = (client: string, seq: number): Message => ({ type: MessageType.ChangeBatch, changes: [rawChange(client, seq, 5 * MiB)] })
      const fine = await rawClient(slow.url)
      fine.send(handshake('c-wait-1', 'client', 't'))
      fine.send(batch('c-wait-1', 1))
      await fine.next((m) => m.type === MessageType.HandshakeAccept)
      const flood = await rawClient(slow.url)
      flood.send(handshake('c-wait-2', 'client', 't'))
      flood.send(batch('c-wait-2', 1))
      flood.send(batch('c-wait-2', 2))
      expect((await flood.closed).code).toBe(CloseCode.BAD_FRAME)
      expect(fine.ws.readyState).toBe(WebSocket.OPEN)
      fine.ws.terminate()
      expect(encodeMessage(batch('x', 1)).length).toBeLessThan(8 * MiB)
    } finally {
      await slow.close()
    }
  })
})

describe('[limits] REST writes per second per IP address', () => {
  it('buckets are per address, forgotten once full again, and never more than the cap', () => {
    const buckets = new BucketsPerAddress(10, 3)
    for (let i = 0; i < 20; i++) expect(buckets.take('a', 0)).toBe(0)
    expect(buckets.take('a', 0)).toBe(100)
    expect(buckets.take('b', 0)).toBe(0)
    expect(buckets.take('a', 100)).toBe(0)
    buckets.take('c', 100)
    buckets.take('d', 100)
    expect(buckets.size).toBe(3)
    // Two seconds idle refill a bucket of 10/s: every one is forgotten.
    buckets.take('e', 2_200)
    expect(buckets.size).toBe(1)
    expect(new BucketsPerAddress(0).take('x', 0)).toBe(0)
  })

  let server: MeridianServer
  beforeAll(async () => {
    server = await startServer({ collections: { notes: { mode: 'crdt', type: 'lww' } }, limits: { maxRestWritesPerSecondPerIp: 5 } })
  })
  afterAll(() => server?.close())

  it('past the rate (bursts of twice it) a write gets 429 with Retry-After and a JSON error, counted; reads are not charged', async () => {
    const before = await refusals(server, 'restWritesPerSecond')
    const statuses: number[] = []
    let refused: Awaited<ReturnType<typeof http>> | null = null
    for (let i = 0; i < 14; i++) {
      const reply = await http(server.httpUrl, 'PUT', `/v1/notes/r-${i}`, { i })
      statuses.push(reply.status)
      if (reply.status === 429) refused = reply
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(10)
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(11)
    expect(statuses.slice(-2)).toEqual([429, 429])
    expect(refused?.headers.get('retry-after')).toBe('1')
    expect(refused?.json.error.code).toBe('TOO_MANY_REQUESTS')
    expect(refused?.json.error.message).toMatch(/limits\.maxRestWritesPerSecondPerIp/)
    expect(await refusals(server, 'restWritesPerSecond')).toBe(before + statuses.filter((s) => s === 429).length)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/r-0')).status).toBe(200)
    await new Promise((r) => setTimeout(r, 450))
    expect((await http(server.httpUrl, 'PUT', '/v1/notes/later', { later: true })).status).toBe(200)
  })
})

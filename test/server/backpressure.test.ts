import { EventEmitter } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CloseCode, MessageType, decodeMessage, encodeMessage, type Message } from '../../core/codec/index.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/index.js'
import type { Change } from '../../core/types.js'
import { ServerConnection } from '../../server/connection.js'
import { LinkFlow } from '../../server/link-flow.js'
import { MemoryStorageAdapter } from '../../core/storage/index.js'
import { parseConfig } from '../../server/config.js'
import { RegionNode } from '../../server/region-node.js'
import { silentLogger } from '../../server/logger.js'
import { ServerMetrics } from '../../server/metrics.js'
import { createServer, type MeridianServer } from '../../server/server.js'
import { waitFor } from '../helpers/cluster.js'
import { acceptedClient, handshake, rawClient, startCluster, startServer } from './in-process.js'
import WebSocket from 'ws'

const SEND_BOUND = 256 * 1024

let server: MeridianServer
let beating: MeridianServer

beforeAll(async () => {
  server = await startServer({ nodeId: 'bp', maxSendBufferBytes: SEND_BOUND, maxFrameBytes: 1024 * 1024, heartbeatIntervalMs: 10_000 })
  beating = await startServer({ nodeId: 'hb', heartbeatIntervalMs: 50 })
})
afterAll(() => Promise.all([server.close(), beating.close()]))

function bigChanges(origin: string, fromSeq: number, count: number, valueBytes: number): Change[] {
  return Array.from({ length: count }, (_, i) => {
    const seq = fromSeq + i
    const replica = new LwwReplica({ collection: 'notes', docId: `d${seq}` })
    return {
      origin,
      seq,
      hlc: { wallMs: Date.now(), counter: seq, node: origin },
      collection: 'notes',
      docId: `d${seq}`,
      docType: 'lww' as const,
      payload: lwwPutPayload(replica, { blob: 'x'.repeat(valueBytes) }),
    }
  })
}

describe('[PF4] bounded per-connection memory', () => {
  it('a region that restarts empty catches up on more than its send bound', async () => {
    const cluster = await startCluster(['a', 'b'], 'mesh', { maxSendBufferBytes: 64 * 1024 })
    try {
      await cluster.waitConnected()
      const a = cluster.server('a')
      const writes = 200
      await Promise.all(Array.from({ length: writes }, (_, i) => a.node.write('put', 'notes', `big-${i}`, { blob: 'y'.repeat(8 * 1024), i }, 'local')))
      const old = cluster.server('b')
      await old.close()
      const fresh = await createServer(old.config, { logger: silentLogger, defaultMetrics: false })
      cluster.servers.set('b', fresh)
      await waitFor(() => (fresh.node.mesh.vector.get('a') ?? 0) === writes, 10_000, 'b caught up')
      expect(fresh.node.read('notes', `big-${writes - 1}`).doc).toMatchObject({ i: writes - 1 })
    } finally {
      await cluster.close()
    }
  })

  it('streams a catch-up larger than the bound one batch at a time to a slow link, without gaps or repeats', async () => {
    const config = parseConfig({ nodeId: 'n', region: 'r', storage: 'memory', maxSendBufferBytes: 2048, collections: { notes: { mode: 'crdt', type: 'lww' } } })
    const metrics = new ServerMetrics({ defaultMetrics: false })
    const node = new RegionNode({ config, storage: new MemoryStorageAdapter(), metrics, logger: silentLogger })
    await node.recover()
    const writes = 1000
    await Promise.all(Array.from({ length: writes }, (_, i) => node.write('put', 'notes', `d${i}`, { i }, 'local')))
    // A link whose socket never drains by itself: the test drains it.
    const slow = { bufferedAmount: 0, maxBuffered: 0, seqs: [] as number[], close() {}, send(bytes: Uint8Array) {
      const message = decodeMessage(bytes)
      if (message.type === MessageType.ChangeBatch) for (const change of message.changes) this.seqs.push(change.seq)
      this.bufferedAmount += bytes.length
      this.maxBuffered = Math.max(this.maxBuffered, this.bufferedAmount)
    } }
    node.attach('slow-client', 'client', slow)
    node.receive('slow-client', { type: MessageType.VersionVector, vector: new Map() })
    expect(node.isPaused('slow-client')).toBe(true)
    expect(slow.seqs.length).toBeLessThan(writes)
    while (slow.seqs.length < writes) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      slow.bufferedAmount = 0
    }
    expect(slow.seqs).toEqual(Array.from({ length: writes }, (_, i) => i + 1))
    // Never more than one batch beyond the high-water mark (256 changes of ~60 bytes).
    expect(slow.maxBuffered).toBeLessThan(1024 + 256 * 80)
    expect(await metrics.registry.getSingleMetricAsString('meridian_link_pauses_total')).toMatch(/kind="client"} [1-9]/)
    await node.close()
  })

  it('a fetch whose states pass the send bound reaches a slow reader whole, on one connection', async () => {
    // Before: the answer was written at once, the connection closed OVERLOADED, and the client reconnected
    // into the same answer (the SDK opening 250 documents of 200 KB against 8 MiB: 152 in 20 s, 22 closes).
    const docs = 64
    await Promise.all(Array.from({ length: docs }, (_, i) => server.node.write('put', 'notes', `open-${i}`, { blob: 'z'.repeat(64 * 1024), i }, 'local')))
    const client = await acceptedClient(server.url, 'slow-reader')
    const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    // 4 MiB of states through a 256 KiB bound, to a reader that takes nothing for a while.
    socket.pause()
    const documents = Array.from({ length: docs }, (_, i) => ({ collection: 'notes', docId: `open-${i}` }))
    client.send({ type: MessageType.Subscribe, id: 1, collections: [], documents, fetchCollections: [], fetchDocuments: documents })
    client.send({ type: MessageType.VersionVector, vector: new Map() })
    await new Promise((resolve) => setTimeout(resolve, 300))
    socket.resume()
    const fetched = await client.next((m) => m.type === MessageType.Fetched, 10_000)
    const states = client.messages.flatMap((m) => (m.type === MessageType.DocumentStates ? m.documents : []))
    expect(fetched).toMatchObject({ fetch: 1, documents: docs })
    expect(new Set(states.map((d) => d.docId)).size).toBe(docs)
    expect(client.ws.readyState).toBe(WebSocket.OPEN)
    client.ws.terminate()
  })

  it('closes a connection with OVERLOADED when an unpaced frame would exceed the bound', () => {
    const fake = Object.assign(new EventEmitter(), {
      readyState: 1,
      bufferedAmount: 1000,
      binaryType: 'nodebuffer',
      sent: [] as Uint8Array[],
      closedWith: null as number | null,
      send(bytes: Uint8Array) {
        this.sent.push(bytes)
      },
      close(code: number) {
        this.closedWith = code
        this.readyState = 2
      },
      terminate() {
        this.readyState = 3
      },
      ping() {},
    })
    const metrics = new ServerMetrics({ defaultMetrics: false })
    const connection = new ServerConnection({
      ws: fake as never,
      kind: 'client',
      label: 'fake',
      maxFrameBytes: 1 << 20,
      maxSendBufferBytes: 2048,
      heartbeatIntervalMs: 60_000,
      metrics,
      logger: silentLogger,
    })
    connection.send(new Uint8Array(500))
    expect(fake.sent).toHaveLength(1)
    connection.send(new Uint8Array(500), true)
    expect(fake.sent).toHaveLength(2)
    connection.send(new Uint8Array(1500))
    expect(fake.sent).toHaveLength(2)
    expect(fake.closedWith).toBe(CloseCode.OVERLOADED)
    expect(connection.isOpen).toBe(false)
  })
})

describe('LinkFlow', () => {
  function setup(highWaterBytes = 100, lowWaterBytes = 50) {
    const transport = { bufferedAmount: 0, frames: [] as { bytes: Uint8Array; paced: boolean }[], send(bytes: Uint8Array, paced = false) { this.frames.push({ bytes, paced }) } }
    const resyncs: Map<string, number>[] = []
    const flow = new LinkFlow({ transport, highWaterBytes, lowWaterBytes, encode: encodeMessage, resync: (v) => resyncs.push(new Map(v)) })
    return { transport, flow, resyncs }
  }
  const batch = (from: number, to: number): Message => ({ type: MessageType.ChangeBatch, changes: bigChanges('w', from, to - from + 1, 4) })

  it('writes batches below the high-water mark, drops them above it, and resyncs from what was written once drained', async () => {
    const { transport, flow, resyncs } = setup()
    flow.observeIncoming({ type: MessageType.VersionVector, vector: new Map([['w', 2], ['other', 7]]) })
    flow.offer(batch(3, 4))
    expect(transport.frames).toHaveLength(1)
    expect(transport.frames[0]?.paced).toBe(true)
    transport.bufferedAmount = 150
    flow.offer(batch(5, 6))
    transport.bufferedAmount = 0
    // Once paused, later batches are dropped too (no gaps at the other side), control frames are not.
    flow.offer(batch(7, 8))
    flow.offer({ type: MessageType.Ack, node: 'x', durable: new Map() })
    expect(flow.isPaused).toBe(true)
    expect(transport.frames.map((f) => decodeMessage(f.bytes).type)).toEqual([MessageType.ChangeBatch, MessageType.Ack])
    await waitFor(() => resyncs.length === 1, 1_000, 'a resync')
    expect(resyncs[0]).toEqual(new Map([['w', 4], ['other', 7]]))
    expect(flow.isPaused).toBe(false)
    flow.stop()
  })

  it('holds document states while the buffer is full, and every frame after them, in order', async () => {
    const { transport, flow, resyncs } = setup()
    const states = (transfer: number): Message => ({ type: MessageType.DocumentStates, transfer, documents: [{ collection: 'notes', docId: `d${transfer}`, docType: 'lww', state: new Uint8Array(40) }] })
    flow.observeIncoming({ type: MessageType.VersionVector, vector: new Map() })
    transport.bufferedAmount = 150
    flow.offer(states(1))
    flow.offer({ type: MessageType.StateCovered, transfer: 1, documents: 1, vector: new Map([['w', 9]]), hlc: { wallMs: 1, counter: 0, node: 'n' }, authors: [], refusals: [] })
    flow.offer(batch(10, 11))
    flow.offer({ type: MessageType.Ack, node: 'x', durable: new Map() })
    // Nothing written while full; the batch is dropped (replayed later), the rest waits in order.
    expect(transport.frames).toHaveLength(0)
    transport.bufferedAmount = 0
    await waitFor(() => resyncs.length === 1, 1_000, 'drained')
    expect(transport.frames.map((f) => decodeMessage(f.bytes).type)).toEqual([MessageType.DocumentStates, MessageType.StateCovered, MessageType.Ack])
    expect(transport.frames[0]?.paced).toBe(true)
    // What the transfer covered counts as delivered: the resync asks only for what follows it.
    expect(resyncs[0]).toEqual(new Map([['w', 9]]))
    flow.stop()
  })

  it('counts what the other side sent as delivered, and stops polling when stopped', async () => {
    const { transport, flow, resyncs } = setup()
    flow.observeIncoming({ type: MessageType.VersionVector, vector: new Map() })
    flow.observeIncoming(batch(1, 5))
    transport.bufferedAmount = 1_000
    flow.offer(batch(1, 1))
    flow.stop()
    transport.bufferedAmount = 0
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(resyncs).toEqual([])
  })
})

describe('heartbeat', () => {
  it('terminates a connection after two missed pongs', async () => {
    const mute = await rawClient(beating.url, { autoPong: false })
    mute.send(handshake('mute', 'client'))
    await mute.next((m) => m.type === MessageType.HandshakeAccept)
    expect(beating.node.isAttached('mute')).toBe(true)
    const started = Date.now()
    const { code } = await mute.closed
    expect(code).toBe(1006)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(beating.node.isAttached('mute')).toBe(false)
  })

  it('keeps a connection that answers pings', async () => {
    const alive = await acceptedClient(beating.url, 'alive')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(beating.node.isAttached('alive')).toBe(true)
    alive.ws.close()
  })
})

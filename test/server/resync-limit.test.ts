import { afterEach, describe, expect, it } from 'vitest'
import { createNodeClient } from '../../client/node.js'
import type { ConnectionError } from '../../client/errors.js'
import { CloseCode, MessageType } from '../../core/codec/index.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/index.js'
import type { Change } from '../../core/types.js'
import type { MeridianServer } from '../../server/server.js'
import { waitFor } from '../helpers/cluster.js'
import { LinkProxy } from '../helpers/link-proxy.js'
import { acceptedClient, startCluster, startServer, type RawClient } from './in-process.js'

/**
 * [PF4] "No input from the network may take a region down": a connection that announces an empty
 * version vector again and again must not make the region resend its log each time.
 */
const MiB = 1024 * 1024
const DOCS = 1200
const BLOB = 4096 // ~5 MB of log
const BUDGET = 8 * MiB // the smallest budget the default send bound (8 MiB) allows

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function server(config: Record<string, unknown> = {}): Promise<MeridianServer> {
  const s = await startServer({ nodeId: 'rl', resyncBudgetBytes: BUDGET, ...config })
  cleanups.push(() => s.close())
  return s
}

async function writeLog(s: MeridianServer): Promise<void> {
  for (let i = 0; i < DOCS; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => s.node.write('put', 'notes', `d${i + j}`, { blob: 'x'.repeat(BLOB), i: i + j }, 'local')))
  }
}

/** A raw client that counts the bytes and changes it receives. */
async function counting(url: string, id: string): Promise<RawClient & { bytes(): number; changes(): number }> {
  const client = await acceptedClient(url, id)
  let bytes = 0
  client.ws.on('message', (data: Buffer) => {
    bytes += data.length
  })
  cleanups.push(() => client.ws.terminate())
  return Object.assign(client, {
    bytes: () => bytes,
    changes: () => client.messages.reduce((n, m) => n + (m.type === MessageType.ChangeBatch ? m.changes.length : 0), 0),
  })
}

/**
 * Announces an empty vector, waits for the answer (or the close), `rounds` times. Returns the bytes
 * received and the close code (null when still open).
 */
async function announceEmptyRepeatedly(client: Awaited<ReturnType<typeof counting>>, logChanges: number, rounds: number): Promise<{ bytes: number; code: number | null; rounds: number }> {
  let code: number | null = null
  void client.closed.then((c) => (code = c.code))
  let done = 0
  for (; done < rounds && code === null; done++) {
    const expected = client.changes() + logChanges
    client.send({ type: MessageType.VersionVector, vector: new Map() })
    await waitFor(() => client.changes() >= expected || code !== null, 20_000, `round ${done + 1} answered or closed`, 5)
  }
  if (code === null) await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 100))])
  return { bytes: client.bytes(), code, rounds: done }
}

async function metric(s: MeridianServer, name: string): Promise<number> {
  const text = await s.metrics.registry.getSingleMetricAsString(name)
  return [...text.matchAll(/^\S+\{[^}]*\} (\d+(?:\.\d+)?)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
}

describe('[IN3] [PF4] resync budget: a connection cannot make the region resend its log over and over', () => {
  it('closes a client that announces an empty vector again and again with RESYNC_LIMIT; what it is sent stays within ~2× the log', async () => {
    const s = await server()
    await writeLog(s)
    const log = s.node.mesh.changeCount
    const attacker = await counting(s.url, 'flooder')
    const result = await announceEmptyRepeatedly(attacker, log, 20)
    const logBytes = result.bytes / 2 // the first (free) catch-up and the one resend the budget allowed
    console.log(`resync limit on: ${result.rounds} announcements, ${(result.bytes / MiB).toFixed(1)} MiB received for a ${(logBytes / MiB).toFixed(1)} MiB log, closed ${result.code}`)
    expect(result.code).toBe(CloseCode.RESYNC_LIMIT)
    expect(attacker.messages.some((m) => m.type === MessageType.Error && m.code === 'RESYNC_LIMIT')).toBe(true)
    // ~5 MB log, 8 MiB budget: the first catch-up is free, one resend fits, the third announcement is refused.
    expect(result.rounds).toBe(3)
    expect(result.bytes).toBeLessThan(3 * 5.2 * MiB)
    expect(await metric(s, 'meridian_connections_resync_limited_total')).toBe(1)
    expect(await metric(s, 'meridian_frames_rejected_total')).toBe(1)
    expect(s.node.isAttached('flooder')).toBe(false)
  })

  it('without a binding budget the same client is sent the whole log every time (the amplification it prevents)', async () => {
    const s = await server({ resyncBudgetBytes: Number.MAX_SAFE_INTEGER })
    await writeLog(s)
    const attacker = await counting(s.url, 'flooder')
    const first = await announceEmptyRepeatedly(attacker, s.node.mesh.changeCount, 1)
    const result = await announceEmptyRepeatedly(attacker, s.node.mesh.changeCount, 9)
    console.log(`resync limit off: 10 announcements, ${(result.bytes / MiB).toFixed(1)} MiB received for a ${(first.bytes / MiB).toFixed(1)} MiB log`)
    expect(result.code).toBeNull()
    expect(result.bytes).toBeGreaterThan(9 * first.bytes)
  })

  it('a client that wrote the log itself is sent none of it back, only Skipped runs, however often it announces empty', async () => {
    const s = await server()
    const writer = await counting(s.url, 'self-writer')
    const changes: Change[] = Array.from({ length: DOCS }, (_, i) => ({
      origin: 'self-writer',
      seq: i + 1,
      hlc: { wallMs: Date.now(), counter: i, node: 'self-writer' },
      collection: 'notes',
      docId: `w${i}`,
      docType: 'lww' as const,
      payload: lwwPutPayload(new LwwReplica({ collection: 'notes', docId: `w${i}` }), { blob: 'y'.repeat(BLOB) }),
    }))
    writer.send({ type: MessageType.VersionVector, vector: new Map() })
    for (let i = 0; i < changes.length; i += 100) writer.send({ type: MessageType.ChangeBatch, changes: changes.slice(i, i + 100) })
    await waitFor(() => s.node.mesh.acceptedFrom('self-writer') === DOCS, 10_000, 'the log written')
    // The region logged them under its own origin with the writer as author; the writer's position moves
    // over them as Skipped runs (its seqs of the region's origin must stay dense), never their payloads.
    await waitFor(() => writer.messages.some((m) => m.type === MessageType.Skipped), 10_000, 'positions moved')
    expect(writer.changes()).toBe(0)
    for (let round = 0; round < 20; round++) writer.send({ type: MessageType.VersionVector, vector: new Map() })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(writer.changes()).toBe(0)
    expect(writer.bytes()).toBeLessThan(64 * 1024)
  })

  it('never closes honest clients: re-announcing what they hold, or reconnecting, costs nothing', async () => {
    const s = await server()
    await writeLog(s)
    const log = s.node.mesh.changeCount

    // A raw client that re-announces its true vector (as after a gap) again and again.
    const honest = await counting(s.url, 'honest-raw')
    honest.send({ type: MessageType.VersionVector, vector: new Map() })
    await waitFor(() => honest.changes() >= log, 10_000, 'caught up')
    const holds = new Map(s.node.mesh.vector)
    for (let i = 0; i < 50; i++) honest.send({ type: MessageType.VersionVector, vector: holds })

    // The client library, through a proxy that drops the connection now and then, writing meanwhile.
    const proxy = await LinkProxy.start(s.port)
    cleanups.push(() => proxy.close())
    const client = createNodeClient({ urls: [`ws://127.0.0.1:${proxy.port}`], minDelayMs: 5, maxDelayMs: 50 })
    cleanups.push(() => client.close())
    const errors: ConnectionError[] = []
    client.onError((e) => errors.push(e))
    const notes = client.lww<{ n: number }>('notes')
    await waitFor(() => (client.vector.get('rl') ?? 0) >= DOCS, 20_000, 'the client caught up')
    for (let round = 0; round < 5; round++) {
      await notes.put(`c${round}`, { n: round }).durable
      proxy.cut()
      proxy.heal()
      await waitFor(() => client.status === 'connected', 5_000, 'reconnected')
    }
    await waitFor(() => s.node.isAttached(client.clientId), 5_000, 'attached')
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.filter((e) => e.code === 'RESYNC_LIMIT')).toEqual([])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(s.node.isAttached('honest-raw')).toBe(true)
    expect(await metric(s, 'meridian_connections_resync_limited_total')).toBe(0)
    expect(await metric(s, 'meridian_resync_bytes_total')).toBe(0)
  })

  it('never closes an honest peer: anti-entropy during a large catch-up is charged only what was in flight', async () => {
    const cluster = await startCluster(['a', 'b'], 'chain', { maxSendBufferBytes: 256 * 1024, resyncBudgetBytes: BUDGET })
    cleanups.push(() => cluster.close())
    await cluster.waitConnected()
    const a = cluster.server('a')
    const b = cluster.server('b')
    await writeLog(a)
    // b re-announces its vector (what its 30 s anti-entropy timer does) while a streams the log to it:
    // three times within the catch-up, more often than the timer ever would.
    await waitFor(() => (b.node.mesh.vector.get('a') ?? 0) > 0, 10_000, 'the catch-up started', 1)
    for (let i = 0; i < 3 && (b.node.mesh.vector.get('a') ?? 0) < DOCS; i++) {
      b.node.mesh.antiEntropy()
      await new Promise((resolve) => setTimeout(resolve, 15))
    }
    await waitFor(() => (b.node.mesh.vector.get('a') ?? 0) === DOCS, 20_000, 'b caught up')
    const charged = await metric(a, 'meridian_resync_bytes_total')
    console.log(`honest peer: 3 anti-entropy announcements during a catch-up were charged ${(charged / MiB).toFixed(2)} MiB`)
    expect(await metric(a, 'meridian_connections_resync_limited_total')).toBe(0)
    expect(a.peers.snapshot().every((p) => p.state === 'connected')).toBe(true)
  })

  it('[SG3] closes a client that makes a compacted region send its documents again and again; a first state transfer is free', async () => {
    const s = await server({ snapshotEveryChanges: 100, snapshotIntervalMs: 20 })
    await writeLog(s)
    await waitFor(() => s.node.mesh.changeCount === 0, 10_000, 'the log compacted')
    const attacker = await counting(s.url, 'state-flooder')
    let code: number | null = null
    void attacker.closed.then((c) => (code = c.code))
    const covered = () => attacker.messages.filter((m) => m.type === MessageType.StateCovered).length
    let rounds = 0
    for (; rounds < 20 && code === null; rounds++) {
      const before = covered()
      attacker.send({ type: MessageType.VersionVector, vector: new Map() })
      await waitFor(() => covered() > before || code !== null, 20_000, `transfer ${rounds + 1} or the close`, 5)
    }
    await Promise.race([attacker.closed, new Promise((resolve) => setTimeout(resolve, 200))])
    expect(code).toBe(CloseCode.RESYNC_LIMIT)
    // The documents (~5 MB) once for free, then at most the 8 MiB budget again.
    expect(attacker.bytes()).toBeLessThan(DOCS * BLOB + BUDGET + MiB)
    expect(await metric(s, 'meridian_connections_resync_limited_total')).toBeGreaterThanOrEqual(1)
  }, 60_000)
})

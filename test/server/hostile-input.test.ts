/**
 * "No input from the network may take a region down" (docs/server.md, Input that cannot take a node
 * down): what a client sends over /sync costs at most that message, that write or that connection.
 * Each test reproduces a way a client could crash, stall or misclose a node before its fix (the
 * findings are in the commit messages); crdt payloads are also covered library by library in
 * test/core/crdt/hostile-payloads.test.ts.
 */
import * as Automerge from '@automerge/automerge'
import * as encoding from 'lib0/encoding'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CloseCode, MessageType, decodeMessage, type Message, type StrictWriteResultMessage } from '../../core/codec/index.js'
import type { DocumentOp, StrictWriteReply, WriteOp } from '../../core/strict/index.js'
import { AutomergeReplica, automergeEdit } from '../../core/crdt/automerge.js'
import { encodeLwwPayload } from '../../core/crdt/lww-payload.js'
import { YjsReplica, yjsEdit } from '../../core/crdt/yjs.js'
import type { Change, DocType } from '../../core/types.js'
import { assertLwwValue } from '../../core/crdt/lww-payload.js'
import { InvalidValueError } from '../../core/values/storable-value.js'
import { MemoryStorageAdapter } from '../../core/storage/index.js'
import { parseConfig } from '../../server/config.js'
import { silentLogger } from '../../server/logger.js'
import { ServerMetrics } from '../../server/metrics.js'
import { RegionNode } from '../../server/region-node.js'
import type { MeridianServer } from '../../server/server.js'
import { COLLECTIONS, FAST_STRICT, acceptedClient, http, primaryOf, startCluster, startServer, type InProcessCluster, type RawClient } from './in-process.js'

const HOSTILE_COLLECTIONS = { ...COLLECTIONS, boards: { mode: 'crdt', type: 'automerge' } } as const

function change(origin: string, seq: number, collection: string, docId: string, docType: DocType, payload: Uint8Array): Change {
  return { origin, seq, hlc: { wallMs: Date.now(), counter: seq, node: origin }, collection, docId, docType, payload }
}

/** Process warnings (TimeoutOverflowWarning …) emitted while `during` runs. */
async function warningsDuring(during: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const listener = (warning: Error) => seen.push(`${warning.name}: ${warning.message}`)
  process.on('warning', listener)
  try {
    await during()
  } finally {
    process.off('warning', listener)
  }
  return seen
}

describe('[IN2] a client over /sync', () => {
  let server: MeridianServer

  beforeAll(async () => {
    server = await startServer({ collections: HOSTILE_COLLECTIONS, ...FAST_STRICT })
  })
  afterAll(async () => {
    await server.close()
  })

  it('sends malformed and hostile Yjs and Automerge changes: refused one by one, the stream and every other document go on', async () => {
    const client = await acceptedClient(server.url, 'c-crdt')
    // 8 bytes announcing 33 million structs (Yjs preallocated for them: ~1 s and 268 MB each).
    const claim = encoding.createEncoder()
    for (const n of [1, 33_554_431, 1, 0]) encoding.writeVarUint(claim, n)
    // One Automerge change nesting 10 000 maps (~20 KB): ~45 s of patching, then "Module terminated".
    const backend = Automerge.getBackend(Automerge.init<Record<string, unknown>>({ actor: 'aa' }))
    let obj = '_root'
    for (let i = 0; i < 10_000; i++) obj = backend.putObject(obj, 'c', {})
    backend.commit('', 0)
    const deep = backend.getLastLocalChange() as Uint8Array
    const yjsGood = yjsEdit(new YjsReplica({ collection: 'docs', docId: 'y', random: Math.random }), (doc) => doc.getMap('root').set('ok', 1))
    const amGood = automergeEdit<Record<string, unknown>>(new AutomergeReplica({ collection: 'boards', docId: 'a', localOrigin: 'c-crdt', random: Math.random }), (d) => {
      d.ok = 1
    })
    const rejectedBefore = server.node.mesh.stats.rejectedPayloads
    const started = performance.now()
    client.send({
      type: MessageType.ChangeBatch,
      changes: [
        change('c-crdt', 1, 'docs', 'bad', 'yjs', encoding.toUint8Array(claim)),
        change('c-crdt', 2, 'docs', 'bad', 'yjs', Uint8Array.of(1, 2, 3)),
        change('c-crdt', 3, 'boards', 'bad', 'automerge', Uint8Array.of(0x85, 0x6f, 0x4a, 0x83, 1, 2, 3)),
        change('c-crdt', 4, 'boards', 'deep', 'automerge', deep),
        change('c-crdt', 5, 'docs', 'y', 'yjs', yjsGood),
        change('c-crdt', 6, 'boards', 'a', 'automerge', amGood),
      ],
    })
    await expect.poll(async () => (await http(server.httpUrl, 'GET', '/v1/boards/a')).json.doc, { timeout: 10_000 }).toEqual({ ok: 1 })
    expect(performance.now() - started).toBeLessThan(10_000)
    expect((await http(server.httpUrl, 'GET', '/v1/docs/y')).json.doc).toEqual({ root: { ok: 1 }, text: '' })
    expect(server.node.mesh.stats.rejectedPayloads - rejectedBefore).toBe(3)
    // Kept in the log (seqs stay dense), not applied; the connection is still up.
    expect(server.node.mesh.acceptedFrom('c-crdt')).toBe(6)
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    // The 10 000-level document exists; reading it is this document's problem only (200, or 500 logged).
    expect([200, 500]).toContain((await http(server.httpUrl, 'GET', '/v1/boards/deep')).status)
    expect((await http(server.httpUrl, 'GET', '/healthz')).status).toBe(200)
    client.ws.close()
  })

  it('[IN1][SG3] sends a state transfer (forged document states and a covered vector): closed FORBIDDEN, nothing merged or claimed', async () => {
    for (const message of [
      { type: MessageType.DocumentStates, transfer: 1, documents: [{ collection: 'notes', docId: 'forged', docType: 'lww', state: Uint8Array.of(1, 0, 0) }] },
      { type: MessageType.StateCovered, transfer: 1, documents: 0, vector: new Map([['someone-else', 1_000_000]]), hlc: { wallMs: Date.now(), counter: 0, node: 'x' }, authors: [], refusals: [] },
    ] as Message[]) {
      const client = await acceptedClient(server.url, `forger-${message.type}`)
      client.send(message)
      expect((await client.closed).code).toBe(CloseCode.FORBIDDEN)
    }
    expect((await http(server.httpUrl, 'GET', '/v1/notes/forged')).status).toBe(404)
    expect(server.node.mesh.vector.get('someone-else')).toBeUndefined()
  })

  it('gets its invalid value refused INVALID_VALUE, typed, even when the explanation would be cut inside a surrogate pair', async () => {
    // The refusal explains itself; cutting the message to a length could leave half an emoji, which
    // the codec refuses to encode: the answer then failed inside the mesh (it once closed the
    // connection BAD_FRAME as a handler error instead).
    let field = ''
    let value: unknown = null
    let message = ''
    const key = '😀'.repeat(32)
    for (let pad = 1; pad < 8 && !/[\uD800-\uDBFF]/.test(message.charAt(199)); pad++) {
      field = 'x'.repeat(pad)
      value = { [key]: { [key]: { [key]: Infinity } } }
      try {
        assertLwwValue(value, field)
      } catch (err) {
        if (!(err instanceof InvalidValueError)) throw err
        message = err.message
      }
    }
    expect(message.charAt(199)).toMatch(/[\uD800-\uDBFF]/)
    const client = await acceptedClient(server.url, 'c-emoji')
    // Refusals are told where the client's stream reaches them: it must have announced its position.
    client.send({ type: MessageType.VersionVector, vector: new Map() })
    const payload = encodeLwwPayload({ kind: 'write', writes: [{ field, deleted: false, value, base: null }] })
    // The refusal's explanation is cut at 500: field 'xx' and eight levels of emoji keys put half a pair there.
    let deep: unknown = Infinity
    for (let level = 0; level < 8; level++) deep = { [key]: deep }
    const cut = encodeLwwPayload({ kind: 'write', writes: [{ field: 'xx', deleted: false, value: deep, base: null }] })
    client.send({ type: MessageType.ChangeBatch, changes: [change('c-emoji', 1, 'notes', 'n', 'lww', payload), change('c-emoji', 2, 'notes', 'n2', 'lww', cut)] })
    const rejected = () => client.messages.filter((m): m is Extract<Message, { type: typeof MessageType.Rejected }> => m.type === MessageType.Rejected)
    await expect.poll(() => rejected().length).toBe(2)
    expect(rejected().map((m) => [m.seqs, m.code, m.state])).toEqual([
      [[1], 'INVALID_VALUE', null],
      [[2], 'INVALID_VALUE', null],
    ])
    expect(rejected()[1]?.message).toHaveLength(500)
    expect(rejected()[1]?.message.endsWith('\uFFFD')).toBe(true)
    // Nothing applied, both seqs taken (void), and the connection is still up.
    expect(server.node.mesh.acceptedFrom('c-emoji')).toBe(2)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/n')).status).toBe(404)
    expect((await http(server.httpUrl, 'GET', '/v1/notes/n2')).status).toBe(404)
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    client.ws.close()
  })

  it('sends a change stamped with the largest counter there is: REST writes go on and nothing unencodable is logged', async () => {
    // Before: the node's clock adopted counter 2^53 - 1 and added one; every REST write for the next
    // 5 s answered 500 after logging a change that cannot be encoded, and the next flush sent it to a
    // client: an uncaught RangeError in setImmediate, the end of the process (and of every region the
    // poisoned timestamp was forwarded to).
    const reader = await acceptedClient(server.url, 'c-reader')
    reader.send({ type: MessageType.VersionVector, vector: new Map() })
    const client = await acceptedClient(server.url, 'c-hlc')
    const payload = encodeLwwPayload({ kind: 'write', writes: [{ field: 'a', deleted: false, value: 1, base: null }] })
    const poisoned = change('c-hlc', 1, 'notes', 'hlc-1', 'lww', payload)
    client.send({ type: MessageType.ChangeBatch, changes: [{ ...poisoned, hlc: { wallMs: Date.now() + 5_000, counter: Number.MAX_SAFE_INTEGER, node: 'c-hlc' } }] })
    await expect.poll(() => server.node.mesh.acceptedFrom('c-hlc')).toBe(1)
    for (const id of ['hlc-2', 'hlc-3']) {
      const put = await http(server.httpUrl, 'PUT', `/v1/notes/${id}`, { b: id })
      expect(put.status).toBe(200)
      expect(put.json.ack).toBe('local')
    }
    await reader.next((m) => m.type === MessageType.ChangeBatch && m.changes.some((c) => c.docId === 'hlc-3'))
    const own = server.node.mesh.changeAt('solo', server.node.mesh.vector.get('solo') ?? 0)
    expect(Number.isSafeInteger(own?.hlc.counter)).toBe(true)
    expect((await http(server.httpUrl, 'GET', '/status')).status).toBe(200)
    client.ws.close()
    reader.ws.close()
  })

  it('asks for a strict read with a timeout beyond what a timer holds: no TimeoutOverflowWarning, no 1 ms polling', async () => {
    const client = await acceptedClient(server.url, 'c-timeout')
    const warnings = await warningsDuring(async () => {
      client.send({
        type: MessageType.StrictRead,
        requestId: 1,
        request: { collection: 'accounts', id: 'x', after: { epoch: 1, lsn: 1_000_000 }, read: 'primary', maxStalenessMs: null, timeoutMs: 1e300 },
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
    })
    expect(warnings.filter((w) => w.startsWith('TimeoutOverflowWarning'))).toEqual([])
    client.ws.close()
  })
})

describe('[IN2] a region node', () => {
  it('refuses a write whose change could not be encoded before it is logged: nothing is left for the replication loop to trip on', async () => {
    // A wall clock past the safe integers stands for "somehow": the change cannot be encoded. Before,
    // it entered the log, the write failed while persisting it, and the next propagation to a link
    // threw from setImmediate (the process's end).
    const config = parseConfig({ nodeId: 'n', region: 'r', storage: 'memory', collections: { notes: { mode: 'crdt', type: 'lww' } } })
    const node = new RegionNode({ config, storage: new MemoryStorageAdapter(), metrics: new ServerMetrics({ defaultMetrics: false }), logger: silentLogger, wallClock: () => 2 ** 53 + 2 })
    await node.recover()
    const sent: Uint8Array[] = []
    node.attach('c1', 'client', { bufferedAmount: 0, send: (bytes) => void sent.push(bytes), close() {} })
    node.receive('c1', { type: MessageType.VersionVector, vector: new Map() })
    await expect(node.write('put', 'notes', 'd', { a: 1 }, 'local')).rejects.toThrow(RangeError)
    expect(node.mesh.vector.get('n')).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(sent.map((bytes) => decodeMessage(bytes).type)).not.toContain(MessageType.ChangeBatch)
    await node.close()
  })
})

describe('[IN2] a client of a strict cluster', () => {
  let cluster: InProcessCluster
  let primary: string
  const LIMITS = { maxFrameBytes: 65_536, values: { maxDocumentBytes: 16_384 } }

  beforeAll(async () => {
    cluster = await startCluster(['a', 'b', 'c'], 'mesh', { ...FAST_STRICT, ...LIMITS })
    await cluster.waitConnected()
    primary = await primaryOf(cluster)
  })
  afterAll(async () => {
    await cluster.close()
  })

  const tooLargeAtReplicas = async (): Promise<number> => {
    let total = 0
    for (const id of ['a', 'b', 'c']) {
      const metrics = (await http(cluster.server(id).httpUrl, 'GET', '/metrics')).json as string
      total += Number(/^meridian_frames_rejected_total\{reason="TOO_LARGE"\} (\d+)$/m.exec(metrics)?.[1] ?? 0)
    }
    return total
  }

  const write = async (client: RawClient, requestId: number, op: WriteOp, requestKey: string | null): Promise<StrictWriteReply> => {
    client.send({ type: MessageType.StrictWrite, requestId, request: { op, concern: 'majority', timeoutMs: 2_000, requestKey } })
    const answer = (await client.next((m) => m.type === MessageType.StrictWriteResult && m.requestId === requestId, 5_000)) as StrictWriteResultMessage
    return answer.reply
  }

  it('[IN3] sends a request key as long as a frame: refused (INVALID_OP) like REST refuses one over 200 characters, replication untouched', async () => {
    // Before: the entry was appended, every append to the replicas was over their frame limit
    // (refused TOO_LARGE, the link redialled, the append resent, forever): no strict write reached a
    // majority again while that primary led.
    const client = await acceptedClient(cluster.server(primary).url, 'c-key')
    const put: WriteOp = { kind: 'put', collection: 'accounts', id: 'k', value: 1 }
    expect((await write(client, 1, put, 'k'.repeat(200))).status).toBe('acknowledged')
    expect(await write(client, 2, put, 'k'.repeat(201))).toMatchObject({ status: 'rejected', error: { code: 'INVALID_OP' } })
    const frameFilling = 'k'.repeat(LIMITS.maxFrameBytes - 60)
    expect(await write(client, 3, put, frameFilling)).toMatchObject({ status: 'rejected', error: { code: 'INVALID_OP' } })
    expect((await write(client, 4, { ...put, value: 2 }, null)).status).toBe('acknowledged')
    expect(await tooLargeAtReplicas()).toBe(0)
    client.ws.close()
  })

  it('[IN3] sends a batch whose names fill a frame: refused (INVALID_OP) before it is logged, no failover', async () => {
    // Values count towards maxDocumentBytes, names did not: 200 deletes with 300-byte ids made one
    // entry as large as the client's frame, and the append carrying it was over the replicas' limit.
    const client = await acceptedClient(cluster.server(primary).url, 'c-batch')
    const epoch = cluster.server(primary).strict?.node.currentEpoch
    const ops: DocumentOp[] = []
    for (let i = 0; i < 200; i++) ops.push({ kind: 'delete', collection: 'accounts', id: `${String(i).padStart(4, '0')}${'x'.repeat(300)}` })
    const reply = await write(client, 1, { kind: 'batch', ops }, null)
    expect(reply).toMatchObject({ status: 'rejected', error: { code: 'INVALID_OP' } })
    expect((await write(client, 2, { kind: 'batch', ops: ops.slice(0, 10) }, null)).status).toBe('acknowledged')
    expect(cluster.server(primary).strict?.node.currentEpoch).toBe(epoch)
    expect(await tooLargeAtReplicas()).toBe(0)
    client.ws.close()
  })
})

describe('[IN2] a client of a strict replica', () => {
  it('forwards a write with a timeout beyond what a timer holds and gets its answer (not "indeterminate" at once)', async () => {
    const cluster = await startCluster(['a', 'b', 'c'], 'mesh', FAST_STRICT)
    try {
      await cluster.waitConnected()
      const primary = await primaryOf(cluster)
      const replica = ['a', 'b', 'c'].find((id) => id !== primary) as string
      const client = await acceptedClient(cluster.server(replica).url, 'c-forward')
      const warnings = await warningsDuring(async () => {
        client.send({
          type: MessageType.StrictWrite,
          requestId: 7,
          request: { op: { kind: 'put', collection: 'accounts', id: 'acct', value: { balance: 1 } }, concern: 'majority', timeoutMs: 1e12, requestKey: null },
        })
        const answer = (await client.next((m) => m.type === MessageType.StrictWriteResult, 5_000)) as StrictWriteResultMessage
        expect(answer.reply.status).toBe('acknowledged')
      })
      expect(warnings.filter((w) => w.startsWith('TimeoutOverflowWarning'))).toEqual([])
      client.ws.close()
    } finally {
      await cluster.close()
    }
  })
})

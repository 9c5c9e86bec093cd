import { connect, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CloseCode, MessageType, PROTOCOL_VERSION, type Message } from '../../core/codec/index.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/index.js'
import type { MeridianServer } from '../../server/server.js'
import { acceptedClient, handshake, http, rawClient, startServer } from './in-process.js'

const SECRET = 'peer-secret'
const TOKEN = 'client-token'

let server: MeridianServer
let httpUrl: string
const syncUrl = () => server.url
const peerUrl = () => server.peerUrl

beforeAll(async () => {
  server = await startServer({
    nodeId: 'b',
    peerSecret: SECRET,
    clientToken: TOKEN,
    maxFrameBytes: 4096,
    peers: [
      { nodeId: 'a', region: 'ra', url: 'ws://127.0.0.1:1/peer', httpUrl: 'http://127.0.0.1:1' },
      { nodeId: 'c', region: 'rc', url: 'ws://127.0.0.1:1/peer', httpUrl: 'http://127.0.0.1:1' },
    ],
    reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000 },
  })
  httpUrl = server.httpUrl
})
afterAll(() => server.close())

async function closeOf(url: string, first: Message | Uint8Array | string, then?: Message | Uint8Array): Promise<{ code: number; errors: Message[] }> {
  const client = await rawClient(url)
  if (first instanceof Uint8Array || typeof first === 'string') client.sendRaw(first)
  else client.send(first)
  if (then !== undefined) {
    await client.next((m) => m.type === MessageType.HandshakeAccept)
    if (then instanceof Uint8Array) client.sendRaw(then)
    else client.send(then)
  }
  const { code } = await client.closed
  return { code, errors: client.messages.filter((m) => m.type === MessageType.Error) }
}

async function rejectedCount(reason: string): Promise<number> {
  const text = (await http(httpUrl, 'GET', '/metrics')).json as string
  const match = new RegExp(`meridian_frames_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(text)
  return match === null ? 0 : Number(match[1])
}

describe('handshake', () => {
  it('accepts a client with the token and a peer with the secret', async () => {
    const client = await acceptedClient(syncUrl(), 'c-1', 'client', TOKEN)
    const accept = client.messages.find((m) => m.type === MessageType.HandshakeAccept)
    expect(accept).toEqual({ type: MessageType.HandshakeAccept, protocolVersion: PROTOCOL_VERSION, identity: 'b', region: 'test' })
    // The mesh starts at once: our vector follows the accept.
    await client.next((m) => m.type === MessageType.VersionVector)
    client.ws.close()
    const peer = await acceptedClient(peerUrl(), 'a', 'peer', SECRET)
    peer.ws.close()
  })

  it('closes VERSION_MISMATCH (4010) on another protocol version, even with a layout it cannot decode', async () => {
    const before = await rejectedCount('VERSION_MISMATCH')
    const other = await closeOf(syncUrl(), handshake('c-2', 'client', TOKEN, PROTOCOL_VERSION + 1))
    expect(other.code).toBe(CloseCode.VERSION_MISMATCH)
    expect(other.errors[0]).toMatchObject({ code: 'VERSION_MISMATCH' })
    expect(other.errors[0]?.type === MessageType.Error && other.errors[0].message).toMatch(
      new RegExp(`version ${PROTOCOL_VERSION + 1} .*speaks version ${PROTOCOL_VERSION}`),
    )
    // tag 1, the next version, then bytes this version could not decode
    const future = await closeOf(peerUrl(), Uint8Array.of(MessageType.Handshake, PROTOCOL_VERSION + 1, 0xff, 0xff, 0xff))
    expect(future.code).toBe(CloseCode.VERSION_MISMATCH)
    expect(await rejectedCount('VERSION_MISMATCH')).toBe(before + 2)
  })

  it('closes UNAUTHORIZED (4001) on a wrong peer secret or client token', async () => {
    expect((await closeOf(peerUrl(), handshake('a', 'peer', 'nope'))).code).toBe(CloseCode.UNAUTHORIZED)
    expect((await closeOf(peerUrl(), handshake('a', 'peer', ''))).code).toBe(CloseCode.UNAUTHORIZED)
    const client = await closeOf(syncUrl(), handshake('c-3', 'client', 'wrong'))
    expect(client.code).toBe(CloseCode.UNAUTHORIZED)
    expect(client.errors[0]).toMatchObject({ code: 'UNAUTHORIZED' })
  })

  it('closes FORBIDDEN (4003) on the wrong role, an unknown peer, or a client using a node id', async () => {
    expect((await closeOf(peerUrl(), handshake('a', 'client', SECRET))).code).toBe(CloseCode.FORBIDDEN)
    expect((await closeOf(syncUrl(), handshake('c-4', 'peer', TOKEN))).code).toBe(CloseCode.FORBIDDEN)
    expect((await closeOf(peerUrl(), handshake('stranger', 'peer', SECRET))).code).toBe(CloseCode.FORBIDDEN)
    // 'b' dials 'c' (smaller nodeId dials), so 'c' may not dial 'b'.
    expect((await closeOf(peerUrl(), handshake('c', 'peer', SECRET))).code).toBe(CloseCode.FORBIDDEN)
    expect((await closeOf(syncUrl(), handshake('a', 'client', TOKEN))).code).toBe(CloseCode.FORBIDDEN)
    expect((await closeOf(syncUrl(), handshake('b', 'client', TOKEN))).code).toBe(CloseCode.FORBIDDEN)
  })

  it('closes BAD_FRAME (4000) on garbage, text frames, a first frame that is not a handshake, or a second handshake', async () => {
    const before = await rejectedCount('BAD_FRAME')
    expect((await closeOf(syncUrl(), Uint8Array.of(0xde, 0xad, 0xbe, 0xef))).code).toBe(CloseCode.BAD_FRAME)
    expect((await closeOf(syncUrl(), Uint8Array.of())).code).toBe(CloseCode.BAD_FRAME)
    expect((await closeOf(syncUrl(), 'hello')).code).toBe(CloseCode.BAD_FRAME)
    expect((await closeOf(syncUrl(), { type: MessageType.VersionVector, vector: new Map() })).code).toBe(CloseCode.BAD_FRAME)
    expect((await closeOf(syncUrl(), handshake('c-5', 'client', TOKEN), handshake('c-5', 'client', TOKEN))).code).toBe(
      CloseCode.BAD_FRAME,
    )
    expect((await closeOf(syncUrl(), handshake('c-6', 'client', TOKEN), Uint8Array.of(42))).code).toBe(CloseCode.BAD_FRAME)
    expect(await rejectedCount('BAD_FRAME')).toBeGreaterThanOrEqual(before + 5)
  })

  it('[PR2] closes TOO_LARGE (4009) on a frame above maxFrameBytes', async () => {
    expect((await closeOf(syncUrl(), new Uint8Array(5000))).code).toBe(CloseCode.TOO_LARGE)
    expect((await closeOf(syncUrl(), handshake('c-7', 'client', TOKEN), new Uint8Array(4097))).code).toBe(CloseCode.TOO_LARGE)
  })

  it('[PR2] refuses an oversized frame from its header, without waiting for (or buffering) its payload', async () => {
    const socket = await upgradedSocket(server.port, '/sync')
    // FIN + binary, masked, 64-bit length of 1 GiB; only 8 payload bytes ever follow.
    const header = Buffer.alloc(14)
    header[0] = 0x82
    header[1] = 0x80 | 127
    header.writeBigUInt64BE(2n ** 30n, 2)
    socket.write(Buffer.concat([header, Buffer.alloc(8)]))
    const frame = await firstBytes(socket, 4)
    expect(frame[0]).toBe(0x88) // close frame
    expect(frame.readUInt16BE(2)).toBe(CloseCode.TOO_LARGE)
    socket.destroy()
  })

  it('[CV1] logs and skips a change whose payload its type cannot apply, and keeps the stream going', async () => {
    const client = await acceptedClient(syncUrl(), 'c-poison', 'client', TOKEN)
    const base = { origin: 'c-poison', collection: 'notes', docType: 'lww' as const }
    const poisoned = { ...base, seq: 1, hlc: { wallMs: Date.now(), counter: 0, node: 'c-poison' }, docId: 'p', payload: Uint8Array.of(9, 9, 9) }
    const good = {
      ...base,
      seq: 2,
      hlc: { wallMs: Date.now(), counter: 1, node: 'c-poison' },
      docId: 'p2',
      payload: lwwPutPayload(new LwwReplica({ collection: 'notes', docId: 'p2' }), { ok: true }),
    }
    client.send({ type: MessageType.ChangeBatch, changes: [poisoned, good] })
    // With a client token, REST asks for it too (docs/security.md).
    const bearer = { authorization: `Bearer ${TOKEN}` }
    expect((await http(httpUrl, 'GET', '/v1/notes/p2')).status).toBe(401)
    await expect.poll(async () => (await http(httpUrl, 'GET', '/v1/notes/p2', undefined, bearer)).json.doc, { timeout: 3_000 }).toEqual({ ok: true })
    expect((await http(httpUrl, 'GET', '/v1/notes/p', undefined, bearer)).status).toBe(404)
    const metrics = (await http(httpUrl, 'GET', '/metrics')).json as string
    expect(metrics).toMatch(/^meridian_changes_rejected_total 1$/m)
    client.ws.terminate()
  })

  it('refuses (FORBIDDEN) a client change to a collection that is unknown, strict, or of another type', async () => {
    const cases = [
      { collection: 'nope', docType: 'lww' as const },
      { collection: 'accounts', docType: 'lww' as const },
      { collection: 'notes', docType: 'yjs' as const },
    ]
    for (const [i, target] of cases.entries()) {
      const origin = `c-refused-${i}`
      const client = await acceptedClient(syncUrl(), origin, 'client', TOKEN)
      const change = {
        origin,
        seq: 1,
        hlc: { wallMs: Date.now(), counter: 0, node: origin },
        docId: 'x',
        ...target,
        payload: lwwPutPayload(new LwwReplica({ collection: target.collection, docId: 'x' }), { a: 1 }),
      }
      client.send({ type: MessageType.ChangeBatch, changes: [change] })
      expect((await client.closed).code).toBe(CloseCode.FORBIDDEN)
    }
    const status = (await http(httpUrl, 'GET', '/status')).json
    expect(Object.keys(status.vector).filter((origin: string) => origin.startsWith('c-refused'))).toEqual([])
  })

  it('never lets arbitrary bytes crash the process', async () => {
    const allowed = new Set<number>([CloseCode.BAD_FRAME, CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN, CloseCode.VERSION_MISMATCH, CloseCode.TOO_LARGE])
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 3 }),
        async (peerEndpoint, handshakeFirst, frames) => {
          const client = await rawClient(peerEndpoint ? peerUrl() : syncUrl())
          if (handshakeFirst) {
            client.send(peerEndpoint ? handshake('a', 'peer', SECRET) : handshake('c-fuzz', 'client', TOKEN))
            await client.next((m) => m.type === MessageType.HandshakeAccept)
          }
          for (const frame of frames) client.sendRaw(frame)
          const outcome = await Promise.race([client.closed, new Promise<null>((r) => setTimeout(() => r(null), 150))])
          if (outcome === null) client.ws.terminate()
          else expect(allowed.has(outcome.code)).toBe(true)
        },
      ),
      { numRuns: 60, seed: 20_241_126 },
    )
    expect((await http(httpUrl, 'GET', '/healthz')).json).toMatchObject({ ok: true })
  })

  it('refuses upgrades on other paths with 404', async () => {
    await expect(rawClient(`ws://127.0.0.1:${server.port}/elsewhere`)).rejects.toThrow(/404/)
  })
})

function upgradedSocket(port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      )
    })
    let received = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onData)
      if (!received.subarray(0, end).toString().startsWith('HTTP/1.1 101')) {
        reject(new Error(`upgrade refused: ${received.subarray(0, end).toString()}`))
        return
      }
      const rest = received.subarray(end + 4)
      if (rest.length > 0) socket.unshift(rest)
      resolve(socket)
    }
    socket.on('data', onData)
  })
}

function firstBytes(socket: Socket, count: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => reject(new Error('no close frame within 2 s')), 2_000)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.length >= count) {
        clearTimeout(timer)
        resolve(received)
      }
    })
  })
}



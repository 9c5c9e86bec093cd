import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import type { MeridianClient } from '../../client/client.js'
import { createNodeClient } from '../../client/node.js'
import { CloseCode } from '../../core/codec/close-codes.js'
import { FakeNetwork, seededRandom, type FakeRegion, type ServerEnd } from './fake-server.js'

/**
 * The client over real sockets: `ws` on both ends (the client's through `createNodeClient`), with
 * a fake region behind the server socket. Checks what the in-memory fake cannot: binary frames as
 * ArrayBuffers, close codes across a real close handshake, connection refused.
 */
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve(region: FakeRegion): Promise<{ url: string; wss: WebSocketServer; sockets: Set<WebSocket> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/sync' })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const sockets = new Set<WebSocket>()
  wss.on('connection', (ws) => {
    sockets.add(ws)
    const end: ServerEnd = {
      clientId: null,
      deliver: (bytes) => ws.send(bytes),
      serverClose: (code, reason) => ws.close(code, reason),
    }
    ws.on('message', (data: Buffer) => region.receive(end, new Uint8Array(data)))
    ws.on('close', () => {
      sockets.delete(ws)
      region.closed(end)
    })
  })
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate()
        wss.close(() => resolve())
      }),
  )
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, wss, sockets }
}

function client(urls: string[], token?: string): MeridianClient {
  const c = createNodeClient({
    urls,
    random: seededRandom(urls.length * 31 + (token?.length ?? 0)),
    minDelayMs: 5,
    maxDelayMs: 20,
    ...(token === undefined ? {} : { token }),
  })
  cleanups.push(() => c.close())
  return c
}

async function until(condition: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(condition()).toBe(true), { timeout: 3_000, interval: 5 })
}

describe('client over ws (meridian/client/node)', () => {
  it('syncs, acknowledges, and fails over from a refused port to a live one', async () => {
    const net = new FakeNetwork()
    const region = net.addRegion('eu.test', 'eu-1')
    const { url } = await serve(region)
    // Port 1 refuses connections: the client reports it and moves on.
    const c = client(['ws://127.0.0.1:1', url])
    const errors: string[] = []
    c.onError((e) => errors.push(e.code))
    const w = c.lww('todos').put('t1', { title: 'over the wire' })
    await w.durable
    expect(errors[0]).toBe('NETWORK')
    expect(c.server).toEqual({ nodeId: 'eu-1', region: 'eu.test' })
    expect(region.node.views().get('todos\u0000t1')).toEqual({ title: 'over the wire' })
    region.sendReplicated()
    await w.replicated
  })

  it('a server close with UNAUTHORIZED arrives as a fatal typed error', async () => {
    const net = new FakeNetwork()
    const region = net.addRegion('eu.test', 'eu-1', { token: 'secret' })
    const { url } = await serve(region)
    const c = client([url], 'wrong')
    await until(() => c.error !== null)
    expect(c.error).toMatchObject({ code: 'UNAUTHORIZED', fatal: true, closeCode: CloseCode.UNAUTHORIZED })
    expect(c.status).toBe('offline')
  })

  it('reconnects after the server drops the socket and resumes', async () => {
    const net = new FakeNetwork()
    const region = net.addRegion('eu.test', 'eu-1')
    const { url, sockets } = await serve(region)
    const c = client([url])
    await until(() => c.status === 'connected')
    c.lww('todos').put('a', { n: 1 })
    await until(() => c.outboxSize === 0)
    for (const ws of sockets) ws.terminate()
    c.lww('todos').put('b', { n: 2 })
    await until(() => c.status === 'connected' && c.outboxSize === 0)
    expect(region.receivedFromClients()).toEqual([`${c.clientId}:1`, `${c.clientId}:2`])
  })
})

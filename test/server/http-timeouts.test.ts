import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MessageType } from '../../core/codec/index.js'
import { httpCheckIntervalMs, type MeridianServer } from '../../server/server.js'
import { acceptedClient, http, startServer } from './in-process.js'

/**
 * Slow clients [PF4]: a client that trickles its request must not hold a socket for Node's defaults
 * (60 s of headers, 300 s of request, and checked only every 30 s).
 */
const HEADERS_MS = 300
const REQUEST_MS = 600
/** Generous: the limit bites at about HEADERS_MS / REQUEST_MS plus one check interval. */
const UPPER_BOUND_MS = 5_000

let server: MeridianServer

beforeAll(async () => {
  server = await startServer({ nodeId: 'slow', httpHeadersTimeoutMs: HEADERS_MS, httpRequestTimeoutMs: REQUEST_MS, httpKeepAliveTimeoutMs: 2_000 })
})
afterAll(() => server.close())

interface Trickle {
  readonly closedAfterMs: Promise<number>
  readonly received: () => string
  stop(): void
}

/** Opens a raw socket, writes `start`, then one byte of `drip` every `everyMs` until the server closes it. */
function trickle(start: string, drip: string, everyMs = 50): Trickle {
  const socket: Socket = connect(server.port, '127.0.0.1')
  let received = ''
  let timer: NodeJS.Timeout | null = null
  const started = Date.now()
  const stop = () => {
    if (timer !== null) clearInterval(timer)
    timer = null
  }
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (received += chunk))
  socket.on('error', () => {})
  const closedAfterMs = new Promise<number>((resolve) => {
    socket.on('close', () => {
      stop()
      resolve(Date.now() - started)
    })
  })
  socket.on('connect', () => {
    socket.write(start)
    let i = 0
    timer = setInterval(() => {
      if (!socket.destroyed) socket.write(drip[i++ % drip.length] as string)
    }, everyMs)
  })
  const bound = setTimeout(() => socket.destroy(), UPPER_BOUND_MS * 2)
  void closedAfterMs.then(() => clearTimeout(bound))
  return { closedAfterMs, received: () => received, stop }
}

describe('[IN3] HTTP header and request timeouts', () => {
  it('closes a socket that trickles its request header, and keeps serving others meanwhile', async () => {
    const slow = trickle('GET /healthz HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: abcdefghijklmnopqrstuvwxyz')
    const meanwhile = await http(server.httpUrl, 'GET', '/healthz')
    expect(meanwhile.status).toBe(200)
    const closedAfter = await slow.closedAfterMs
    console.log(`header trickle closed after ${closedAfter} ms (headers timeout ${HEADERS_MS} ms, checked every ${httpCheckIntervalMs({ httpHeadersTimeoutMs: HEADERS_MS })} ms)`)
    expect(closedAfter).toBeLessThan(UPPER_BOUND_MS)
    expect(slow.received()).toMatch(/^(HTTP\/1\.1 408|$)/)
    expect((await http(server.httpUrl, 'GET', '/healthz')).status).toBe(200)
  })

  it('closes a socket that sent its headers but trickles the body', async () => {
    const slow = trickle('PUT /v1/notes/slow HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":"', 'xxxxxxxx')
    const closedAfter = await slow.closedAfterMs
    console.log(`body trickle closed after ${closedAfter} ms (request timeout ${REQUEST_MS} ms)`)
    expect(closedAfter).toBeLessThan(UPPER_BOUND_MS)
    expect((await http(server.httpUrl, 'GET', '/healthz')).status).toBe(200)
  })

  it('never applies to WebSockets: a client stays connected well past both timeouts', async () => {
    const client = await acceptedClient(server.url, 'long-lived')
    await new Promise((resolve) => setTimeout(resolve, REQUEST_MS * 3))
    expect(server.node.isAttached('long-lived')).toBe(true)
    client.send({ type: MessageType.VersionVector, vector: new Map() })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    client.ws.close()
  })

  it('checks often enough for the limits to bite', () => {
    expect(httpCheckIntervalMs({ httpHeadersTimeoutMs: 10_000 })).toBe(1_000)
    expect(httpCheckIntervalMs({ httpHeadersTimeoutMs: HEADERS_MS })).toBe(75)
    expect(httpCheckIntervalMs({ httpHeadersTimeoutMs: 1 })).toBe(10)
  })
})

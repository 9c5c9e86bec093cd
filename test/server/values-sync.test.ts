/**
 * [IN1] The /sync path refuses a strict write's value as REST does, before it is forwarded or logged:
 * a raw client (not this package's, which refuses it itself) gets the typed INVALID_VALUE rejection,
 * the connection stays up, and the refusal is counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MessageType, type Message } from '../../core/codec/index.js'
import type { MeridianServer } from '../../server/server.js'
import { acceptedClient, FAST_STRICT, http, startServer } from './in-process.js'

let server: MeridianServer

beforeAll(async () => {
  server = await startServer({ nodeId: 'solo', ...FAST_STRICT, values: { maxStringBytes: 64 } })
})
afterAll(() => server.close())

describe('[IN1] strict writes over /sync', () => {
  it('a value over a limit is rejected INVALID_VALUE with its path and limit; the connection stays up; nothing is written', async () => {
    const client = await acceptedClient(server.url, 'raw-client')
    client.send({
      type: MessageType.StrictWrite,
      requestId: 7,
      request: { op: { kind: 'put', collection: 'accounts', id: 'a1', value: { note: 'x'.repeat(65) } }, concern: 'majority', timeoutMs: null, requestKey: null },
    })
    const answer = (await client.next((m) => m.type === MessageType.StrictWriteResult)) as Extract<Message, { type: typeof MessageType.StrictWriteResult }>
    expect(answer.requestId).toBe(7)
    expect(answer.reply).toMatchObject({ status: 'rejected', error: { code: 'INVALID_VALUE', path: '$.note', rule: 'maxStringBytes', limit: 64 } })
    // Still connected: a good write on the same connection is acknowledged.
    client.send({
      type: MessageType.StrictWrite,
      requestId: 8,
      request: { op: { kind: 'put', collection: 'accounts', id: 'a2', value: { note: 'ok' } }, concern: 'majority', timeoutMs: null, requestKey: null },
    })
    const ok = (await client.next((m) => m.type === MessageType.StrictWriteResult && m.requestId === 8, 5_000)) as Extract<Message, { type: typeof MessageType.StrictWriteResult }>
    expect(ok.reply.status).toBe('acknowledged')
    expect((await http(server.httpUrl, 'GET', '/v1/accounts/a1')).status).toBe(404)
    const metrics = await http(server.httpUrl, 'GET', '/metrics')
    expect(metrics.json).toMatch(/meridian_invalid_values_total\{surface="sync"\} 1/)
    client.ws.close()
  })
})

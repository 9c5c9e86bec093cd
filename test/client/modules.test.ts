/**
 * Client modules (docs/client.md, Bundles): the base client knows lww documents; strict collections,
 * Yjs and Automerge come with `use: [...]`, and asking for one without it is a TypeError that says
 * which import and option to add.
 */
import { describe, expect, it } from 'vitest'
import { automergeSupport } from '../../client/automerge.js'
import { createClient } from '../../client/client.js'
import { memoryClientStore } from '../../client/store.js'
import { strictSupport } from '../../client/strict.js'
import { yjsSupport } from '../../client/yjs.js'
import { decodeBaseMessage, encodeBaseMessage, NO_FRAME_EXTENSIONS } from '../../core/codec/base-codec.js'
import { encodeMessage } from '../../core/codec/codec.js'
import { DecodeError } from '../../core/codec/errors.js'
import { MessageType } from '../../core/codec/messages.js'
import { STRICT_FRAMES } from '../../core/codec/strict-frames.js'
import { createNodeClient } from '../../client/node.js'
import { FAST_STRICT, primaryOf, startCluster } from '../server/in-process.js'
import { fakeClients } from './fake-client.js'
import { FakeNetwork } from './fake-server.js'

const client = fakeClients(8200)

describe('client modules', () => {
  it('without a module, its collections are a TypeError naming the import and the option', () => {
    const c = client(new FakeNetwork(), ['ws://eu.test'], { use: [] })
    expect(() => c.strict('accounts')).toThrow(/import \{ strictSupport \} from 'meridian\/client\/strict'.*use: \[strictSupport\]/)
    expect(() => c.yjs('notes')).toThrow(/import \{ yjsSupport \} from 'meridian\/client\/yjs'/)
    expect(() => c.automerge('boards')).toThrow(/automergeSupport.*meridian\/client\/automerge/)
    expect(() => c.onStrictOutcome(() => undefined)).toThrow(TypeError)
    expect(c.strictToken).toBeNull()
    // lww needs nothing.
    c.lww('notes').put('n1', { a: 1 })
    expect(c.lww('notes').get('n1')).toEqual({ a: 1 })
  })

  it('refuses a module given twice, or something that is not a module', () => {
    const net = new FakeNetwork()
    expect(() => client(net, ['ws://eu.test'], { use: [yjsSupport, yjsSupport] })).toThrow(/twice/)
    expect(() => client(net, ['ws://eu.test'], { use: [{} as never] })).toThrow(/not a Meridian client module/)
    expect(() => client(net, ['ws://eu.test'], { use: 'all' as never })).toThrow(/must be an array/)
  })

  it('a store holding documents of a type whose module is missing is refused at createClient, with the fix', async () => {
    const store = memoryClientStore()
    const net = new FakeNetwork()
    const writer = client(net, ['ws://eu.test'], { store, use: [yjsSupport] })
    writer.yjs('notes').edit('n1', (doc) => doc.getText('text').insert(0, 'hi'))
    await writer.close()
    const ws = net.WebSocket
    expect(() => createClient({ urls: ['ws://eu.test'], WebSocket: ws, store, clientId: writer.clientId })).toThrow(/needs the yjs module/)
  })

  it('each module alone works end to end: strict writes acknowledged by a real region with strictSupport only', async () => {
    const cluster = await startCluster(['solo'], 'mesh', FAST_STRICT)
    try {
      await primaryOf(cluster)
      const c = createNodeClient({ urls: [cluster.server('solo').url], use: [strictSupport] })
      try {
        expect(() => c.yjs('notes')).toThrow(TypeError)
        const result = await c.strict<{ balance: number }>('accounts').put('a1', { balance: 1 }, { w: 'majority' })
        expect(result.status).toBe('acknowledged')
        expect((await c.strict<{ balance: number }>('accounts').get('a1'))?.value).toEqual({ balance: 1 })
      } finally {
        await c.close()
      }
    } finally {
      await cluster.close()
    }
    const both = client(new FakeNetwork(), ['ws://eu.test'], { use: [automergeSupport, yjsSupport] })
    both.automerge<{ x?: number }>('boards').change('b1', (d) => {
      d.x = 1
    })
    expect(both.automerge('boards').get('b1')).toEqual({ x: 1 })
    expect(() => both.strict('accounts')).toThrow(TypeError)
  })
})

describe('base codec and frame extensions', () => {
  const strictFrame = encodeMessage({ type: MessageType.StrictSubscribe, requestId: 1, collection: 'accounts', id: 'a1' })

  it('decodes strict frames only with the strict extension; without it they are unknown types (DecodeError)', () => {
    expect(() => decodeBaseMessage(strictFrame, {}, NO_FRAME_EXTENSIONS)).toThrow(DecodeError)
    expect(decodeBaseMessage(strictFrame, {}, STRICT_FRAMES)).toMatchObject({ type: MessageType.StrictSubscribe, requestId: 1 })
  })

  it('encodes them only with it: without, a RangeError (a bug in the caller)', () => {
    const message = decodeBaseMessage(strictFrame, {}, STRICT_FRAMES)
    expect(() => encodeBaseMessage(message, NO_FRAME_EXTENSIONS)).toThrow(RangeError)
    expect(encodeBaseMessage(message, STRICT_FRAMES)).toEqual(strictFrame)
  })
})

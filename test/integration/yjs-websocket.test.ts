import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

/**
 * Unmodified y-websocket providers (the `y-websocket` package, in Node over `ws`) against real region
 * processes serving `ws /yjs/:room` (docs/server.md, "Yjs rooms"): a room edited in one region appears
 * in the others, offline edits merge after a reconnect, a SIGKILLed region comes back with the room,
 * awareness within a region, and the close codes that stop a provider.
 */

let cluster: ProcessCluster
const providers: WebsocketProvider[] = []

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    ids: ['a', 'b', 'c'],
    storage: 'file',
    config: { collections: { rooms: { mode: 'crdt', type: 'yjs' }, notes: { mode: 'crdt', type: 'lww' } }, yjsRoomCollection: 'rooms' },
  })
  await cluster.waitConnected()
}, 60_000)

afterAll(async () => {
  for (const provider of providers) provider.destroy()
  await cluster?.stop()
})

/** A provider on region `id`'s `/yjs`, with a document of its own. */
function provider(id: string, room: string, doc = new Y.Doc()): WebsocketProvider {
  const serverUrl = `${cluster.node(id).httpUrl.replace('http', 'ws')}/yjs`
  const made = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket as never, maxBackoffTime: 300, disableBc: true })
  providers.push(made)
  return made
}

function synced(p: WebsocketProvider): Promise<void> {
  return waitFor(() => p.synced, 10_000, `provider of ${p.roomname} synced`)
}

function text(p: WebsocketProvider): string {
  return p.doc.getText('text').toString()
}

/** The names in a provider's awareness (its own included), sorted. */
function names(p: WebsocketProvider): string[] {
  return [...p.awareness.getStates().values()].map((state) => (state['user'] as { name?: string } | undefined)?.name ?? '').filter((name) => name !== '').sort()
}

async function regionView(id: string, room: string): Promise<{ root: Record<string, unknown>; text: string } | null> {
  const reply = await fetch(`${cluster.node(id).httpUrl}/v1/rooms/${encodeURIComponent(room)}`)
  return reply.status === 200 ? ((await reply.json()) as { doc: { root: Record<string, unknown>; text: string } }).doc : null
}

describe('unmodified y-websocket providers sync through Meridian regions', () => {
  it('a room edited in one region appears in another, and a late joiner in a third gets all of it', async () => {
    const inA = provider('a', 'hello-room')
    const inB = provider('b', 'hello-room')
    await Promise.all([synced(inA), synced(inB)])
    inA.doc.getText('text').insert(0, 'hello from a')
    await waitFor(() => text(inB) === 'hello from a', 10_000, 'the text in region b')
    inB.doc.getMap('root').set('title', 'set in b')
    await waitFor(() => inA.doc.getMap('root').get('title') === 'set in b', 10_000, 'the map in region a')
    const late = provider('c', 'hello-room')
    await synced(late)
    await waitFor(() => text(late) === 'hello from a' && late.doc.getMap('root').get('title') === 'set in b', 10_000, 'everything at the late joiner')
    // The room is a document of the collection: REST reads it in every region.
    for (const id of ['a', 'b', 'c']) {
      await waitFor(async () => (await regionView(id, 'hello-room'))?.text === 'hello from a', 10_000, `the room in region ${id}`)
    }
  })

  it('bursts from two providers, merged per event-loop turn by the region, converge; a provider alone in its room is not sent its own updates back', async () => {
    const one = provider('a', 'burst-room')
    const two = provider('a', 'burst-room')
    await Promise.all([synced(one), synced(two)])
    for (let i = 0; i < 200; i++) {
      one.doc.getArray<number>('list').push([i])
      two.doc.getArray<number>('list').push([1000 + i])
    }
    await waitFor(() => one.doc.getArray('list').length === 400 && two.doc.getArray('list').length === 400, 10_000, 'both bursts in both providers')
    expect(one.doc.getArray('list').toJSON()).toEqual(two.doc.getArray('list').toJSON())
    const onB = provider('b', 'burst-room')
    await waitFor(() => onB.doc.getArray('list').length === 400, 10_000, 'both bursts in region b')
    expect(onB.doc.getArray('list').toJSON()).toEqual(one.doc.getArray('list').toJSON())

    const alone = provider('a', 'alone-room')
    await synced(alone)
    let received = 0
    ;(alone.ws as unknown as { addEventListener(type: 'message', listener: () => void): void }).addEventListener('message', () => void (received += 1))
    for (let i = 0; i < 50; i++) alone.doc.getText('text').insert(0, 'x')
    await waitFor(async () => (await regionView('a', 'alone-room'))?.text.length === 50, 10_000, 'the updates at region a')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(received).toBe(0)
  })

  it('edits made while disconnected merge after the provider reconnects', async () => {
    const one = provider('a', 'offline-room')
    const two = provider('b', 'offline-room')
    await Promise.all([synced(one), synced(two)])
    one.disconnect()
    one.doc.getText('text').insert(0, 'offline ')
    two.doc.getText('text').insert(0, 'online')
    await waitFor(async () => (await regionView('a', 'offline-room'))?.text === 'online', 10_000, 'the online edit in region a')
    one.connect()
    await synced(one)
    await waitFor(() => text(one) === text(two) && text(one).includes('offline') && text(one).includes('online'), 10_000, 'both edits in both')
  })

  it('a region SIGKILLed and restarted comes back with the room, and its providers reconnect and catch up', async () => {
    const onA = provider('a', 'restart-room')
    const onB = provider('b', 'restart-room')
    await Promise.all([synced(onA), synced(onB)])
    onA.doc.getText('text').insert(0, 'before the kill')
    await waitFor(async () => (await regionView('b', 'restart-room'))?.text === 'before the kill', 10_000, 'the edit replicated to b')
    await cluster.kill('a')
    onB.doc.getText('text').insert(0, 'while a was down; ')
    await cluster.launch('a')
    await waitFor(async () => (await regionView('a', 'restart-room'))?.text === 'while a was down; before the kill', 20_000, 'region a restored and caught up')
    await waitFor(() => onA.synced && text(onA) === 'while a was down; before the kill', 20_000, 'the provider on a reconnected and caught up')
  })

  it('awareness: providers in one room see each other, and a provider that closes leaves at once', async () => {
    const alice = provider('c', 'aware-room')
    const bob = provider('c', 'aware-room')
    await Promise.all([synced(alice), synced(bob)])
    alice.awareness.setLocalStateField('user', { name: 'alice' })
    bob.awareness.setLocalStateField('user', { name: 'bob' })
    await waitFor(() => names(alice).join() === 'alice,bob' && names(bob).join() === 'alice,bob', 10_000, 'both see both')
    bob.destroy()
    await waitFor(() => names(alice).join() === 'alice', 10_000, 'bob gone from alice\'s awareness')
  })

  it('awareness crosses regions: a user in region a and one in region b see each other, and a late joiner in c sees both at once', async () => {
    const alice = provider('a', 'aware-across')
    const bob = provider('b', 'aware-across')
    await Promise.all([synced(alice), synced(bob)])
    alice.awareness.setLocalStateField('user', { name: 'alice' })
    bob.awareness.setLocalStateField('user', { name: 'bob' })
    await waitFor(() => names(alice).join() === 'alice,bob' && names(bob).join() === 'alice,bob', 10_000, 'both see both across regions')
    // Well under the 15 s after which providers renew their state: the new room asks the other regions.
    const carol = provider('c', 'aware-across')
    carol.awareness.setLocalStateField('user', { name: 'carol' })
    await waitFor(() => names(carol).join() === 'alice,bob,carol', 5_000, 'the late joiner sees everyone')
    bob.destroy()
    await waitFor(() => names(alice).join() === 'alice,carol' && names(carol).join() === 'alice,carol', 10_000, 'bob gone everywhere at once')
  })

  it('a malformed message closes with 4400 (a provider stops reconnecting on it), and the region goes on; a room name too long is refused with 4404', async () => {
    const ws = new WebSocket(`${cluster.node('a').httpUrl.replace('http', 'ws')}/yjs/garbage-room`)
    await new Promise((resolve) => ws.once('open', resolve))
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    // Sync update whose payload is not an update.
    ws.send(Buffer.from([0, 2, 3, 0xff, 0xff, 0xff]))
    expect(await closed).toBe(4400)
    // The region is still serving.
    const after = provider('a', 'garbage-room')
    await synced(after)
    const refused = new WebSocket(`${cluster.node('a').httpUrl.replace('http', 'ws')}/yjs/${'x'.repeat(600)}`)
    expect(await new Promise<number>((resolve) => refused.once('close', (code) => resolve(code)))).toBe(4404)
  })
})

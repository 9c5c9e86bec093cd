import { describe, expect, it, vi } from 'vitest'

import { createClient } from '../../client/client.js'
import { ClientClosedError, ConnectionError } from '../../client/errors.js'
import { memoryClientStore, type ClientStore } from '../../client/store.js'
import { CloseCode } from '../../core/codec/close-codes.js'
import { MessageType, PROTOCOL_VERSION } from '../../core/codec/messages.js'
import { LwwReplica, lwwPatchPayload } from '../../core/crdt/lww.js'
import { fakeClients, settle, state, until } from './fake-client.js'
import { FakeNetwork, type FakeRegion } from './fake-server.js'

const client = fakeClients(1)

function oneRegion(options: Parameters<FakeNetwork['addRegion']>[2] = {}): { net: FakeNetwork; eu: FakeRegion } {
  const net = new FakeNetwork()
  return { net, eu: net.addRegion('eu.test', 'eu-1', options) }
}

describe('client writes', () => {
  it('apply locally at once, online or not, and notify subscribers synchronously', async () => {
    const net = new FakeNetwork() // no region at all: offline
    const c = client(net, ['ws://eu.test'])
    const todos = c.lww<{ title: string; done?: boolean }>('todos')
    const seen: unknown[] = []
    todos.subscribe('t1', (doc) => seen.push(doc))
    const w = todos.put('t1', { title: 'milk' })
    expect(todos.get('t1')).toEqual({ title: 'milk' })
    expect(seen).toEqual([{ title: 'milk' }])
    expect(w).toMatchObject({ origin: c.clientId, seq: 1 })
    expect(await state(w.local)).toBe('resolved')
    todos.patch('t1', { done: true })
    expect(todos.get('t1')).toEqual({ title: 'milk', done: true })
    todos.patch('t1', { done: undefined })
    expect(todos.get('t1')).toEqual({ title: 'milk' })
    todos.delete('t1')
    expect(todos.get('t1')).toBeNull()
    expect(seen).toHaveLength(4)
    expect(c.outboxSize).toBe(4)
    expect(c.status).not.toBe('connected')
  })

  it('durable resolves only after the region acknowledges the change durable', async () => {
    const { net, eu } = oneRegion({ autoDurable: false })
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const w = c.lww('todos').put('t1', { title: 'milk' })
    await until(() => eu.node.acceptedFrom(c.clientId) === 1)
    await settle()
    expect(await state(w.durable)).toBe('pending')
    expect(c.outboxSize).toBe(1)
    eu.flushDurable()
    await w.durable
    expect(c.outboxSize).toBe(0)
    expect(await state(w.replicated)).toBe('pending')
  })

  it('replicated resolves only after a Replicated vector covers the change', async () => {
    const { net, eu } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const todos = c.lww('todos')
    const w1 = todos.put('t1', { title: 'a' })
    const w2 = todos.put('t2', { title: 'b' })
    await Promise.all([w1.durable, w2.durable])
    eu.sendReplicated(new Map([[c.clientId, 1]]))
    await w1.replicated
    expect(await state(w2.replicated)).toBe('pending')
    eu.sendReplicated(new Map([[c.clientId, 2], ['someone-else', 9]]))
    await w2.replicated
    // A later write is not covered by an older vector.
    const w3 = todos.put('t3', { title: 'c' })
    await w3.durable
    expect(await state(w3.replicated)).toBe('pending')
  })

  it('offline writes are queued and sent on reconnect; the outbox drains to 0', async () => {
    const { net, eu } = oneRegion()
    eu.down = true
    const c = client(net, ['ws://eu.test'])
    const todos = c.lww('todos')
    const handles = [todos.put('a', { n: 1 }), todos.put('b', { n: 2 }), todos.patch('a', { n: 3 })]
    await until(() => net.sockets.length >= 2) // it keeps retrying
    expect(c.outboxSize).toBe(3)
    expect(eu.node.acceptedFrom(c.clientId)).toBe(0)
    eu.down = false
    await Promise.all(handles.map((h) => h.durable))
    expect(c.outboxSize).toBe(0)
    expect(eu.node.views()).toEqual(
      new Map([
        ['todos\u0000a', { n: 3 }],
        ['todos\u0000b', { n: 2 }],
      ]),
    )
  })

  it('reconnect resumes from the version vector: nothing applied twice, nothing lost', async () => {
    const { net, eu } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    const mine = c.lww('todos')
    await until(() => c.status === 'connected')
    mine.put('c1', { v: 1 })
    serverWrite(eu, 'todos', 's1', { v: 1 })
    await until(() => eu.node.acceptedFrom(c.clientId) === 1 && mine.get('s1') !== null)

    eu.down = true
    eu.dropAll()
    await until(() => c.status !== 'connected')
    // Both sides keep writing while apart.
    mine.put('c2', { v: 2 })
    mine.patch('c1', { w: 1 })
    serverWrite(eu, 'todos', 's2', { v: 2 })
    eu.down = false
    await until(() => c.outboxSize === 0 && mine.get('s2') !== null)

    // Each own change reached the region exactly once, and the client applied each server change once.
    expect(eu.receivedFromClients()).toEqual([`${c.clientId}:1`, `${c.clientId}:2`, `${c.clientId}:3`])
    expect(c.stats.duplicates).toBe(0)
    expect(eu.node.stats.duplicates).toBe(0)
    expect(c.stats.applied).toBe(5)
    expect(eu.handshakes).toBe(2)
    const clientView = new Map(['c1', 'c2', 's1', 's2'].map((id) => [`todos\u0000${id}`, mine.get(id)]))
    expect(eu.node.views()).toEqual(clientView)
  })

  it('a write after close throws ClientClosedError; pending handles reject with it, unobserved ones harmlessly', async () => {
    const { net } = oneRegion({ autoDurable: false })
    const c = client(net, ['ws://eu.test'])
    const todos = c.lww('todos')
    const observed = todos.put('a', { n: 1 })
    todos.put('b', { n: 2 }) // nobody looks at this one: must not be an unhandled rejection
    await c.close()
    await expect(observed.durable).rejects.toBeInstanceOf(ClientClosedError)
    await expect(observed.replicated).rejects.toMatchObject({ code: 'CLIENT_CLOSED' })
    expect(() => todos.put('c', { n: 3 })).toThrow(ClientClosedError)
    expect(c.status).toBe('offline')
    await settle()
  })

  it('a restarted client with the same store and id continues its log and resends its outbox', async () => {
    const { net, eu } = oneRegion()
    eu.down = true
    const store = memoryClientStore()
    const first = client(net, ['ws://eu.test'], { clientId: 'c-restart', store })
    first.lww('todos').put('a', { n: 1 })
    first.lww('todos').put('b', { n: 2 })
    await first.close()
    eu.down = false
    const second = client(net, ['ws://eu.test'], { clientId: 'c-restart', store })
    expect(second.lww('todos').get('a')).toEqual({ n: 1 })
    expect(second.outboxSize).toBe(2)
    const w = second.lww('todos').put('c', { n: 3 })
    expect(w.seq).toBe(3)
    await w.durable
    await until(() => second.outboxSize === 0)
    expect(eu.node.acceptedFrom('c-restart')).toBe(3)
  })

  it('with an asynchronous store, own changes leave the client only once the store made them durable', async () => {
    const { net, eu } = oneRegion()
    const pending: (() => void)[] = []
    const store: ClientStore = {
      load: () => [],
      append: () => new Promise<void>((resolve) => pending.push(resolve)),
      close: () => undefined,
    }
    const c = client(net, ['ws://eu.test'], { store })
    await until(() => c.status === 'connected')
    const todos = c.lww('todos')
    // Writes of one synchronous run settle together; these two are made in separate turns.
    const w1 = todos.put('a', { n: 1 })
    await settle()
    const w2 = todos.put('b', { n: 2 })
    expect(todos.get('b')).toEqual({ n: 2 })
    await settle()
    expect(eu.node.acceptedFrom(c.clientId)).toBe(0)
    pending.shift()?.()
    await until(() => eu.node.acceptedFrom(c.clientId) === 1)
    await w1.durable
    expect(await state(w2.durable)).toBe('pending')
    pending.shift()?.()
    await w2.durable
    expect(c.outboxSize).toBe(0)
  })
})

describe('client subscriptions', () => {
  it('subscribe and subscribeAll fire on local and remote changes until unsubscribed', async () => {
    const { net, eu } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    const todos = c.lww<{ title: string }>('todos')
    const one: unknown[] = []
    const all: [string, unknown][] = []
    const stopOne = todos.subscribe('t1', (doc) => one.push(doc))
    const stopAll = todos.subscribeAll((id, doc) => all.push([id, doc]))
    await until(() => c.status === 'connected')
    todos.put('t1', { title: 'local' })
    serverWrite(eu, 'todos', 't1', { title: 'remote' })
    serverWrite(eu, 'todos', 't2', { title: 'other' })
    await until(() => all.length === 3)
    expect(one).toEqual([{ title: 'local' }, { title: 'remote' }])
    expect(all).toEqual([
      ['t1', { title: 'local' }],
      ['t1', { title: 'remote' }],
      ['t2', { title: 'other' }],
    ])
    expect(todos.ids()).toEqual(['t1', 't2'])
    stopOne()
    stopAll()
    todos.put('t1', { title: 'again' })
    serverWrite(eu, 'todos', 't2', { title: 'again' })
    await until(() => todos.get('t2')?.title === 'again')
    expect(one).toHaveLength(2)
    expect(all).toHaveLength(3)
  })

  it('a throwing listener does not stop other listeners or the write', async () => {
    const net = new FakeNetwork()
    const c = client(net, ['ws://eu.test'])
    const errors: unknown[] = []
    const onUncaught = (error: unknown): void => void errors.push(error)
    process.on('uncaughtException', onUncaught)
    try {
      const todos = c.lww('todos')
      const seen: unknown[] = []
      todos.subscribe('t1', () => {
        throw new Error('app bug')
      })
      todos.subscribe('t1', (doc) => seen.push(doc))
      const w = todos.put('t1', { n: 1 })
      expect(w.seq).toBe(1)
      expect(seen).toEqual([{ n: 1 }])
      await until(() => errors.length === 1)
      expect(errors[0]).toMatchObject({ message: 'app bug' })
    } finally {
      process.off('uncaughtException', onUncaught)
    }
  })

  it('conflicts(id) lists writes that lost to concurrent ones, as observed here', async () => {
    const { net, eu } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    const todos = c.lww('todos')
    eu.down = true
    net.wallMs += 10
    todos.put('t1', { title: 'mine' })
    net.wallMs += 10
    serverWrite(eu, 'todos', 't1', { title: 'theirs' }) // later HLC: wins
    eu.down = false
    await until(() => todos.get('t1')?.['title'] === 'theirs')
    const [conflict] = todos.conflicts('t1')
    expect(conflict).toMatchObject({
      collection: 'todos',
      docId: 't1',
      field: 'title',
      winner: { origin: 'eu-1', value: 'theirs' },
      loser: { origin: c.clientId, value: 'mine' },
    })
  })

  it('[PF3] a change builds the view at most once, shared by every listener and get(); ids() builds none', () => {
    const c = client(new FakeNetwork(), ['ws://eu.test'])
    const todos = c.lww<Record<string, unknown>>('todos')
    const big: Record<string, unknown> = {}
    for (let i = 0; i < 2_000; i++) big[`f${i}`] = i
    todos.put('t1', big)
    todos.put('t2', { n: 1 })
    const seen: unknown[] = []
    todos.subscribe('t1', (doc) => seen.push(doc))
    todos.subscribe('t1', (doc) => seen.push(doc))
    todos.subscribeAll((_id, doc) => seen.push(doc))
    const builds = vi.spyOn(LwwReplica.prototype as unknown as { buildView(): unknown }, 'buildView')
    try {
      todos.patch('t1', { f7: 'patched' })
      expect(builds).toHaveBeenCalledTimes(1)
      expect(seen).toHaveLength(3)
      expect(seen[1]).toBe(seen[0])
      expect(seen[2]).toBe(seen[0])
      expect(todos.get('t1')).toBe(seen[0])
      expect(Object.isFrozen(seen[0])).toBe(true)
      expect(todos.get('t1')?.['f7']).toBe('patched')
      expect(todos.ids()).toEqual(['t1', 't2'])
      expect(builds).toHaveBeenCalledTimes(1)
    } finally {
      builds.mockRestore()
    }
  })

  it('a collection name is bound to one document type', () => {
    const c = client(new FakeNetwork(), ['ws://eu.test'])
    c.lww('todos')
    expect(() => c.yjs('todos')).toThrow(/used as lww/)
    expect(c.lww('todos')).toBe(c.lww('todos'))
  })
})

describe('client documents', () => {
  it('[CV2] a Yjs doc edited directly syncs between two clients through a region', async () => {
    const { net } = oneRegion()
    const alice = client(net, ['ws://eu.test'])
    const bob = client(net, ['ws://eu.test'])
    const a = alice.yjs('notes').open('n1')
    const b = bob.yjs('notes').open('n1')
    await until(() => alice.status === 'connected' && bob.status === 'connected')
    a.doc.getText('text').insert(0, 'hello')
    await until(() => b.doc.getText('text').toString() === 'hello')
    // Concurrent edits, one of them through edit(): both converge.
    b.doc.getText('text').insert(5, ' world')
    const w = alice.yjs('notes').edit('n1', (doc) => doc.getMap('root').set('title', 'greeting'))
    await w.durable
    await until(
      () =>
        a.doc.getText('text').toString() === 'hello world' &&
        b.doc.getMap('root').get('title') === 'greeting',
    )
    expect(bob.yjs('notes').get('n1')).toEqual(alice.yjs('notes').get('n1'))
    // Each local transaction became exactly one change.
    expect(alice.vector.get(alice.clientId)).toBe(2)
    expect(bob.vector.get(bob.clientId)).toBe(1)
  })

  it('a closed Yjs handle stops syncing: local edits stay local, remote ones stop; opening it again fetches its state', async () => {
    const { net } = oneRegion()
    const alice = client(net, ['ws://eu.test'])
    const bob = client(net, ['ws://eu.test'])
    const a1 = alice.yjs('notes').open('n1')
    const a2 = alice.yjs('notes').open('n1')
    const b = bob.yjs('notes').open('n1')
    expect(a1.doc).toBe(a2.doc)
    await until(() => alice.status === 'connected' && bob.status === 'connected')
    a1.close()
    a1.doc.getText('text').insert(0, 'x') // a2 still open: synced, once
    await until(() => b.doc.getText('text').toString() === 'x')
    expect(alice.vector.get(alice.clientId)).toBe(1)
    a2.close()
    a2.doc.getText('text').insert(1, 'local only')
    b.doc.getText('text').insert(0, '>')
    await settle()
    expect(a2.doc.getText('text').toString()).toBe('xlocal only')
    expect(alice.vector.get(alice.clientId)).toBe(1)
    expect(b.doc.getText('text').toString()).toBe('>x')
    // Open again: the document's state is fetched (its changes were skipped meanwhile).
    const a3 = alice.yjs('notes').open('n1')
    await until(() => a3.doc.getText('text').toString().startsWith('>'))
    expect(alice.vector.get(alice.clientId)).toBe(1)
  })

  it('[CV2] an Automerge change syncs to another client and notifies its subscribers', async () => {
    const { net } = oneRegion()
    const alice = client(net, ['ws://eu.test'])
    const bob = client(net, ['ws://eu.test'])
    type Board = { cards?: string[] }
    const seen: Board[] = []
    bob.automerge<Board>('boards').subscribe('b1', (doc) => seen.push(doc))
    alice.automerge<Board>('boards').open('b1')
    const w = alice.automerge<Board>('boards').change('b1', (d) => {
      d.cards = ['design']
    })
    await w.durable
    await until(() => bob.automerge<Board>('boards').get('b1').cards?.length === 1)
    bob.automerge<Board>('boards').change('b1', (d) => {
      d.cards?.push('review')
    })
    alice.automerge<Board>('boards').change('b1', (d) => {
      d.cards?.unshift('plan')
    })
    await until(() => alice.automerge<Board>('boards').get('b1').cards?.length === 3)
    await until(() => bob.automerge<Board>('boards').get('b1').cards?.length === 3)
    expect(alice.automerge('boards').get('b1')).toEqual({ cards: ['plan', 'design', 'review'] })
    expect(bob.automerge('boards').get('b1')).toEqual(alice.automerge('boards').get('b1'))
    expect(seen.at(0)).toEqual({ cards: ['design'] })
    expect(seen.at(-1)).toEqual({ cards: ['plan', 'design', 'review'] })
  })
})

describe('client connection', () => {
  it('reports connecting → connected, and offline when the region drops', async () => {
    const { net, eu } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    const statuses: string[] = [c.status]
    const stop = c.onStatus((s) => statuses.push(s))
    await until(() => c.status === 'connected')
    expect(c.server).toEqual({ nodeId: 'eu-1', region: 'eu.test' })
    eu.down = true
    eu.dropAll()
    await until(() => statuses.filter((s) => s === 'offline').length >= 1)
    eu.down = false
    await until(() => c.status === 'connected')
    stop()
    expect(statuses.slice(0, 4)).toEqual(['connecting', 'connected', 'offline', 'connecting'])
    expect(statuses.at(-1)).toBe('connected')
  })

  it('moves to the next URL when the first refuses, and keeps syncing there', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1')
    const us = net.addRegion('us.test', 'us-1')
    eu.down = true
    const c = client(net, ['ws://eu.test', 'ws://us.test'])
    const errors: ConnectionError[] = []
    c.onError((e) => errors.push(e))
    const w = c.lww('todos').put('t1', { n: 1 })
    await w.durable
    expect(c.server?.nodeId).toBe('us-1')
    expect(us.node.acceptedFrom(c.clientId)).toBe(1)
    expect(net.sockets[0]?.url).toBe('ws://eu.test/sync')
    expect(errors[0]).toMatchObject({ code: 'NETWORK', fatal: false, url: 'ws://eu.test/sync' })
  })

  it('fails over between linked regions and keeps syncing with clients of the other region', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1')
    const us = net.addRegion('us.test', 'us-1')
    eu.link(us)
    const mover = client(net, ['ws://eu.test', 'ws://us.test'])
    const stayer = client(net, ['ws://us.test'])
    await until(() => mover.server?.nodeId === 'eu-1' && stayer.status === 'connected')
    mover.lww('todos').put('a', { n: 1 })
    await until(() => stayer.lww('todos').get('a') !== null)
    eu.down = true
    eu.dropAll(CloseCode.SHUTTING_DOWN)
    await until(() => mover.server?.nodeId === 'us-1')
    mover.lww('todos').put('b', { n: 2 })
    stayer.lww('todos').put('c', { n: 3 })
    await until(() => stayer.lww('todos').get('b') !== null && mover.lww('todos').get('c') !== null)
    expect(mover.stats.duplicates).toBe(0)
  })

  it('UNAUTHORIZED stops retrying and reports a typed, fatal error', async () => {
    const { net } = oneRegion({ token: 'right' })
    const c = client(net, ['ws://eu.test'], { token: 'wrong' })
    const errors: ConnectionError[] = []
    c.onError((e) => errors.push(e))
    await until(() => errors.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 50)) // several backoff periods
    expect(net.sockets).toHaveLength(1)
    expect(c.status).toBe('offline')
    expect(c.error).toBeInstanceOf(ConnectionError)
    expect(c.error).toMatchObject({ code: 'UNAUTHORIZED', fatal: true, closeCode: CloseCode.UNAUTHORIZED })
    expect(c.error?.serverMessage).toMatch(/UNAUTHORIZED/)
  })

  it('the right token is accepted', async () => {
    const { net } = oneRegion({ token: 'right' })
    const c = client(net, ['ws://eu.test'], { token: 'right' })
    await until(() => c.status === 'connected')
  })

  it('VERSION_MISMATCH (by close code or by the accept frame) stops retrying', async () => {
    const net = new FakeNetwork()
    net.addRegion('old.test', 'old-1', { protocolVersion: 99 })
    const c = client(net, ['ws://old.test'])
    await until(() => c.error !== null)
    expect(c.error).toMatchObject({ code: 'VERSION_MISMATCH', fatal: true })
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(net.sockets).toHaveLength(1)
  })

  it('OVERLOADED and SHUTTING_DOWN are retried', async () => {
    const { net, eu } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    const errors: ConnectionError[] = []
    c.onError((e) => errors.push(e))
    await until(() => c.status === 'connected')
    eu.dropAll(CloseCode.OVERLOADED)
    await until(() => errors.length === 1 && c.status === 'connected')
    eu.dropAll(CloseCode.SHUTTING_DOWN)
    await until(() => errors.length === 2 && c.status === 'connected')
    expect(errors.map((e) => [e.code, e.fatal])).toEqual([
      ['OVERLOADED', false],
      ['SHUTTING_DOWN', false],
    ])
    expect(c.error).toBeNull()
  })

  it('RESYNC_LIMIT is retried, after the longest backoff delay', async () => {
    const { net, eu } = oneRegion()
    const delays: number[] = []
    const timers = {
      setTimeout: (fn: () => void, ms: number) => {
        delays.push(ms)
        return setTimeout(fn, ms)
      },
      clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    }
    const c = client(net, ['ws://eu.test'], { minDelayMs: 2, maxDelayMs: 80, handshakeTimeoutMs: 1_000, timers })
    const errors: ConnectionError[] = []
    c.onError((e) => errors.push(e))
    await until(() => c.status === 'connected')
    eu.dropAll(CloseCode.OVERLOADED)
    await until(() => errors.length === 1 && c.status === 'connected')
    const afterOverloaded = delays.filter((ms) => ms !== 1_000)
    eu.dropAll(CloseCode.RESYNC_LIMIT)
    await until(() => errors.length === 2 && c.status === 'connected')
    const afterLimit = delays.filter((ms) => ms !== 1_000).slice(afterOverloaded.length)
    expect(errors.map((e) => [e.code, e.fatal, e.closeCode])).toEqual([
      ['OVERLOADED', false, CloseCode.OVERLOADED],
      ['RESYNC_LIMIT', false, CloseCode.RESYNC_LIMIT],
    ])
    // OVERLOADED after a good session: the first step (1–2 ms); RESYNC_LIMIT: the cap (40–80 ms).
    expect(afterOverloaded.at(-1)).toBeLessThanOrEqual(2)
    expect(afterLimit).toHaveLength(1)
    expect(afterLimit[0]).toBeGreaterThanOrEqual(40)
    expect(afterLimit[0]).toBeLessThanOrEqual(80)
    expect(c.error).toBeNull()
  })

  it('a region that never answers the handshake times out and the client moves on', async () => {
    const net = new FakeNetwork()
    net.addRegion('mute.test', 'mute-1', { silent: true })
    net.addRegion('us.test', 'us-1')
    const c = client(net, ['ws://mute.test', 'ws://us.test'], { handshakeTimeoutMs: 20 })
    const errors: ConnectionError[] = []
    c.onError((e) => errors.push(e))
    await until(() => c.server?.nodeId === 'us-1')
    expect(errors[0]).toMatchObject({ code: 'HANDSHAKE_TIMEOUT', fatal: false })
  })

  it('sends a client handshake with its id and token, and binary frames', async () => {
    const { net } = oneRegion()
    const c = client(net, ['ws://eu.test'], { clientId: 'c-fixed', token: 'tok' })
    await until(() => c.status === 'connected')
    const socket = net.sockets[0]
    expect(socket?.binaryType).toBe('arraybuffer')
    expect(socket?.sent[0]).toEqual({
      type: MessageType.Handshake,
      protocolVersion: PROTOCOL_VERSION,
      role: 'client',
      identity: 'c-fixed',
      region: '',
      credentials: 'tok',
    })
    // What it syncs (nothing yet), then its position.
    expect(socket?.sent[1]?.type).toBe(MessageType.Subscribe)
    expect(socket?.sent[2]?.type).toBe(MessageType.VersionVector)
  })

  it('draws a c- prefixed client id when none is given', () => {
    const c = client(new FakeNetwork(), ['ws://eu.test'])
    expect(c.clientId).toMatch(/^c-[0-9a-z]{12}$/)
  })

  it('rejects bad options at once', () => {
    const net = new FakeNetwork()
    expect(() => createClient({ urls: [], WebSocket: net.WebSocket })).toThrow(/at least one/)
    expect(() => createClient({ urls: ['http://eu.test'], WebSocket: net.WebSocket })).toThrow(/ws:\/\//)
    expect(() => createClient({ urls: ['ws://eu.test'], WebSocket: net.WebSocket, minDelayMs: 10, maxDelayMs: 5 })).toThrow(
      /maxDelayMs/,
    )
  })
})

/** A write made at the region itself (as REST would), durable at once. */
function serverWrite(region: FakeRegion, collection: string, docId: string, doc: Record<string, unknown>): void {
  const replica = region.node.replica(collection, docId, 'lww') as LwwReplica
  region.node.commit(collection, docId, 'lww', lwwPatchPayload(replica, doc))
  region.flushDurable()
}


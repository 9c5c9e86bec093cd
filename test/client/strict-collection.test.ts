import { describe, expect, it } from 'vitest'

import { ClientClosedError, StrictReadFailed, StrictWriteRejected } from '../../client/errors.js'
import { memoryClientStore, type ClientStore, type StoredStrictWrite } from '../../client/store.js'
import type { StrictWriteOutcome } from '../../client/strict-queue.js'
import { decodeMessage, encodeMessage } from '../../core/codec/codec.js'
import { MessageType } from '../../core/codec/messages.js'
import type { StrictReadReply, StrictReadRequest, StrictWriteReply, StrictWriteRequest } from '../../core/strict/requests.js'
import type { StoredDocument } from '../../core/strict/types.js'
import { fakeClients, settle, state, until } from './fake-client.js'
import { FakeNetwork, type FakeRegion } from './fake-server.js'

const client = fakeClients(100)

/**
 * The strict side of a fake region: answers the StrictWrite / StrictRead frames of its client
 * sessions as `onWrite` / `onRead` say (they may keep `reply` and answer later, or never). The
 * default acknowledges every write at the concern asked, at the next LSN, and reads "not found" at
 * the last LSN.
 */
interface StrictFake {
  readonly writes: StrictWriteRequest[]
  readonly reads: StrictReadRequest[]
  epoch: number
  lsn: number
  onWrite(request: StrictWriteRequest, reply: (reply: StrictWriteReply) => void): void
  onRead(request: StrictReadRequest, reply: (reply: StrictReadReply) => void): void
}

function acknowledge(fake: StrictFake, request: StrictWriteRequest): Extract<StrictWriteReply, { status: 'acknowledged' }> {
  fake.lsn += 1
  return { status: 'acknowledged', token: { epoch: fake.epoch, lsn: fake.lsn }, requested: request.concern, level: request.concern, degraded: false }
}

function readOk(fake: StrictFake, node: string, document: StoredDocument | null = null): Extract<StrictReadReply, { status: 'ok' }> {
  return { status: 'ok', document, node, appliedLsn: fake.lsn, appliedEpoch: fake.epoch, lagMs: 0, lagEntries: 0 }
}

function strictServer(region: FakeRegion): StrictFake {
  const fake: StrictFake = {
    writes: [],
    reads: [],
    epoch: 1,
    lsn: 0,
    onWrite: (request, reply) => reply(acknowledge(fake, request)),
    onRead: (_request, reply) => reply(readOk(fake, region.nodeId)),
  }
  const crdt = region.receive.bind(region)
  region.receive = (socket, bytes) => {
    if (socket.clientId !== null) {
      const message = decodeMessage(bytes)
      if (message.type === MessageType.StrictWrite) {
        fake.writes.push(message.request)
        const requestId = message.requestId
        fake.onWrite(message.request, (reply) => socket.deliver(encodeMessage({ type: MessageType.StrictWriteResult, requestId, reply })))
        return
      }
      if (message.type === MessageType.StrictRead) {
        fake.reads.push(message.request)
        const requestId = message.requestId
        fake.onRead(message.request, (reply) => socket.deliver(encodeMessage({ type: MessageType.StrictReadResult, requestId, reply })))
        return
      }
    }
    crdt(socket, bytes)
  }
  return fake
}

function oneRegion(): { net: FakeNetwork; eu: FakeRegion; strict: StrictFake } {
  const net = new FakeNetwork()
  const eu = net.addRegion('eu.test', 'eu-1')
  return { net, eu, strict: strictServer(eu) }
}

const ids = (writes: readonly StrictWriteRequest[]): string[] => writes.map((w) => (w.op.kind === 'batch' ? 'batch' : w.op.id))

type Account = { owner: string; balance: number }

describe('strict writes', () => {
  it('carry request keys within the 200 characters the server accepts, whatever the clientId', async () => {
    const { net, strict } = oneRegion()
    const clientId = `${'x'.repeat(173)}😀${'y'.repeat(100)}`
    const c = client(net, ['ws://eu.test'], { clientId })
    await until(() => c.status === 'connected')
    await c.strict<Account>('accounts').put('a', { owner: 'ann', balance: 1 })
    const key = strict.writes[0]?.requestKey ?? ''
    expect(key.length).toBeLessThanOrEqual(200)
    expect(key).toMatch(new RegExp(`^x{173}:[0-9a-z]{8}:1$`))
  })

  it('map acknowledged and indeterminate replies to results, and build the ops asked for', async () => {
    const { net, strict } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const accounts = c.strict<Account>('accounts')
    expect(c.strict('accounts')).toBe(accounts)
    expect(() => c.lww('accounts')).toThrow(TypeError)

    const put = await accounts.put('a', { owner: 'ann', balance: 10 }, { expectVersion: 0, timeoutMs: 500 })
    expect(put).toEqual({ status: 'acknowledged', token: '1:1', position: { epoch: 1, lsn: 1 }, requested: 'majority', level: 'majority', degraded: false })
    expect(strict.writes[0]).toEqual({
      op: { kind: 'put', collection: 'accounts', id: 'a', value: { owner: 'ann', balance: 10 }, precondition: { expectVersion: 0 } },
      concern: 'majority',
      timeoutMs: 500,
      // clientId, a random part of this client instance, writeId: at most once on the cluster.
      requestKey: expect.stringMatching(new RegExp(`^${c.clientId}:[0-9a-z]{8}:1$`)),
    })

    strict.onWrite = (request, reply) => {
      strict.lsn += 1
      reply({ status: 'acknowledged', token: { epoch: 1, lsn: strict.lsn }, requested: request.concern, level: 'local', degraded: true })
    }
    expect(await accounts.patch('a', { balance: 5 }, { w: 'one', exists: true })).toMatchObject({ status: 'acknowledged', level: 'local', degraded: true, token: '1:2' })
    expect(strict.writes[1]).toEqual({
      op: { kind: 'patch', collection: 'accounts', id: 'a', fields: { balance: 5 }, precondition: { exists: true } },
      concern: 'one',
      timeoutMs: null,
      requestKey: strict.writes[0]?.requestKey?.replace(/:1$/, ':2'),
    })

    strict.onWrite = (request, reply) =>
      reply({ status: 'indeterminate', token: { epoch: 1, lsn: 3 }, requested: request.concern, reason: 'timeout', reached: 'local' })
    expect(await accounts.delete('a', { w: 'all' })).toEqual({
      status: 'indeterminate',
      reason: 'timeout',
      reached: 'local',
      token: '1:3',
      position: { epoch: 1, lsn: 3 },
      requested: 'all',
    })
    expect(strict.writes[2]?.op).toEqual({ kind: 'delete', collection: 'accounts', id: 'a' })

    strict.onWrite = (request, reply) => reply(acknowledge(strict, request))
    await accounts.batch([
      { kind: 'patch', id: 'a', fields: { balance: null }, expectVersion: 2 },
      { kind: 'put', collection: 'ledger', id: 'tx1', value: [1, 'two', null], exists: false },
    ])
    expect(strict.writes[3]?.op).toEqual({
      kind: 'batch',
      ops: [
        { kind: 'patch', collection: 'accounts', id: 'a', fields: { balance: null }, precondition: { expectVersion: 2 } },
        { kind: 'put', collection: 'ledger', id: 'tx1', value: [1, 'two', null], precondition: { exists: false } },
      ],
    })
    expect(accounts.pending()).toEqual([])
  })

  it('[ST3] PRECONDITION_FAILED rejects with StrictWriteRejected carrying the details and a readable message', async () => {
    const { net, strict } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    const accounts = c.strict<Account>('accounts')
    const outcomes: StrictWriteOutcome[] = []
    accounts.onOutcome((outcome) => outcomes.push(outcome))
    strict.onWrite = (_request, reply) =>
      reply({
        status: 'rejected',
        error: { code: 'PRECONDITION_FAILED', key: 'ledger/tx1', opIndex: 1, expected: { exists: false }, actualVersion: 4 },
      })
    const attempt = accounts.batch([
      { kind: 'patch', id: 'a', fields: { balance: 0 } },
      { kind: 'put', collection: 'ledger', id: 'tx1', value: { amount: 10 }, exists: false },
    ])
    const error = await attempt.then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(StrictWriteRejected)
    expect(error).toMatchObject({
      code: 'PRECONDITION_FAILED',
      key: 'ledger/tx1',
      collection: 'ledger',
      id: 'tx1',
      opIndex: 1,
      expected: { exists: false },
      actualVersion: 4,
    })
    expect((error as Error).message).toBe('ledger/tx1 was changed by someone else: expected it not to exist, but it is at version 4 (op 1 of the batch; nothing in it was written)')
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]).toMatchObject({ status: 'rejected', result: null, error, write: { collection: 'accounts', restored: false, state: 'sent' } })

    strict.onWrite = (_request, reply) => reply({ status: 'rejected', error: { code: 'UNAVAILABLE', message: 'no primary reachable within 5000 ms' } })
    await expect(accounts.put('a', { owner: 'ann', balance: 1 })).rejects.toMatchObject({ code: 'UNAVAILABLE', opIndex: null })
    strict.onWrite = (_request, reply) => reply({ status: 'rejected', error: { code: 'INVALID_OP', message: 'no collection "accounts"' } })
    await expect(accounts.delete('a')).rejects.toMatchObject({ name: 'StrictWriteRejected', code: 'INVALID_OP' })
  })

  it('programmer errors throw at the call', () => {
    const net = new FakeNetwork()
    const accounts = client(net, ['ws://eu.test']).strict('accounts')
    expect(() => accounts.put('', 1)).toThrow(TypeError)
    expect(() => accounts.put('a', 1, { w: 'most' as never })).toThrow(/w must be one of/)
    expect(() => accounts.put('a', 1, { expectVersion: -1 })).toThrow(/expectVersion/)
    expect(() => accounts.batch([])).toThrow(/at least one op/)
    expect(() => accounts.get('a', { after: 'yesterday' })).toThrow(/not a strict token/)
  })

  it('a value the server would refuse is rejected with INVALID_VALUE before it is queued', async () => {
    const net = new FakeNetwork()
    const accounts = client(net, ['ws://eu.test']).strict('accounts')
    await expect(accounts.put('a', { f: (() => 1) as never })).rejects.toMatchObject({ name: 'StrictWriteRejected', code: 'INVALID_VALUE', path: '$.f' })
    await expect(accounts.put('a', { n: Infinity })).rejects.toMatchObject({ code: 'INVALID_VALUE', path: '$.n' })
    let deep: unknown = 1
    for (let i = 0; i < 100; i++) deep = [deep]
    await expect(accounts.batch([{ kind: 'put', id: 'b', value: 1 }, { kind: 'patch', id: 'c', fields: { d: deep as never } }]))
      .rejects.toMatchObject({ code: 'INVALID_VALUE', limit: 64 })
    expect(accounts.pending()).toEqual([])
  })
})

describe('strict offline queue', () => {
  it('writes made offline are queued in order, sent after the handshake, and resolve', async () => {
    const { net, eu, strict } = oneRegion()
    eu.down = true
    const store = memoryClientStore()
    const c = client(net, ['ws://eu.test'], { store })
    const accounts = c.strict<Account>('accounts')
    const writes = [
      accounts.put('a', { owner: 'ann', balance: 1 }),
      accounts.patch('b', { balance: 2 }),
      accounts.delete('c', { w: 'local' }),
    ]
    await until(() => net.sockets.length >= 2) // it keeps retrying
    expect(accounts.pending().map((p) => [p.writeId, p.op.kind, p.state, p.restored])).toEqual([
      [1, 'put', 'queued', false],
      [2, 'patch', 'queued', false],
      [3, 'delete', 'queued', false],
    ])
    expect([...store.strictWrites.values()].map((w) => [w.writeId, w.sent])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ])
    expect(strict.writes).toEqual([])

    eu.down = false
    const results = await Promise.all(writes)
    expect(results.map((r) => r.token)).toEqual(['1:1', '1:2', '1:3'])
    expect(ids(strict.writes)).toEqual(['a', 'b', 'c'])
    expect(accounts.pending()).toEqual([])
    expect(store.strictWrites.size).toBe(0)
  })

  it('one write in flight at a time: the next waits for the answer to the previous', async () => {
    const { net, strict } = oneRegion()
    const held: (() => void)[] = []
    strict.onWrite = (request, reply) => held.push(() => reply(acknowledge(strict, request)))
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const accounts = c.strict('accounts')
    const first = accounts.put('a', 1)
    const second = accounts.put('b', 2)
    await settle()
    expect(ids(strict.writes)).toEqual(['a'])
    expect(accounts.pending().map((p) => p.state)).toEqual(['sent', 'queued'])
    held.shift()?.()
    await first
    await until(() => strict.writes.length === 2)
    expect(await state(second)).toBe('pending')
    held.shift()?.()
    expect(await second).toMatchObject({ status: 'acknowledged', token: '1:2' })
  })

  it('strictMaxInFlight pipelines writes, still sent in order', async () => {
    const { net, eu, strict } = oneRegion()
    eu.down = true
    const held: (() => void)[] = []
    strict.onWrite = (request, reply) => held.push(() => reply(acknowledge(strict, request)))
    const c = client(net, ['ws://eu.test'], { strictMaxInFlight: 2 })
    const accounts = c.strict('accounts')
    const writes = ['a', 'b', 'c'].map((id) => accounts.put(id, id))
    eu.down = false
    await until(() => strict.writes.length === 2)
    await settle()
    expect(ids(strict.writes)).toEqual(['a', 'b'])
    expect(accounts.pending().map((p) => p.state)).toEqual(['sent', 'sent', 'queued'])
    held.shift()?.()
    await until(() => strict.writes.length === 3)
    while (held.length > 0) held.shift()?.()
    expect((await Promise.all(writes)).map((r) => r.token)).toEqual(['1:1', '1:2', '1:3'])
  })

  it('[ST3] a sent write with no answer in time resolves indeterminate "timeout"; a late answer is ignored', async () => {
    const { net, strict } = oneRegion()
    const late: (() => void)[] = []
    strict.onWrite = (request, reply) => late.push(() => reply(acknowledge(strict, request)))
    // Long timers (the answer deadline) fire by hand; short ones (reconnects, handshake) for real.
    const deadlines: { fn: () => void; ms: number }[] = []
    const timers = {
      setTimeout: (fn: () => void, ms: number): unknown => (ms >= 1_000 ? deadlines.push({ fn, ms }) : setTimeout(fn, ms)),
      clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
    }
    const c = client(net, ['ws://eu.test'], { timers, handshakeTimeoutMs: 900 })
    await until(() => c.status === 'connected')
    const accounts = c.strict('accounts')
    const write = accounts.put('a', 1, { timeoutMs: 100 })
    const next = accounts.put('b', 2)
    await until(() => strict.writes.length === 1)
    expect(deadlines.map((d) => d.ms)).toEqual([2_100])
    deadlines[0]?.fn()
    expect(await write).toMatchObject({ status: 'indeterminate', reason: 'timeout', token: null })
    late.shift()?.() // the answer to 'a' arrives after all: nothing more happens
    await until(() => strict.writes.length === 2)
    late.shift()?.()
    expect(await next).toMatchObject({ status: 'acknowledged', token: '1:2' })
    expect(accounts.pending()).toEqual([])
  })

  it('a sent write whose connection drops is resent with the same key after reconnect and resolves with the server\'s answer', async () => {
    const { net, eu, strict } = oneRegion()
    // The server logs the first send (1:1) but the answer is lost with the connection.
    const logged = new Map<string, Extract<StrictWriteReply, { status: 'acknowledged' }>>()
    strict.onWrite = (request) => {
      logged.set(request.requestKey as string, acknowledge(strict, request))
    }
    const store = memoryClientStore()
    const c = client(net, ['ws://eu.test'], { store })
    await until(() => c.status === 'connected')
    const accounts = c.strict('accounts')
    const outcomes: StrictWriteOutcome[] = []
    c.onStrictOutcome((outcome) => outcomes.push(outcome))
    const sent = accounts.put('a', 1)
    const queued = accounts.put('b', 2)
    await until(() => strict.writes.length === 1)
    expect(store.strictWrites.get(1)?.sent).toBe(true)

    // The next session: a key the server has seen is answered with its first entry, marked duplicate.
    strict.onWrite = (request, reply) => {
      const first = logged.get(request.requestKey as string)
      reply(first ? { ...first, duplicate: true } : acknowledge(strict, request))
    }
    eu.down = true
    eu.dropAll()
    await settle()
    // Back in the queue, in its place, waiting for a connection (not indeterminate).
    expect(accounts.pending().map((p) => [p.writeId, p.state])).toEqual([
      [1, 'queued'],
      [2, 'queued'],
    ])
    expect(await state(sent)).toBe('pending')
    expect(store.strictWrites.get(1)?.sent).toBe(true) // a restart now would not send it as new
    eu.down = false
    expect(await sent).toEqual({ status: 'acknowledged', token: '1:1', position: { epoch: 1, lsn: 1 }, requested: 'majority', level: 'majority', degraded: false, duplicate: true })
    expect(await queued).toMatchObject({ status: 'acknowledged', token: '1:2' })
    expect(await queued).not.toHaveProperty('duplicate')
    // Sent twice, with the same key; the never-answered one first, in its place.
    expect(ids(strict.writes)).toEqual(['a', 'a', 'b'])
    expect(strict.writes[1]?.requestKey).toBe(strict.writes[0]?.requestKey)
    expect(new Set(strict.writes.map((w) => w.requestKey)).size).toBe(2)
    expect(eu.handshakes).toBe(2)
    expect(outcomes.map((o) => [o.write.writeId, o.status])).toEqual([
      [1, 'acknowledged'],
      [2, 'acknowledged'],
    ])
    expect(store.strictWrites.size).toBe(0)
  })

  it('[ST3] a dropped write that cannot be resent before its timeout resolves indeterminate "unreachable"', async () => {
    const { net, eu, strict } = oneRegion()
    strict.onWrite = () => undefined // the answer never comes
    // Long timers (the answer deadline) fire by hand; short ones (reconnects, handshake) for real.
    const deadlines: { fn: () => void; ms: number }[] = []
    const timers = {
      setTimeout: (fn: () => void, ms: number): unknown => (ms >= 1_000 ? deadlines.push({ fn, ms }) : setTimeout(fn, ms)),
      clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
    }
    const c = client(net, ['ws://eu.test'], { timers, handshakeTimeoutMs: 900 })
    await until(() => c.status === 'connected')
    const write = c.strict('accounts').put('a', 1, { timeoutMs: 100 })
    await until(() => strict.writes.length === 1)
    eu.down = true
    eu.dropAll()
    await settle()
    expect(c.strict('accounts').pending().map((p) => p.state)).toEqual(['queued'])
    // One deadline from the first send, not extended by the wait for a connection.
    expect(deadlines.map((d) => d.ms)).toEqual([2_100])
    deadlines[0]?.fn()
    expect(await write).toEqual({ status: 'indeterminate', reason: 'unreachable', reached: null, token: null, position: null, requested: 'majority' })
    eu.down = false
    await until(() => c.status === 'connected')
    await settle()
    expect(strict.writes).toHaveLength(1) // settled: never sent again
  })

  it('queued writes survive a restart with a persistent store; the new client sends them and reports their outcomes', async () => {
    const { net, eu, strict } = oneRegion()
    strict.onWrite = () => undefined
    const store = memoryClientStore()
    const first = client(net, ['ws://eu.test'], { store, clientId: 'c-strict' })
    await until(() => first.status === 'connected')
    const accounts1 = first.strict('accounts')
    const inFlight = accounts1.put('x', 'sent before the restart')
    const queued = [accounts1.put('y', 1), first.strict('ledger').batch([{ kind: 'put', id: 't1', value: 2 }])]
    await until(() => strict.writes.length === 1)
    await first.close()
    await expect(inFlight).rejects.toBeInstanceOf(ClientClosedError)
    for (const write of queued) await expect(write).rejects.toBeInstanceOf(ClientClosedError)
    expect([...store.strictWrites.values()].map((w) => [w.writeId, w.collection, w.sent])).toEqual([
      [1, 'accounts', true],
      [2, 'accounts', false],
      [3, 'ledger', false],
    ])

    // The restart: a new client on the same store.
    strict.onWrite = (request, reply) => reply(acknowledge(strict, request))
    const second = client(net, ['ws://eu.test'], { store, clientId: 'c-strict' })
    const accounts2 = second.strict('accounts')
    const accountOutcomes: StrictWriteOutcome[] = []
    accounts2.onOutcome((outcome) => accountOutcomes.push(outcome))
    expect(accounts2.pending().map((p) => [p.writeId, p.state, p.restored])).toEqual([[2, 'queued', true]])
    const fresh = accounts2.put('z', 3)
    expect(accounts2.pending().map((p) => p.writeId)).toEqual([2, 4])
    expect(await fresh).toMatchObject({ status: 'acknowledged' })
    await until(() => accountOutcomes.length === 3)
    expect(accountOutcomes.map((o) => [o.write.writeId, o.status, o.write.restored, o.result?.status === 'indeterminate' ? o.result.reason : o.result?.token])).toEqual([
      [1, 'indeterminate', true, 'unreachable'], // sent by the first client: reported, not resent
      [2, 'acknowledged', true, '1:1'],
      [4, 'acknowledged', false, '1:3'],
    ])
    // The ledger write settled before anyone listened for it: held for the first listener.
    const ledgerOutcomes: StrictWriteOutcome[] = []
    second.onStrictOutcome((outcome) => ledgerOutcomes.push(outcome))
    await settle()
    expect(ledgerOutcomes.map((o) => [o.write.writeId, o.write.collection, o.status])).toEqual([[3, 'ledger', 'acknowledged']])
    expect(ids(strict.writes)).toEqual(['x', 'y', 'batch', 'z'])
    expect(store.strictWrites.size).toBe(0)
  })

  it('with an asynchronous store, a queued write leaves only once the store holds it as sent', async () => {
    const { net, eu, strict } = oneRegion()
    eu.down = true
    const records = new Map<number, StoredStrictWrite>()
    const pendingSaves: (() => void)[] = []
    const store: ClientStore = {
      load: () => [],
      append: () => undefined,
      close: () => undefined,
      loadStrictWrites: () => [...records.values()],
      saveStrictWrite: (write) =>
        new Promise<void>((resolve) =>
          pendingSaves.push(() => {
            records.set(write.writeId, write)
            resolve()
          }),
        ),
      deleteStrictWrite: (writeId) => {
        records.delete(writeId)
      },
    }
    const c = client(net, ['ws://eu.test'], { store })
    const write = c.strict('accounts').put('a', 1)
    pendingSaves.shift()?.() // the queued record
    expect(records.get(1)?.sent).toBe(false)
    eu.down = false
    await until(() => c.status === 'connected')
    await settle()
    expect(strict.writes).toEqual([])
    pendingSaves.shift()?.() // "sent" is durable: now it may go
    expect(await write).toMatchObject({ status: 'acknowledged' })
    expect(ids(strict.writes)).toEqual(['a'])
    expect(records.size).toBe(0)
  })
})

describe('strict reads', () => {
  it('return the document with its version, token and node, or null; failures reject with StrictReadFailed', async () => {
    const { net, strict } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const accounts = c.strict<Account>('accounts')
    strict.lsn = 4
    strict.onRead = (_request, reply) => reply({ ...readOk(strict, 'eu-1', { value: { owner: 'ann', balance: 3 }, version: 2 }), lagMs: 15 })
    expect(await accounts.get('a', { read: 'nearest', maxStalenessMs: 100, timeoutMs: 50 })).toEqual({
      value: { owner: 'ann', balance: 3 },
      version: 2,
      token: '1:4',
      position: { epoch: 1, lsn: 4 },
      node: 'eu-1',
      lagMs: 15,
    })
    expect(strict.reads[0]).toEqual({ collection: 'accounts', id: 'a', after: null, read: 'nearest', maxStalenessMs: 100, timeoutMs: 50 })
    strict.onRead = (_request, reply) => reply(readOk(strict, 'eu-1'))
    expect(await accounts.get('missing')).toBeNull()
    expect(strict.reads[1]).toMatchObject({ read: 'primary', maxStalenessMs: null, timeoutMs: null })
    strict.onRead = (_request, reply) => reply({ status: 'rejected', error: { code: 'NOT_YET', message: 'eu-1 has applied up to lsn 4, not yet 9' } })
    const error = await accounts.get('a', { after: '1:9' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StrictReadFailed)
    expect(error).toMatchObject({ code: 'NOT_YET' })
  })

  it('[RD2] every read asks for the highest position the session has seen, also after failing over to another region', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1')
    const us = net.addRegion('us.test', 'us-1')
    const euStrict = strictServer(eu)
    const usStrict = strictServer(us)
    const c = client(net, ['ws://eu.test', 'ws://us.test'])
    await until(() => c.server?.nodeId === 'eu-1')
    const accounts = c.strict('accounts')
    expect(c.strictToken).toBeNull()

    euStrict.epoch = 2
    euStrict.lsn = 7
    await accounts.get('a')
    expect(euStrict.reads[0]?.after).toBeNull()
    expect(c.strictToken).toBe('2:7')

    await accounts.put('a', 1) // acknowledged at majority at 2:8
    await accounts.get('a')
    expect(euStrict.reads[1]?.after).toEqual({ epoch: 2, lsn: 8 })

    // A local-level acknowledgement may yet be rolled back: the session does not wait on it.
    await accounts.put('b', 1, { w: 'local' })
    expect(c.strictToken).toBe('2:8')
    // An explicit `after` later than the session's wins; an earlier one does not lower it.
    await accounts.get('a', { after: '3:20' })
    expect(euStrict.reads[2]?.after).toEqual({ epoch: 3, lsn: 20 })
    await accounts.get('a', { after: '1:1' })
    expect(euStrict.reads[3]?.after).toEqual({ epoch: 2, lsn: 9 })
    expect(c.strictToken).toBe('2:9')

    // Same lsn, later epoch: later.
    euStrict.epoch = 3
    await accounts.get('a')
    expect(c.strictToken).toBe('3:9')

    eu.down = true
    eu.dropAll()
    await until(() => c.server?.nodeId === 'us-1')
    usStrict.epoch = 3
    usStrict.lsn = 5 // a lagging region that (wrongly) answers anyway: the session does not go back
    await accounts.get('a')
    expect(usStrict.reads[0]?.after).toEqual({ epoch: 3, lsn: 9 })
    expect(c.strictToken).toBe('3:9')
    usStrict.lsn = 12
    await accounts.get('a')
    await accounts.get('a')
    expect(usStrict.reads[2]?.after).toEqual({ epoch: 3, lsn: 12 })
  })

  it('reads offline reject at once with UNAVAILABLE; a read whose connection drops rejects UNAVAILABLE', async () => {
    const { net, eu, strict } = oneRegion()
    eu.down = true
    const c = client(net, ['ws://eu.test'])
    const accounts = c.strict('accounts')
    const offline = accounts.get('a')
    expect(await state(offline)).toBe('rejected')
    await expect(offline).rejects.toMatchObject({ name: 'StrictReadFailed', code: 'UNAVAILABLE' })
    expect(strict.reads).toEqual([])

    eu.down = false
    await until(() => c.status === 'connected')
    strict.onRead = () => undefined
    const dropped = accounts.get('a')
    await until(() => strict.reads.length === 1)
    eu.dropAll()
    await expect(dropped).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await until(() => c.status === 'connected')
    expect(strict.reads).toHaveLength(1) // reads are not resent
  })

  it('close rejects pending reads and later writes with ClientClosedError', async () => {
    const { net, strict } = oneRegion()
    strict.onRead = () => undefined
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const accounts = c.strict('accounts')
    const read = accounts.get('a')
    await until(() => strict.reads.length === 1)
    await c.close()
    await expect(read).rejects.toBeInstanceOf(ClientClosedError)
    await expect(accounts.put('a', 1)).rejects.toBeInstanceOf(ClientClosedError)
    expect(() => c.strict('other')).toThrow(ClientClosedError)
  })
})

describe('strict read routing (docs/client.md, "Read routing")', () => {
  it('a collection default routes reads; a read\'s own options override it; primary() is the escape hatch; writes are unchanged', async () => {
    const { net, strict } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const accounts = c.strict<Account>('accounts', { read: 'nearest', maxStalenessMs: 500 })
    expect(accounts.readDefaults).toEqual({ read: 'nearest', maxStalenessMs: 500 })
    await accounts.get('a')
    expect(strict.reads[0]).toMatchObject({ read: 'nearest', maxStalenessMs: 500 })
    await accounts.get('a', { read: 'replica' })
    expect(strict.reads[1]).toMatchObject({ read: 'replica', maxStalenessMs: 500 })
    await accounts.get('a', { maxStalenessMs: 20 })
    expect(strict.reads[2]).toMatchObject({ read: 'nearest', maxStalenessMs: 20 })
    await accounts.primary().get('a')
    expect(strict.reads[3]).toMatchObject({ read: 'primary' })
    await accounts.get('a', { read: 'linearizable' })
    expect(strict.reads[4]).toMatchObject({ read: 'linearizable' })
    // Without defaults, the same collection object reads at the primary, as before.
    await c.strict<Account>('accounts').get('a')
    expect(strict.reads[5]).toMatchObject({ read: 'primary', maxStalenessMs: null })
    // A linearizable default.
    await c.strict<Account>('accounts', { read: 'linearizable' }).get('a')
    expect(strict.reads[6]).toMatchObject({ read: 'linearizable' })
    // Writes through the view go to the same queue as through the collection.
    await accounts.put('a', { owner: 'ann', balance: 1 })
    expect(strict.writes).toHaveLength(1)
    expect(c.strict('accounts').pending()).toEqual([])
  })

  it('bad defaults throw at client.strict(), not at the first read', async () => {
    const { net } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    expect(() => c.strict('accounts', { read: 'closest' as never })).toThrow(/read must be one of primary, linearizable, nearest, replica/)
    expect(() => c.strict('accounts', { maxStalenessMs: -1 })).toThrow(/maxStalenessMs must be a finite number >= 0/)
  })

  it('[RD1][RD2] read-your-writes holds with a nearest default and through primary(): every read carries the session\'s position', async () => {
    const { net, strict } = oneRegion()
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const accounts = c.strict<Account>('accounts', { read: 'nearest' })
    await accounts.put('a', { owner: 'ann', balance: 1 }) // majority at 1:1
    await accounts.get('a')
    expect(strict.reads[0]).toMatchObject({ read: 'nearest', after: { epoch: 1, lsn: 1 } })
    await accounts.put('a', { owner: 'ann', balance: 2 }) // 1:2
    await accounts.primary().get('a')
    expect(strict.reads[1]).toMatchObject({ read: 'primary', after: { epoch: 1, lsn: 2 } })
    await accounts.get('a', { read: 'replica', after: '1:1' })
    expect(strict.reads[2]).toMatchObject({ read: 'replica', after: { epoch: 1, lsn: 2 } })
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CloseCode, MessageType, type Message, type StrictChangedMessage } from '../../core/codec/index.js'
import type { StrictHost } from '../../server/strict/strict-host.js'
import { MAX_WATCHES_PER_CONNECTION } from '../../server/strict/strict-watch.js'
import { waitFor } from '../helpers/cluster.js'
import { FAST_STRICT, acceptedClient, http, primaryOf, startCluster, type InProcessCluster, type RawClient } from './in-process.js'

type ReadResult = Extract<Message, { type: typeof MessageType.StrictReadResult }>

/** StrictSubscribe / StrictChanged / StrictUnsubscribe over raw WebSockets against an in-process cluster of 3. */
describe('strict watches (in-process cluster of 3)', () => {
  let cluster: InProcessCluster
  let primary = ''
  let replica = ''
  const base = (id: string) => cluster.server(id).httpUrl
  const host = (id: string) => cluster.server(id).strict as StrictHost
  const listenerCount = (id: string) => (host(id)['appliedDocuments'] as { size: number }).size

  beforeAll(async () => {
    cluster = await startCluster(['a', 'b', 'c'], 'mesh', FAST_STRICT)
    await cluster.waitConnected()
    primary = await primaryOf(cluster)
    replica = ['a', 'b', 'c'].find((id) => id !== primary) as string
  })
  afterAll(() => cluster.close())

  const changes = (client: RawClient, requestId: number): StrictChangedMessage[] =>
    client.messages.filter((m): m is StrictChangedMessage => m.type === MessageType.StrictChanged && m.requestId === requestId)

  async function changeOf(client: RawClient, requestId: number, id: string, lsn: number): Promise<StrictChangedMessage> {
    return (await client.next((m) => m.type === MessageType.StrictChanged && m.requestId === requestId && m.id === id && m.position.lsn >= lsn)) as StrictChangedMessage
  }

  async function put(node: string, id: string, value: unknown): Promise<{ epoch: number; lsn: number }> {
    const response = await http(base(node), 'PUT', `/v1/accounts/${id}?w=majority`, value)
    expect(response.status).toBe(200)
    const [epoch, lsn] = String(response.json.token).split(':').map(Number) as [number, number]
    return { epoch, lsn }
  }

  it('a subscription to one id on a replica gets its current state, then a write made at the primary', async () => {
    const client = await acceptedClient(cluster.server(replica).url, 'watch-one')
    client.send({ type: MessageType.StrictSubscribe, requestId: 1, collection: 'accounts', id: 'w1' })
    const initial = await changeOf(client, 1, 'w1', 0)
    expect(initial.document).toBeNull()
    expect(initial.position.lsn).toBe(host(replica).node.applied)

    const token = await put(primary, 'w1', { balance: 100 })
    const changed = await changeOf(client, 1, 'w1', token.lsn)
    expect(changed.position).toEqual(token)
    expect(changed.document).toEqual({ version: token.lsn, value: { balance: 100 } })

    const deleted = await http(base(primary), 'DELETE', '/v1/accounts/w1?w=majority')
    const deletedLsn = Number(String(deleted.json.token).split(':')[1])
    expect((await changeOf(client, 1, 'w1', deletedLsn)).document).toBeNull()
    // Positions on one connection never go backwards.
    const lsns = changes(client, 1).map((m) => m.position.lsn)
    expect(lsns).toEqual([...lsns].sort((x, y) => x - y))
    client.ws.close()
  })

  it('a whole-collection subscription gets every existing document, then each document of a batch', async () => {
    await put(primary, 'all-1', { n: 1 })
    const second = await put(primary, 'all-2', { n: 2 })
    const client = await acceptedClient(cluster.server(replica).url, 'watch-all')
    await waitFor(() => host(replica).node.applied >= second.lsn, 3_000, 'the replica to apply the writes')
    client.send({ type: MessageType.StrictSubscribe, requestId: 5, collection: 'accounts', id: null })
    await changeOf(client, 5, 'all-2', 0)
    const initial = new Map(changes(client, 5).map((m) => [m.id, m.document?.value]))
    expect(initial.get('all-1')).toEqual({ n: 1 })
    expect(initial.get('all-2')).toEqual({ n: 2 })
    // Every document of the node's strict state, nothing absent.
    expect(changes(client, 5).every((m) => m.document !== null)).toBe(true)
    // The burst ends with StrictSynced at the same position: the state is complete there.
    const synced = await client.next((m) => m.type === MessageType.StrictSynced && m.requestId === 5)
    expect(synced.type === MessageType.StrictSynced && synced.position).toEqual(changes(client, 5)[0]?.position)

    const batch = await http(base(primary), 'POST', '/v1/accounts/_batch?w=majority', {
      ops: [
        { op: 'patch', id: 'all-1', fields: { n: 10 } },
        { op: 'delete', id: 'all-2' },
        { op: 'put', id: 'all-3', value: { n: 3 } },
      ],
    })
    expect(batch.status).toBe(200)
    const lsn = Number(String(batch.json.token).split(':')[1])
    expect((await changeOf(client, 5, 'all-1', lsn)).document?.value).toEqual({ n: 10 })
    expect((await changeOf(client, 5, 'all-2', lsn)).document).toBeNull()
    expect((await changeOf(client, 5, 'all-3', lsn)).document?.value).toEqual({ n: 3 })
    // One entry, one position for all three.
    expect(new Set(changes(client, 5).filter((m) => m.position.lsn === lsn).map((m) => m.position.epoch)).size).toBe(1)
    client.ws.close()
  })

  it('unsubscribe stops the changes of that subscription only; closing the connection drops its listener', async () => {
    // The earlier tests' connections are closing; once they are gone, nobody listens on the replica.
    await waitFor(() => listenerCount(replica) === 0, 3_000, 'earlier connections to drop their listeners')
    const before = 0
    const client = await acceptedClient(cluster.server(replica).url, 'watch-stop')
    client.send({ type: MessageType.StrictSubscribe, requestId: 1, collection: 'accounts', id: 'stop' })
    client.send({ type: MessageType.StrictSubscribe, requestId: 2, collection: 'accounts', id: 'stop' })
    await changeOf(client, 2, 'stop', 0)
    expect(listenerCount(replica)).toBe(before + 1)
    client.send({ type: MessageType.StrictUnsubscribe, requestId: 1 })
    client.send({ type: MessageType.StrictUnsubscribe, requestId: 99 }) // unknown: ignored
    const token = await put(primary, 'stop', { v: 1 })
    // Both subscriptions hear of each entry in the same turn: once 2 has it, 1 would have too.
    await changeOf(client, 2, 'stop', token.lsn)
    expect(changes(client, 1).map((m) => m.position.lsn)).not.toContain(token.lsn)
    client.send({ type: MessageType.StrictUnsubscribe, requestId: 2 })
    await waitFor(() => listenerCount(replica) === before, 3_000, 'the last unsubscribe to drop the listener')

    client.send({ type: MessageType.StrictSubscribe, requestId: 3, collection: 'accounts', id: 'stop' })
    await changeOf(client, 3, 'stop', 0)
    expect(listenerCount(replica)).toBe(before + 1)
    client.ws.close()
    await waitFor(() => listenerCount(replica) === before, 3_000, 'the closed connection to drop its listener')
  })

  it('a subscription to a crdt or unknown collection, or to an empty id, is refused INVALID_REQUEST; the connection stays up', async () => {
    const client = await acceptedClient(cluster.server(replica).url, 'watch-refused')
    client.send({ type: MessageType.StrictSubscribe, requestId: 11, collection: 'notes', id: 'n1' })
    client.send({ type: MessageType.StrictSubscribe, requestId: 12, collection: 'nope', id: null })
    client.send({ type: MessageType.StrictSubscribe, requestId: 13, collection: 'accounts', id: '' })
    for (const requestId of [11, 12, 13]) {
      const refused = (await client.next((m) => m.type === MessageType.StrictReadResult && m.requestId === requestId)) as ReadResult
      expect(refused.reply).toMatchObject({ status: 'rejected', error: { code: 'INVALID_REQUEST' } })
    }
    client.send({ type: MessageType.StrictSubscribe, requestId: 14, collection: 'accounts', id: 'ok' })
    await changeOf(client, 14, 'ok', 0)
    expect(changes(client, 11)).toEqual([])
    client.ws.close()
  })

  it(`at most ${MAX_WATCHES_PER_CONNECTION} subscriptions per connection; a duplicate requestId is refused`, async () => {
    const client = await acceptedClient(cluster.server(replica).url, 'watch-many')
    for (let requestId = 1; requestId <= MAX_WATCHES_PER_CONNECTION + 1; requestId++) {
      client.send({ type: MessageType.StrictSubscribe, requestId, collection: 'accounts', id: 'many' })
    }
    client.send({ type: MessageType.StrictSubscribe, requestId: 1, collection: 'accounts', id: 'many' })
    const over = (await client.next((m) => m.type === MessageType.StrictReadResult && m.requestId === MAX_WATCHES_PER_CONNECTION + 1)) as ReadResult
    expect(over.reply).toMatchObject({ status: 'rejected', error: { code: 'INVALID_REQUEST', message: expect.stringContaining(`${MAX_WATCHES_PER_CONNECTION}`) } })
    const duplicate = (await client.next((m) => m.type === MessageType.StrictReadResult && m.requestId === 1)) as ReadResult
    expect(duplicate.reply).toMatchObject({ status: 'rejected', error: { code: 'INVALID_REQUEST' } })
    expect(client.messages.filter((m) => m.type === MessageType.StrictChanged)).toHaveLength(MAX_WATCHES_PER_CONNECTION)
    client.ws.close()
  })

  it('a client sending StrictChanged is closed FORBIDDEN', async () => {
    const client = await acceptedClient(cluster.server(replica).url, 'watch-forbidden')
    client.send({ type: MessageType.StrictChanged, requestId: 1, id: 'x', document: null, position: { epoch: 1, lsn: 1 } })
    expect((await client.closed).code).toBe(CloseCode.FORBIDDEN)
  })
})

/**
 * The client's conflict API (docs/client.md, "Conflicts"): `on('conflict')` hears each write this client
 * sees lose to a concurrent one, and `resolveConflict(record, value)` settles it with a write that wins
 * over both sides, here and at the region.
 */
import { describe, expect, it } from 'vitest'
import type { ConflictRecord } from '../../core/crdt/document-type.js'
import { LwwReplica, lwwPatchPayload } from '../../core/crdt/lww.js'
import { fakeClients, until } from './fake-client.js'
import { FakeNetwork, type FakeRegion } from './fake-server.js'

const client = fakeClients(41)

function serverWrite(region: FakeRegion, collection: string, docId: string, doc: Record<string, unknown>): void {
  const replica = region.node.replica(collection, docId, 'lww') as LwwReplica
  region.node.commit(collection, docId, 'lww', lwwPatchPayload(replica, doc))
  region.flushDurable()
}

/** A client write and a later region write to the same field while the client is cut off: the client's loses. */
async function conflictAtClient(net: FakeNetwork, eu: FakeRegion, c: ReturnType<typeof client>, docId: string): Promise<void> {
  eu.down = true
  net.wallMs += 10
  c.lww('todos').put(docId, { title: 'mine', other: 1 })
  net.wallMs += 10
  serverWrite(eu, 'todos', docId, { title: 'theirs' })
  eu.down = false
  await until(() => c.lww('todos').get(docId)?.['title'] === 'theirs')
}

describe("lww collection: on('conflict') and resolveConflict", () => {
  it('emits each conflict observed for the collection, after the document shows the winner', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1')
    const c = client(net, ['ws://eu.test'])
    const todos = c.lww('todos')
    const heard: { record: ConflictRecord; docThen: unknown }[] = []
    const stop = todos.on('conflict', (record) => heard.push({ record, docThen: todos.get(record.docId) }))
    const otherCollection: ConflictRecord[] = []
    c.lww('other').on('conflict', (record) => otherCollection.push(record))
    await conflictAtClient(net, eu, c, 't1')
    expect(heard).toHaveLength(1)
    expect(heard[0]?.record).toMatchObject({
      collection: 'todos',
      docId: 't1',
      field: 'title',
      winner: { origin: 'eu-1', value: 'theirs' },
      loser: { origin: c.clientId, value: 'mine' },
    })
    expect(heard[0]?.docThen).toEqual({ title: 'theirs', other: 1 })
    expect(todos.conflicts('t1')).toEqual([heard[0]?.record])
    expect(otherCollection).toEqual([])
    stop()
    await conflictAtClient(net, eu, c, 't2')
    expect(heard).toHaveLength(1)
    expect(() => todos.on('change' as 'conflict', () => {})).toThrow(/no event change/)
  })

  it('resolveConflict writes the chosen value, which wins at the client and at the region', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1')
    const c = client(net, ['ws://eu.test'])
    const todos = c.lww('todos')
    const heard: ConflictRecord[] = []
    todos.on('conflict', (record) => heard.push(record))
    await conflictAtClient(net, eu, c, 't1')
    const record = heard[0] as ConflictRecord
    // The wall clock has not moved: the resolution must win on the stamps the client received, not on time.
    const w = todos.resolveConflict(record, `${String(record.winner.value)}+${String(record.loser.value)}`)
    expect(todos.get('t1')).toEqual({ title: 'theirs+mine', other: 1 })
    await w.durable
    const atRegion = eu.node.existingReplica('todos', 't1')?.view()
    expect(atRegion).toEqual({ title: 'theirs+mine', other: 1 })
    // A resolution meets neither side as a concurrent write: no new conflict anywhere.
    expect(heard).toHaveLength(1)
    // undefined deletes the field.
    await todos.resolveConflict(record, undefined).durable
    expect(todos.get('t1')).toEqual({ other: 1 })
    expect(() => c.lww('other').resolveConflict(record, 1)).toThrow(/not a conflict record of other/)
    expect(() => todos.resolveConflict(null as unknown as ConflictRecord, 1)).toThrow(/not a conflict record of todos/)
  })
})

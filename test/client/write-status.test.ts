/**
 * Write status for a UI (docs/client.md, "Write status and sync state"): per document, pending →
 * local → durable → replicated; per client, the connection and the count of unsynced writes.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

import { memoryClientStore, type ClientStore } from '../../client/store.js'
import type { SyncState } from '../../client/sync-state.js'
import { WriteStatusTracker, type WriteStatus } from '../../client/write-status.js'
import type { Change } from '../../core/types.js'
import { fakeClients, settle, until } from './fake-client.js'
import { FakeNetwork } from './fake-server.js'

const client = fakeClients(7100)

const RANK: Record<WriteStatus, number> = { pending: 0, local: 1, durable: 2, replicated: 3 }

describe('WriteStatusTracker', () => {
  type Op =
    | { kind: 'write'; doc: number }
    | { kind: 'saved' | 'durable' | 'replicated'; upTo: number }
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), doc: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constantFrom('saved' as const, 'durable' as const, 'replicated' as const), upTo: fc.integer({ min: 0, max: 40 }) }),
  )

  it('agrees with a model of cumulative marks, and document and collection watchers hear every change of status once, in order', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const tracker = new WriteStatusTracker()
        const heard = new Map<string, WriteStatus[]>()
        const keys = [0, 1, 2, 3, 4, 5].map((d) => `c\u0000d${d}`)
        const heardByCollection = new Map<string, WriteStatus[]>()
        tracker.watchCollection('c', (docId, status) => {
          const key = `c\u0000${docId}`
          heardByCollection.set(key, [...(heardByCollection.get(key) ?? []), status])
        })
        tracker.watchCollection('other', () => {
          throw new Error('no document of this collection was written')
        })
        for (const key of keys.slice(0, 3)) {
          const list: WriteStatus[] = []
          heard.set(key, list)
          tracker.watch(key, (status) => list.push(status))
        }
        // The model: each document's highest own seq, and the three marks (durable implies saved …).
        const latest = new Map<string, number>()
        let head = 0
        let saved = 0
        let durable = 0
        let replicated = 0
        const expected = new Map<string, WriteStatus[]>(keys.map((k) => [k, []]))
        const modelStatus = (key: string): WriteStatus => {
          const seq = latest.get(key)
          if (seq === undefined || seq <= replicated) return 'replicated'
          if (seq <= durable) return 'durable'
          return seq <= saved ? 'local' : 'pending'
        }
        const before = new Map(keys.map((k) => [k, modelStatus(k)]))
        for (const o of ops) {
          if (o.kind === 'write') {
            head += 1
            latest.set(keys[o.doc]!, head)
            tracker.wrote(keys[o.doc]!, head)
          } else {
            // Marks only ever cover changes that exist.
            const upTo = Math.min(o.upTo, head)
            if (o.kind === 'saved') {
              saved = Math.max(saved, upTo)
              tracker.savedThrough(upTo)
            } else if (o.kind === 'durable') {
              durable = Math.max(durable, upTo)
              saved = Math.max(saved, durable)
              tracker.durableThrough(upTo)
            } else {
              replicated = Math.max(replicated, upTo)
              durable = Math.max(durable, replicated)
              saved = Math.max(saved, durable)
              tracker.replicatedThrough(upTo)
            }
          }
          for (const key of keys) {
            const now = modelStatus(key)
            if (now !== before.get(key)) expected.get(key)?.push(now)
            before.set(key, now)
            expect(tracker.status(key)).toBe(now)
          }
          expect(tracker.notDurable).toBe(head - durable)
          expect(tracker.notReplicated).toBe(head - replicated)
        }
        expect(Object.fromEntries(heard)).toEqual(Object.fromEntries([...heard.keys()].map((k) => [k, expected.get(k)])))
        expect(Object.fromEntries(heardByCollection)).toEqual(Object.fromEntries([...expected].filter(([, list]) => list.length > 0)))
      }),
    )
  })

  it('forgets a document once every region holds its writes: its size follows the outbox', () => {
    const tracker = new WriteStatusTracker()
    for (let seq = 1; seq <= 1000; seq++) tracker.wrote(`c\u0000d${seq}`, seq)
    tracker.replicatedThrough(1000)
    expect((tracker as unknown as { latest: Map<string, number> }).latest.size).toBe(0)
  })
})

describe('write status of a document', () => {
  it('goes pending → local → durable → replicated as the store and the regions take the write', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1', { autoDurable: false })
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const todos = c.lww<{ title: string }>('todos')
    expect(todos.writeStatus('t1')).toBe('replicated')
    const heard: WriteStatus[] = []
    todos.onWriteStatus('t1', (status) => heard.push(status))
    todos.put('t1', { title: 'milk' })
    expect(todos.writeStatus('t1')).toBe('pending')
    await settle()
    expect(todos.writeStatus('t1')).toBe('local')
    expect(todos.writeStatus('t2')).toBe('replicated')
    eu.flushDurable()
    await until(() => todos.writeStatus('t1') === 'durable')
    eu.sendReplicated(new Map([[c.clientId, 1]]))
    await until(() => todos.writeStatus('t1') === 'replicated')
    expect(heard).toEqual(['pending', 'local', 'durable', 'replicated'])
  })

  it('follows the latest write: an older durable write does not make a newer one look synced', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1', { autoDurable: false })
    const c = client(net, ['ws://eu.test'])
    await until(() => c.status === 'connected')
    const notes = c.yjs('notes')
    notes.edit('n1', (doc) => doc.getText('text').insert(0, 'a'))
    await until(() => eu.node.acceptedFrom(c.clientId) === 1)
    eu.flushDurable()
    await until(() => notes.writeStatus('n1') === 'durable')
    notes.edit('n1', (doc) => doc.getText('text').insert(1, 'b'))
    await settle()
    expect(notes.writeStatus('n1')).toBe('local')
  })

  it('shows writes restored from the store as local (in the outbox) until a region takes them', async () => {
    const stored: Change[] = []
    const base = memoryClientStore()
    // A store that outlives the client, like IndexedDB across a reload.
    const store = (): ClientStore => ({
      ...base,
      append: (change) => {
        stored.push(change)
      },
      load: () => stored,
      close: async () => undefined,
    })
    const net = new FakeNetwork()
    const first = client(net, ['ws://eu.test'], { store: store(), clientId: 'c-reload' })
    first.automerge('boards').change('b1', (d: Record<string, unknown>) => {
      d.x = 1
    })
    await first.close()

    const eu = net.addRegion('eu.test', 'eu-1', { autoDurable: false })
    eu.down = true
    const second = client(net, ['ws://eu.test'], { store: store(), clientId: 'c-reload' })
    const boards = second.automerge('boards')
    expect(boards.writeStatus('b1')).toBe('local')
    expect(second.syncState.unsynced).toBe(1)
    eu.down = false
    await until(() => eu.node.acceptedFrom('c-reload') === 1, 5_000)
    eu.flushDurable()
    await until(() => boards.writeStatus('b1') === 'durable')
    expect(second.syncState.unsynced).toBe(0)
    expect(second.syncState.unreplicated).toBe(1)
  })
})

describe('sync state of the client', () => {
  it('reports connecting, connected to a region, reconnecting with its delay, and offline once closed', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1')
    const c = client(net, ['ws://eu.test'])
    const states: SyncState[] = []
    c.onSyncState((state) => states.push(state))
    expect(c.syncState.connection).toBe('connecting')
    await until(() => c.syncState.connection === 'connected')
    expect(c.syncState).toMatchObject({ region: eu.region, nodeId: 'eu-1', retryInMs: null })
    eu.down = true
    eu.dropAll()
    await until(() => c.syncState.connection === 'reconnecting')
    expect(c.syncState.region).toBeNull()
    expect(states.some((s) => s.connection === 'reconnecting' && typeof s.retryInMs === 'number')).toBe(true)
    // The same object while nothing changed, so that a UI can compare by identity.
    expect(c.syncState).toBe(c.syncState)
    await c.close()
    expect(c.syncState.connection).toBe('offline')
    expect(states.at(-1)?.connection).toBe('offline')
  })

  it('counts unsynced writes once per microtask: 100 offline writes make one call, not 100', async () => {
    const net = new FakeNetwork()
    const eu = net.addRegion('eu.test', 'eu-1')
    eu.down = true
    const c = client(net, ['ws://eu.test'])
    const states: SyncState[] = []
    c.onSyncState((state) => states.push(state))
    const todos = c.lww('todos')
    for (let i = 0; i < 100; i++) todos.put(`t${i}`, { i })
    await Promise.resolve()
    await Promise.resolve()
    expect(states.filter((s) => s.unsynced > 0).map((s) => s.unsynced)).toEqual([100])
    eu.down = false
    await until(() => c.syncState.unsynced === 0, 5_000)
    expect(states.at(-1)?.unsynced).toBe(0)
    expect(RANK[todos.writeStatus('t99')]).toBeGreaterThanOrEqual(RANK.durable)
  })

  it('counts strict writes not yet answered', async () => {
    const net = new FakeNetwork()
    const c = client(net, ['ws://eu.test'])
    const accounts = c.strict<{ balance: number }>('accounts')
    const write = accounts.put('a1', { balance: 5 })
    await settle()
    expect(c.syncState.unsynced).toBe(1)
    await c.close()
    await expect(write).rejects.toMatchObject({ code: 'CLIENT_CLOSED' })
  })
})

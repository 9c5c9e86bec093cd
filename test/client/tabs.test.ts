import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import type { WebSocketConstructor } from '../../client/websocket.js'
import { openTabClient, type TabClient, type TabClientOptions } from '../../client/tabs.js'
import type { WriteStatus } from '../../client/write-status.js'
import { createServer, silentLogger, type MeridianServer } from '../../server/index.js'
import { freePort, waitFor } from '../helpers/cluster.js'
import { exclusiveLocks } from '../helpers/fake-locks.js'
import { FAST_STRICT, primaryOf, startCluster } from '../server/in-process.js'
import { strictSupport } from '../../client/strict.js'
import { StrictWriteRejected } from '../../client/errors.js'
import { yjsSupport } from '../../client/yjs.js'
import { automergeSupport } from '../../client/automerge.js'

/**
 * Tabs sharing one store and one connection (docs/client.md, "Tabs"), under Node: the tabs are
 * clients in one process, talking over Node's BroadcastChannel, with a fake Web Locks manager and
 * fake-indexeddb, against a real in-process region. The same code runs in Chromium in
 * test/browser/app.browser.test.ts (scenario c).
 */

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Note {
  readonly title: string
  readonly [field: string]: unknown
}

async function startRegion(port: number, values?: { maxStringBytes: number }): Promise<MeridianServer> {
  const server = await createServer(
    {
      nodeId: 'a-1',
      region: 'a',
      host: '127.0.0.1',
      port,
      storage: 'memory',
      collections: { notes: { mode: 'crdt', type: 'lww' }, pages: { mode: 'crdt', type: 'yjs' }, boards: { mode: 'crdt', type: 'automerge' } },
      ...(values === undefined ? {} : { values }),
    },
    { logger: silentLogger, defaultMetrics: false },
  )
  cleanups.push(() => server.close())
  return server
}

/** The browser's shared things, per test: one IndexedDB, one lock manager, one channel namespace. */
function browser(port: number, name: string): (extra?: Partial<TabClientOptions>) => Promise<TabClient> {
  const indexedDB = new IDBFactory()
  const locks = exclusiveLocks()
  return async (extra = {}) => {
    const client = await openTabClient({
      name,
      urls: [`ws://127.0.0.1:${port}`],
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      store: { indexedDB },
      locks,
      minDelayMs: 20,
      maxDelayMs: 100,
      ...extra,
    })
    cleanups.push(() => client.close())
    return client
  }
}

async function regionDoc(port: number, id: string): Promise<unknown> {
  const reply = await fetch(`http://127.0.0.1:${port}/v1/notes/${id}`)
  return reply.status === 200 ? ((await reply.json()) as { doc: unknown }).doc : null
}

async function regionClients(port: number): Promise<number> {
  const reply = await fetch(`http://127.0.0.1:${port}/status`)
  return ((await reply.json()) as { clients: number }).clients
}

describe('tabs: one store, one connection, every tab sees every write', () => {
  it('the first tab leads, the second follows; writes in either show in the other and reach the region over one connection', async () => {
    const port = await freePort()
    await startRegion(port)
    const openTab = browser(port, 'tabs-basic')
    const leader = await openTab()
    const follower = await openTab()
    expect(leader.tabRole).toBe('leader')
    expect(follower.tabRole).toBe('follower')
    expect(follower.clientId).toBe(leader.clientId)

    const fromFollower = follower.lww<Note>('notes').put('f1', { title: 'from the follower' })
    // Applied in the follower at once, like any client write.
    expect(follower.lww<Note>('notes').get('f1')).toEqual({ title: 'from the follower' })
    expect(follower.lww('notes').writeStatus('f1')).toBe('pending')
    await waitFor(() => leader.lww('notes').get('f1') !== null, 5000, 'the follower write in the leader')
    leader.lww<Note>('notes').put('l1', { title: 'from the leader' })
    await waitFor(() => follower.lww('notes').get('l1') !== null, 5000, 'the leader write in the follower')

    await fromFollower.replicated
    expect(fromFollower.seq).toBeGreaterThan(0)
    await waitFor(async () => (await regionDoc(port, 'l1')) !== null, 5000, 'the leader write at the region')
    expect(await regionDoc(port, 'f1')).toEqual({ title: 'from the follower' })
    await waitFor(() => follower.lww('notes').writeStatus('f1') === 'replicated', 5000, 'the follower write replicated')
    expect(follower.syncState).toMatchObject({ connection: 'connected', region: 'a', nodeId: 'a-1' })
    expect(await regionClients(port)).toBe(1)
  })

  it('a write the region refuses, made in the follower: its handle rejects there, and both tabs return to the region\'s value', async () => {
    const port = await freePort()
    // The region stores strings of at most 64 bytes; the tabs' own checks allow far more.
    await startRegion(port, { maxStringBytes: 64 })
    const openTab = browser(port, 'tabs-refused')
    const leader = await openTab()
    const follower = await openTab()
    expect(follower.tabRole).toBe('follower')
    await follower.lww<Note>('notes').put('r1', { title: 'short' }).replicated
    await waitFor(() => leader.lww<Note>('notes').get('r1')?.title === 'short', 5000, 'the first write in the leader')
    const heard: string[] = []
    follower.onWriteRejected((error) => heard.push(`${error.code} ${error.docId}`))
    const long = follower.lww<Note>('notes').patch('r1', { title: 'x'.repeat(100) })
    expect(follower.lww<Note>('notes').get('r1')?.title).toHaveLength(100)
    await expect(long.durable).rejects.toMatchObject({ name: 'WriteRejectedError', code: 'INVALID_VALUE', docId: 'r1' })
    expect(heard).toEqual(['INVALID_VALUE r1'])
    await waitFor(() => follower.lww<Note>('notes').get('r1')?.title === 'short', 5000, 'the follower back at the region\'s value')
    await waitFor(() => leader.lww<Note>('notes').get('r1')?.title === 'short', 5000, 'the leader back at the region\'s value')
    expect(await regionDoc(port, 'r1')).toEqual({ title: 'short' })
    // The session went on: a later write from the follower reaches the region.
    await follower.lww<Note>('notes').patch('r1', { done: true }).replicated
    expect(await regionDoc(port, 'r1')).toEqual({ title: 'short', done: true })
  })

  it('the same field written in both tabs converges to one value everywhere, with no conflict from a write meeting its own copy', async () => {
    const port = await freePort()
    await startRegion(port)
    const openTab = browser(port, 'tabs-same-field')
    const leader = await openTab()
    const follower = await openTab()
    for (let i = 0; i < 20; i++) {
      follower.lww<Note>('notes').patch('shared', { title: `f${i}` })
      leader.lww<Note>('notes').patch('shared', { title: `l${i}` })
    }
    await waitFor(async () => {
      const atRegion = await regionDoc(port, 'shared')
      return atRegion !== null && JSON.stringify(atRegion) === JSON.stringify(leader.lww('notes').get('shared')) &&
        JSON.stringify(atRegion) === JSON.stringify(follower.lww('notes').get('shared')) && follower.syncState.unsynced === 0
    }, 5000, 'both tabs and the region agree')
    // The follower's own writes came back from the hub with their stamps: the same write, not a conflict.
    const ownConflicts = follower.lww('notes').conflicts('shared').filter((c) => c.winner.origin === c.loser.origin && c.winner.hlc.node === c.loser.hlc.node && c.winner.hlc.wallMs === c.loser.hlc.wallMs && c.winner.hlc.counter === c.loser.hlc.counter)
    expect(ownConflicts).toEqual([])
  })

  it('closing the leader hands over: the follower leads, and no write of its own is lost, even those made in between', async () => {
    const port = await freePort()
    await startRegion(port)
    const openTab = browser(port, 'tabs-handover')
    const leader = await openTab()
    const follower = await openTab()
    const roles: string[] = []
    follower.onTabRole((role) => roles.push(role))
    const notes = follower.lww<Note>('notes')
    const statuses: WriteStatus[] = []
    notes.onWriteStatus('w0', (status) => statuses.push(status))
    // Writes go out while the leader closes: some reach it, some are saved by it, some by nobody yet.
    for (let i = 0; i < 50; i++) notes.put(`w${i}`, { title: `before ${i}` })
    const closing = leader.close()
    for (let i = 50; i < 100; i++) notes.put(`w${i}`, { title: `during ${i}` })
    await closing
    for (let i = 100; i < 150; i++) notes.put(`w${i}`, { title: `after ${i}` })
    await waitFor(() => follower.tabRole === 'leader', 5000, 'the follower leads')
    expect(roles).toEqual(['leader'])
    await waitFor(async () => (await regionDoc(port, 'w149')) !== null && follower.syncState.unsynced === 0, 10_000, 'every write at the region')
    for (let i = 0; i < 150; i++) expect(await regionDoc(port, `w${i}`)).toEqual(notes.get(`w${i}`))
    expect(statuses.at(-1)).toBe('replicated')
    expect(await regionClients(port)).toBe(1)

    // A third tab follows the new leader and starts from everything.
    const third = await openTab()
    expect(third.tabRole).toBe('follower')
    expect(third.lww<Note>('notes').get('w149')).toEqual({ title: 'after 149' })
    expect(third.lww('notes').ids()).toHaveLength(150)
  })

  it('a tab whose leader never answers gives up after followTimeoutMs, with an error that says so', async () => {
    const port = await freePort()
    const locks = exclusiveLocks()
    // Something holds the tabs lock and runs no hub (a leader tab stuck before its client started).
    let release!: () => void
    void locks.request('meridian-tabs-1:tabs-silent', {}, () => new Promise<void>((done) => (release = done)))
    cleanups.push(() => release())
    await expect(
      openTabClient({ name: 'tabs-silent', urls: [`ws://127.0.0.1:${port}`], WebSocket: WebSocket as unknown as WebSocketConstructor, locks, followTimeoutMs: 100 }),
    ).rejects.toThrow(/the tab that leads "tabs-silent" did not answer within 100 ms/)
  })

  it('garbage posted on the tabs\' channel changes nothing: the leader logs no malformed write, and the tabs go on', async () => {
    const port = await freePort()
    await startRegion(port)
    const openTab = browser(port, 'tabs-garbage')
    const leader = await openTab()
    const follower = await openTab()
    const intruder = new BroadcastChannel('meridian-tabs-1:tabs-garbage')
    cleanups.push(() => intruder.close())
    const hlc = { wallMs: Date.now(), counter: 0, node: 'x' }
    for (const message of [
      null,
      'text',
      42,
      { t: 'write' },
      { t: 'write', tab: 'x', id: 1, write: { collection: 5, docId: 'd', docType: 'lww', payload: new Uint8Array(1), hlc } },
      { t: 'write', tab: 'x', id: 2, write: { collection: 'notes', docId: 'd', docType: 'nope', payload: new Uint8Array(1), hlc } },
      // A type this leader has no module for: refused before anything is logged.
      { t: 'write', tab: 'x', id: 3, write: { collection: 'pages', docId: 'p', docType: 'yjs', payload: new Uint8Array(1), hlc } },
      { t: 'interest', tab: 'x', add: true, collection: 7 },
      { t: 'strict-call', tab: 'x', call: 1, what: { op: 'submit' } },
      { t: 'changes', hub: 'nobody', changes: 'not a list', relayed: [] },
      { t: 'snapshot', hub: 'nobody', to: 'someone', snapshot: null },
      { t: 'bye', tab: 'x' },
    ]) intruder.postMessage(message)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(leader.vector.get(leader.clientId) ?? 0).toBe(0)
    follower.lww<Note>('notes').put('after', { title: 'after the garbage' })
    await waitFor(() => leader.lww('notes').get('after') !== null, 5000, 'a follower write in the leader')
    await waitFor(async () => (await regionDoc(port, 'after')) !== null, 5000, 'the write at the region')
    expect(leader.lww('notes').ids()).toEqual(['after'])
    expect(leader.vector.get(leader.clientId)).toBe(1)
  })

  it('a tab opened while another leads starts from its documents, and the store keeps them for the next leader', async () => {
    const port = await freePort()
    await startRegion(port)
    const openTab = browser(port, 'tabs-restart')
    const first = await openTab()
    for (let i = 0; i < 30; i++) first.lww<Note>('notes').put(`d${i}`, { title: `doc ${i}` })
    const second = await openTab()
    expect(second.lww('notes').ids()).toHaveLength(30)
    await second.close()
    await first.close()
    // Every tab closed: the next opens the store and leads with what it holds.
    const again = await openTab()
    expect(again.tabRole).toBe('leader')
    expect(again.lww<Note>('notes').get('d29')).toEqual({ title: 'doc 29' })
  })
})

describe('tabs: Yjs and Automerge documents in a tab that follows', () => {
  it('edits in the follower reach the leader and the region, and the other way round, each merged once', async () => {
    const port = await freePort()
    await startRegion(port)
    const openTab = browser(port, 'tabs-documents')
    const use = [yjsSupport, automergeSupport]
    const leader = await openTab({ use })
    const follower = await openTab({ use })
    const page = follower.yjs('pages').open('p1')
    cleanups.push(() => page.close())
    page.doc.getText('text').insert(0, 'hello')
    const leaderPage = leader.yjs('pages').open('p1')
    cleanups.push(() => leaderPage.close())
    await waitFor(() => leaderPage.doc.getText('text').toString() === 'hello', 5000, 'the follower text in the leader')
    leaderPage.doc.getText('text').insert(5, ' world')
    await waitFor(() => page.doc.getText('text').toString() === 'hello world', 5000, 'the leader text in the follower')

    const boards = follower.automerge<{ cards: string[] }>('boards')
    const board = boards.open('b1')
    cleanups.push(() => board.close())
    boards.change('b1', (doc) => {
      doc.cards = ['a']
    })
    const leaderBoards = leader.automerge<{ cards: string[] }>('boards')
    leaderBoards.open('b1')
    await waitFor(() => leaderBoards.get('b1').cards?.length === 1, 5000, 'the follower card in the leader')
    leaderBoards.change('b1', (doc) => {
      doc.cards.push('b')
    })
    await waitFor(() => boards.get('b1').cards?.join() === 'a,b', 5000, 'the leader card in the follower')
    await waitFor(() => follower.syncState.unsynced === 0 && leader.syncState.unsynced === 0, 5000, 'everything durable at the region')
    const atRegion = await (await fetch(`http://127.0.0.1:${port}/v1/boards/b1`)).json() as { doc: { cards: string[] } }
    expect(atRegion.doc.cards).toEqual(['a', 'b'])
  })
})

describe('tabs: strict collections in a tab that follows run on the leader tab', () => {
  it('writes, reads, typed rejections, subscriptions and outcomes work in the follower, and again after a handover', async () => {
    const cluster = await startCluster(['a', 'b', 'c'], 'mesh', FAST_STRICT)
    cleanups.push(() => cluster.close())
    await cluster.waitConnected()
    const primary = await primaryOf(cluster)
    const port = Number(new URL(cluster.server(primary).url).port)
    const openTab = browser(port, 'tabs-strict')
    const leader = await openTab({ use: [strictSupport] })
    const follower = await openTab({ use: [strictSupport] })
    expect(follower.tabRole).toBe('follower')
    const accounts = follower.strict<{ balance: number }>('accounts')
    const outcomes: string[] = []
    const writeIds: number[] = []
    follower.onStrictOutcome((outcome) => {
      outcomes.push(`${outcome.write.op.kind}:${outcome.status}`)
      writeIds.push(outcome.write.writeId)
    })
    // Inside an outcome listener, the write is no longer listed as pending (the example app redraws from both).
    const pendingAtOutcome: number[] = []
    accounts.onOutcome((outcome) => pendingAtOutcome.push(accounts.pending().filter((write) => write.writeId === outcome.write.writeId).length))
    const seen: (number | null)[] = []
    const stop = accounts.subscribe('alice', (change) => seen.push(change.value?.balance ?? null))

    const written = await accounts.put('alice', { balance: 10 }, { exists: false })
    expect(written.status).toBe('acknowledged')
    const read = await accounts.get('alice')
    expect(read?.value).toEqual({ balance: 10 })
    const refused = accounts.put('alice', { balance: 99 }, { exists: false })
    await expect(refused).rejects.toBeInstanceOf(StrictWriteRejected)
    await expect(refused).rejects.toMatchObject({ code: 'PRECONDITION_FAILED', collection: 'accounts', id: 'alice' })
    // A write in the leader tab reaches the follower's subscription.
    await leader.strict<{ balance: number }>('accounts').put('alice', { balance: 20 }, { expectVersion: read?.version ?? 0 })
    await waitFor(() => seen.includes(20), 5000, 'the leader write in the follower subscription')
    expect(outcomes).toEqual(expect.arrayContaining(['put:acknowledged', 'put:rejected']))
    expect(pendingAtOutcome.length).toBeGreaterThanOrEqual(2)
    expect(pendingAtOutcome.every((listed) => listed === 0)).toBe(true)
    expect(follower.strictToken).not.toBeNull()
    expect(accounts.pending()).toEqual([])

    // The leader closes: the follower leads, and its strict collection keeps working.
    await leader.close()
    await waitFor(() => follower.tabRole === 'leader', 5000, 'the follower leads')
    const after = await accounts.put('bob', { balance: 5 }, { exists: false })
    expect(after.status).toBe('acknowledged')
    expect((await accounts.get('bob'))?.value).toEqual({ balance: 5 })
    await accounts.patch('alice', { balance: 30 })
    await waitFor(() => seen.includes(30), 5000, 'the subscription carried over to the new leader')
    // The new leader numbers its writes after the former one's: the app never sees a writeId twice.
    await waitFor(() => writeIds.length >= 5, 5000, 'every outcome')
    expect(new Set(writeIds).size).toBe(writeIds.length)
    stop()
  })
})

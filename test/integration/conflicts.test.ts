/**
 * Conflict records as data, with real processes (docs/server.md, "Conflicts"; docs/crdt.md, "Conflict
 * records"): two regions with file storage write the same field at once; the record is listed by the region
 * that observed it, survives snapshot rounds, log compaction and a SIGKILL with its cursor, and a resolve
 * through REST converges in both regions and stays resolved across another SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

let cluster: ProcessCluster

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    ids: ['a', 'b'],
    topology: 'mesh',
    storage: 'file',
    config: { snapshotEveryChanges: 5, snapshotIntervalMs: 50, retainChanges: 20 },
  })
  await cluster.waitConnected()
}, 60_000)
afterAll(() => cluster?.stop())

interface Record_ {
  cursor: number
  collection: string
  docId: string
  field: string
  resolved: boolean
  winner: { origin: string; value: unknown }
  loser: { origin: string; value: unknown }
  resolution?: { value: unknown }
}

const url = (id: string) => cluster.node(id).httpUrl

async function request(id: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method }
  if (body !== undefined) init.body = JSON.stringify(body)
  const res = await fetch(`${url(id)}${path}`, init)
  return { status: res.status, body: await res.json() }
}

const listing = async (id: string): Promise<Record_[]> => (await request(id, 'GET', '/v1/notes/_conflicts?limit=1000')).body.conflicts as Record_[]

async function sameEverywhere(doc: string): Promise<unknown> {
  let docs: unknown[] = []
  await waitFor(async () => {
    docs = await Promise.all(['a', 'b'].map(async (id) => (await request(id, 'GET', `/v1/notes/${doc}`)).body.doc))
    return JSON.stringify(docs[0]) === JSON.stringify(docs[1]) && docs[0] !== undefined
  }, 5_000, `${doc} identical in both regions`)
  return docs[0]
}

describe('conflict records, real processes', () => {
  it('persist with their cursor through compaction and SIGKILL; a REST resolve converges and stays resolved', async () => {
    // Both regions write `title` of the same document at once, until one region keeps a record of it
    // (writes a few ms apart may see each other: then there is no conflict, and we try again).
    let observer = ''
    let record: Record_ | undefined
    for (let attempt = 0; attempt < 40 && record === undefined; attempt++) {
      const doc = `hot-${attempt}`
      await Promise.all(['a', 'b'].map((id) => request(id, 'PATCH', `/v1/notes/${doc}`, { title: `from ${id}`, [`by-${id}`]: true })))
      await sameEverywhere(doc)
      for (const id of ['a', 'b']) {
        const found = (await listing(id)).find((r) => r.docId === doc && r.field === 'title')
        if (found !== undefined && record === undefined) {
          observer = id
          record = found
        }
      }
    }
    expect(record, 'two concurrent writes in 40 attempts').toBeDefined()
    const conflict = record as Record_
    const other = observer === 'a' ? 'b' : 'a'
    console.log(`conflict ${conflict.cursor} on ${conflict.docId} observed by ${observer}: ${JSON.stringify(conflict.winner.value)} beat ${JSON.stringify(conflict.loser.value)}`)
    expect(conflict).toMatchObject({ collection: 'notes', field: 'title', resolved: false })
    expect(new Set([conflict.winner.origin, conflict.loser.origin])).toEqual(new Set(['a', 'b']))
    const before = await listing(observer)

    // Enough writes for snapshot rounds and compaction: the changes that made the record leave the log.
    for (let i = 0; i < 60; i++) await request(observer, 'PUT', `/v1/notes/filler-${i % 10}`, { i })
    await waitFor(async () => {
      const status = (await (await fetch(`${url(observer)}/status`)).json()) as { storage: { compactedChanges: number; logRecords: number } }
      return status.storage.compactedChanges > 0 && status.storage.logRecords < 60
    }, 10_000, 'log compaction at the observer')

    await cluster.kill(observer)
    const started = Date.now()
    await cluster.launch(observer)
    console.log(`${observer} back after SIGKILL in ${Date.now() - started} ms with ${before.length} conflict records`)
    expect(await listing(observer)).toEqual(before)
    await cluster.waitConnected()

    // A new record after the restart gets a cursor past every earlier one.
    const maxBefore = Math.max(...before.map((r) => r.cursor))
    const next = (await request(observer, 'GET', `/v1/notes/_conflicts?after=${maxBefore}`)).body
    expect(next).toEqual({ node: observer, conflicts: [], next: maxBefore })

    // Resolve through REST at the observer, waiting for every region to hold the write.
    const path = `/v1/notes/${conflict.docId}/_conflicts/${conflict.cursor}/resolve?w=all`
    const resolved = await request(observer, 'POST', path, { value: 'merged by hand' })
    expect(resolved.status).toBe(200)
    expect(resolved.body).toMatchObject({ ack: 'all', alreadyResolved: false, conflict: { cursor: conflict.cursor, resolved: true } })
    const doc = (await sameEverywhere(conflict.docId)) as Record<string, unknown>
    expect(doc.title).toBe('merged by hand')
    expect((await request(other, 'GET', `/v1/notes/${conflict.docId}`)).body.doc.title).toBe('merged by hand')
    expect((await listing(observer)).find((r) => r.cursor === conflict.cursor)).toMatchObject({ resolved: true, resolution: { value: 'merged by hand' } })
    // The resolution beat both sides without being a conflict of its own.
    expect((await listing(observer)).filter((r) => r.docId === conflict.docId)).toHaveLength(before.filter((r) => r.docId === conflict.docId).length)

    // Resolved stays resolved across another SIGKILL; resolving again writes nothing.
    await cluster.kill(observer)
    await cluster.launch(observer)
    const after = (await listing(observer)).find((r) => r.cursor === conflict.cursor)
    expect(after).toMatchObject({ resolved: true, resolution: { value: 'merged by hand' } })
    const unresolved = (await request(observer, 'GET', '/v1/notes/_conflicts?unresolved=1&limit=1000')).body.conflicts as Record_[]
    expect(unresolved.map((r) => r.cursor)).not.toContain(conflict.cursor)
    const again = await request(observer, 'POST', path.replace('?w=all', ''), { value: 'something else' })
    expect(again.body).toMatchObject({ alreadyResolved: true, conflict: { resolution: { value: 'merged by hand' } } })
    expect((await request(observer, 'GET', `/v1/notes/${conflict.docId}`)).body.doc.title).toBe('merged by hand')
  }, 90_000)
})

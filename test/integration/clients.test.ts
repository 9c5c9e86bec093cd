/**
 * Many Node clients, spread over three real region processes, write the same fields of one document
 * concurrently. Everything converges — every client and every region shows the same document — and
 * the writes that lost are readable as conflict records through the client API and through REST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareHlc } from '../../core/clock/hlc.js'
import type { ConflictRecord } from '../../core/crdt/index.js'
import { createNodeClient, type MeridianClient } from '../../client/node.js'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

const REGIONS = ['a', 'b', 'c']
const CLIENTS_PER_REGION = 4
const WRITES_PER_CLIENT = 12

let cluster: ProcessCluster
const clients: MeridianClient[] = []

beforeAll(async () => {
  cluster = await ProcessCluster.start({ ids: REGIONS, topology: 'mesh', storage: 'file' })
  await cluster.waitConnected()
  for (const region of REGIONS) {
    for (let i = 0; i < CLIENTS_PER_REGION; i++) clients.push(createNodeClient({ urls: [cluster.node(region).url] }))
  }
  await waitFor(() => clients.every((c) => c.status === 'connected'), 10_000, 'every client connected')
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await cluster?.stop()
})

async function restDoc(region: string, path: string): Promise<any> {
  const res = await fetch(`${cluster.node(region).httpUrl}${path}`)
  return res.json()
}

/** A conflict record must name a write that really lost: the winner orders after the loser. */
function wellFormed(record: ConflictRecord): boolean {
  const order = compareHlc(record.winner.hlc, record.loser.hlc)
  const wins = order > 0 || (order === 0 && record.winner.origin > record.loser.origin)
  return record.docId === 'shared' && ['title', 'owner'].includes(record.field) && wins
}

describe('many clients writing the same fields in three regions (real processes)', () => {
  it('[CV1][CV2] converge everywhere, and conflicts are readable through the client and REST', async () => {
    // Every client fires its writes without waiting for the others: maximal concurrency.
    const handles = clients.flatMap((client, c) =>
      Array.from({ length: WRITES_PER_CLIENT }, (_, i) =>
        client.lww('notes').patch('shared', { title: `client ${c} write ${i}`, owner: `client ${c}` }),
      ),
    )
    await Promise.all(handles.map((h) => h.durable))
    await Promise.all(handles.map((h) => h.replicated))

    const view = (client: MeridianClient) => JSON.stringify(client.lww('notes').get('shared'))
    await waitFor(() => clients.every((c) => view(c) === view(clients[0] as MeridianClient)), 10_000, 'clients converge')
    const agreed = clients[0]?.lww('notes').get('shared')
    expect(agreed).not.toBeNull()
    for (const region of REGIONS) {
      await waitFor(async () => JSON.stringify((await restDoc(region, '/v1/notes/shared')).doc) === JSON.stringify(agreed), 5_000, `region ${region} agrees`)
    }

    const seenByClients = clients.flatMap((c) => [...c.lww('notes').conflicts('shared')])
    const seenByRegions: ConflictRecord[] = []
    for (const region of REGIONS) seenByRegions.push(...(await restDoc(region, '/v1/notes/shared/_conflicts')).conflicts)
    expect(seenByClients.length).toBeGreaterThan(0)
    expect(seenByRegions.length).toBeGreaterThan(0)
    for (const record of [...seenByClients, ...seenByRegions]) expect(wellFormed(record), JSON.stringify(record)).toBe(true)
  })
})

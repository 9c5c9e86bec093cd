import { describe, expect, it } from 'vitest'
import type { StrictMessage } from '../../core/strict/index.js'
import { parseConfig } from '../../server/config.js'
import { silentLogger } from '../../server/logger.js'
import type { DocumentsApplied } from '../../server/strict/applied-documents.js'
import { StrictHost } from '../../server/strict/strict-host.js'
import { waitFor } from '../helpers/cluster.js'
import { openStrictStorage } from '../helpers/strict-storage.js'

async function host(nodeId: string, peers: readonly string[]): Promise<StrictHost> {
  const config = parseConfig({
    nodeId,
    region: 'r',
    storage: 'memory',
    peerSecret: 's',
    collections: { accounts: { mode: 'strict' }, ledger: { mode: 'strict' } },
    peers: peers.map((id, i) => ({ nodeId: id, region: 'r', url: `ws://127.0.0.1:${i + 1}/peer`, httpUrl: `http://127.0.0.1:${i + 1}` })),
  })
  const { store } = await openStrictStorage(nodeId)
  return new StrictHost({ config, store, logger: silentLogger, send: () => true, isLinked: () => true })
}

const write = (h: StrictHost, op: Parameters<StrictHost['write']>[0]['op']) => h.write({ op, concern: 'majority', timeoutMs: 1_000, requestKey: null })

describe('StrictHost.onDocumentsApplied', () => {
  it('reports each applied entry once, with the documents it left (a batch all of them, each once); no-ops are not reported', async () => {
    const h = await host('solo', [])
    const events: DocumentsApplied[] = []
    const stop = h.onDocumentsApplied((event) => events.push(event))
    h.start()
    await write(h, { kind: 'put', collection: 'accounts', id: 'a', value: { n: 1 } })
    await write(h, {
      kind: 'batch',
      ops: [
        { kind: 'patch', collection: 'accounts', id: 'a', fields: { m: 2 } },
        { kind: 'put', collection: 'ledger', id: 't', value: 1 },
        { kind: 'delete', collection: 'accounts', id: 'a' },
      ],
    })
    // The first primary's no-op came before the put: nothing to report for it.
    expect(events.map((e) => e.kind)).toEqual(['entry', 'entry'])
    const [put, batch] = events as [Extract<DocumentsApplied, { kind: 'entry' }>, Extract<DocumentsApplied, { kind: 'entry' }>]
    expect(put.documents).toEqual([{ collection: 'accounts', id: 'a', document: { version: put.position.lsn, value: { n: 1 } } }])
    expect(batch.position.lsn).toBe(put.position.lsn + 1)
    expect(batch.documents).toEqual([
      { collection: 'accounts', id: 'a', document: null },
      { collection: 'ledger', id: 't', document: { version: batch.position.lsn, value: 1 } },
    ])
    expect(h.appliedPosition).toEqual(batch.position)
    stop()
    await write(h, { kind: 'put', collection: 'accounts', id: 'b', value: 2 })
    expect(events).toHaveLength(2)
    await h.close()
  })

  it('a listener that throws is skipped and logged; the node applies on and the others still hear', async () => {
    const h = await host('solo', [])
    const heard: number[] = []
    h.onDocumentsApplied(() => {
      throw new Error('boom')
    })
    h.onDocumentsApplied((event) => heard.push(event.position.lsn))
    h.start()
    const reply = await write(h, { kind: 'put', collection: 'accounts', id: 'a', value: 1 })
    expect(reply.status).toBe('acknowledged')
    expect(heard).toHaveLength(1)
    expect(h.node.document('accounts', 'a')).toEqual({ version: heard[0], value: 1 })
    await h.close()
  })

  it('[ST6] an installed snapshot is reported as a reset at its position; the entries after it one by one', async () => {
    const h = await host('a', ['b', 'c'])
    const events: DocumentsApplied[] = []
    h.onDocumentsApplied((event) => events.push(event))
    h.start()
    const snapshot: StrictMessage = {
      type: 'snapshot',
      epoch: 1,
      from: 'b',
      snapshot: { lsn: 5, epoch: 1, history: [{ epoch: 1, lsn: 1 }], documents: [['accounts/x', { version: 3, value: 'x' }]] },
      commitLsn: 5,
    }
    h.receive(snapshot)
    expect(events).toEqual([{ kind: 'reset', position: { epoch: 1, lsn: 5 } }])
    expect(h.node.document('accounts', 'x')).toEqual({ version: 3, value: 'x' })
    h.receive({
      type: 'append',
      epoch: 1,
      from: 'b',
      prevLsn: 5,
      prevEpoch: 1,
      entries: [{ epoch: 1, lsn: 6, op: { kind: 'put', collection: 'accounts', id: 'y', value: 'y' } }],
      commitLsn: 6,
      round: 1,
      confirmedRound: 0,
    })
    await waitFor(() => events.length === 2, 2_000, 'the entry after the snapshot')
    expect(events[1]).toEqual({
      kind: 'entry',
      position: { epoch: 1, lsn: 6 },
      documents: [{ collection: 'accounts', id: 'y', document: { version: 6, value: 'y' } }],
    })
    // Compaction snapshots what listeners already heard: no reset.
    h.node.compact()
    expect(events).toHaveLength(2)
    await h.close()
  })
})

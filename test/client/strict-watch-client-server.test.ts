import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MeridianClient } from '../../client/client.js'
import { StrictReadFailed } from '../../client/errors.js'
import { createNodeClient } from '../../client/node.js'
import type { StrictChange } from '../../client/strict-watch.js'
import { waitFor } from '../helpers/cluster.js'
import { FAST_STRICT, primaryOf, startCluster, type InProcessCluster } from '../server/in-process.js'

type Account = { balance: number }

/** Strict subscriptions of the client against a real in-process cluster of three. */
describe('strict subscriptions against three in-process regions', () => {
  let cluster: InProcessCluster
  let writer: MeridianClient
  let watcher: MeridianClient
  let primary = ''
  let replica = ''
  let other = ''

  beforeAll(async () => {
    cluster = await startCluster(['a', 'b', 'c'], 'mesh', FAST_STRICT)
    await cluster.waitConnected()
    primary = await primaryOf(cluster)
    ;[replica, other] = ['a', 'b', 'c'].filter((id) => id !== primary) as [string, string]
    writer = createNodeClient({ urls: [cluster.server(primary).url], minDelayMs: 20, maxDelayMs: 50 })
    watcher = createNodeClient({ urls: [cluster.server(replica).url, cluster.server(other).url], minDelayMs: 20, maxDelayMs: 50 })
  })
  afterAll(async () => {
    await writer?.close()
    await watcher?.close()
    await cluster.close()
  })

  const balances = (changes: StrictChange<Account>[], id: string) => changes.filter((c) => c.id === id).map((c) => c.value?.balance ?? null)

  it('a subscriber sees the current state, then a write made through another client', async () => {
    const seen: StrictChange<Account>[] = []
    const stop = watcher.strict<Account>('accounts').subscribe('alice', (change) => seen.push(change))
    await waitFor(() => seen.length === 1, 5_000, 'the initial state')
    expect(seen[0]).toMatchObject({ id: 'alice', value: null, version: 0 })

    const put = await writer.strict<Account>('accounts').put('alice', { balance: 100 })
    await waitFor(() => seen.length === 2, 5_000, 'the change')
    expect(seen[1]).toMatchObject({ id: 'alice', value: { balance: 100 }, version: put.status === 'acknowledged' ? put.position.lsn : -1 })
    expect(seen[1]?.token).toBe(put.token)
    // The change's position is the session's too: the next read starts from it [RD2].
    expect(watcher.strictToken).toBe(put.token)
    stop()
    await writer.strict<Account>('accounts').put('alice', { balance: 90 })
    await watcher.strict<Account>('accounts').get('alice', { read: 'nearest' })
    expect(seen).toHaveLength(2)
  })

  it('subscribeAll gets the existing documents, then the changes of a batch', async () => {
    const accounts = writer.strict<Account>('accounts')
    await accounts.put('bob', { balance: 5 })
    const seen: StrictChange<Account>[] = []
    const stop = watcher.strict<Account>('accounts').subscribeAll((change) => seen.push(change))
    await waitFor(() => balances(seen, 'bob').length === 1, 5_000, 'the existing documents')
    expect(balances(seen, 'alice')).toEqual([90])
    await accounts.batch([
      { kind: 'patch', id: 'bob', fields: { balance: 15 } },
      { kind: 'delete', id: 'alice' },
    ])
    await waitFor(() => balances(seen, 'alice').length === 2, 5_000, 'the batch')
    expect(balances(seen, 'bob')).toEqual([5, 15])
    expect(balances(seen, 'alice')).toEqual([90, null])
    stop()
  })

  it('a subscription to a crdt collection is refused with StrictReadFailed INVALID_REQUEST', async () => {
    const errors: StrictReadFailed[] = []
    watcher.strict('notes').subscribe('n1', () => {}, { onError: (error) => errors.push(error) })
    await waitFor(() => errors.length === 1, 5_000, 'the refusal')
    expect(errors[0]).toBeInstanceOf(StrictReadFailed)
    expect(errors[0]?.code).toBe('INVALID_REQUEST')
  })

  it('[RD2] after the connected region goes down, the client subscribes again elsewhere and changes keep coming, never older', async () => {
    const accounts = writer.strict<Account>('accounts')
    await accounts.put('carol', { balance: 1 })
    const seen: StrictChange<Account>[] = []
    watcher.strict<Account>('accounts').subscribe('carol', (change) => seen.push(change))
    await waitFor(() => balances(seen, 'carol').includes(1), 5_000, 'the initial state')
    expect(watcher.server?.nodeId).toBe(replica)

    await cluster.server(replica).close()
    await waitFor(() => watcher.server?.nodeId === other && watcher.status === 'connected', 5_000, 'the failover to the other region')
    for (let balance = 2; balance <= 4; balance++) await accounts.put('carol', { balance })
    await waitFor(() => balances(seen, 'carol').at(-1) === 4, 5_000, 'the changes through the other region')
    // No repeat of a state already shown, and never backwards.
    const values = balances(seen, 'carol')
    expect(values).toEqual([...new Set(values)])
    expect(values.filter((v) => v !== null)).toEqual([1, 2, 3, 4])
    const lsns = seen.map((c) => c.position.lsn)
    expect(lsns).toEqual([...lsns].sort((x, y) => x - y))
  })
})

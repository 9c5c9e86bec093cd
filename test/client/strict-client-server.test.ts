import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StrictWriteRejected } from '../../client/errors.js'
import { createNodeClient } from '../../client/node.js'
import type { MeridianClient } from '../../client/client.js'
import { freePort } from '../helpers/cluster.js'
import { FAST_STRICT, primaryOf, startCluster, type InProcessCluster } from '../server/in-process.js'

/** The strict client against a real in-process cluster of three: forwarding, typed rejections, queue, failover. */
describe('strict client against three in-process regions', () => {
  let cluster: InProcessCluster
  let client: MeridianClient
  let primary = ''
  let replica = ''
  let other = ''

  beforeAll(async () => {
    cluster = await startCluster(['a', 'b', 'c'], 'mesh', FAST_STRICT)
    await cluster.waitConnected()
    primary = await primaryOf(cluster)
    ;[replica, other] = ['a', 'b', 'c'].filter((id) => id !== primary) as [string, string]
  })
  afterAll(async () => {
    await client?.close()
    await cluster.close()
  })

  it('queues writes made before it is connected, then writes through a replica and reads its writes back', async () => {
    // The first URL has nobody listening: the client starts offline and moves on to the replica.
    const dead = `ws://127.0.0.1:${await freePort()}`
    client = createNodeClient({ urls: [dead, cluster.server(replica).url, cluster.server(other).url], minDelayMs: 20, maxDelayMs: 50 })
    const accounts = client.strict<{ balance: number }>('accounts')
    const queued = accounts.put('q1', { balance: 10 }, { exists: false })
    const result = await queued
    expect(result.status).toBe('acknowledged')
    const read = await accounts.get('q1', { read: 'nearest' })
    expect(read?.value).toEqual({ balance: 10 })
    expect(read?.node).toBe(replica)
    expect(client.strictToken).not.toBeNull()
  })

  it('rejects a failed precondition with a typed error and writes nothing of the batch', async () => {
    const accounts = client.strict<{ balance: number }>('accounts')
    const q1 = await accounts.get('q1')
    const failed = accounts.batch([
      { kind: 'patch', id: 'q1', fields: { balance: 0 }, expectVersion: q1?.version ?? 0 },
      { kind: 'put', id: 'q1-copy', value: { balance: 10 }, exists: true },
    ])
    await expect(failed).rejects.toBeInstanceOf(StrictWriteRejected)
    await expect(failed).rejects.toMatchObject({ code: 'PRECONDITION_FAILED', opIndex: 1 })
    expect((await accounts.get('q1'))?.value).toEqual({ balance: 10 })
  })

  it('[RD2] fails over to another region and keeps reading forward', async () => {
    const accounts = client.strict<{ n: number }>('accounts')
    for (let n = 1; n <= 5; n++) await accounts.put('counter', { n }, { w: 'majority' })
    const seen = client.strictToken
    await cluster.server(replica).close()
    // The session's reads carry its highest position, so the next region answers at or after it.
    const read = await waitForRead(() => accounts.get('counter', { read: 'nearest' }))
    expect(read?.value).toEqual({ n: 5 })
    expect(read?.node).toBe(other)
    expect(Number(read?.token.split(':')[1])).toBeGreaterThanOrEqual(Number(seen?.split(':')[1]))
  })
})

/** Retries a read while the client reconnects (a read made while offline rejects UNAVAILABLE). */
async function waitForRead<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5_000
  for (;;) {
    try {
      return await read()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

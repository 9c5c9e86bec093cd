import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MeridianClient } from '../../client/client.js'
import { createNodeClient } from '../../client/node.js'
import { ProcessCluster, waitFor } from '../helpers/cluster.js'

/**
 * Read routing with real processes (docs/client.md, "Read routing"): a strict collection configured with
 * `spreadReads`, read by a client whose default is `nearest`, is served by every region, not only the one
 * the client is connected to; a read after a write of the same session sees the write [RD1]/[RD2]; after
 * SIGKILL of a region the reads keep being served by the others.
 */
describe('strict reads spread over the regions', () => {
  let cluster: ProcessCluster
  let client: MeridianClient
  let primary = ''
  let connected = ''
  let victim = ''

  const roleOf = async (id: string): Promise<string | null> => {
    try {
      const res = await fetch(`${cluster.node(id).httpUrl}/status`, { signal: AbortSignal.timeout(1000) })
      return ((await res.json()) as { role: string }).role
    } catch {
      return null
    }
  }

  beforeAll(async () => {
    cluster = await ProcessCluster.start({
      ids: ['a', 'b', 'c'],
      config: {
        collections: { accounts: { mode: 'strict', read: 'nearest', spreadReads: true } },
        strict: { heartbeatIntervalMs: 50, electionTimeoutMinMs: 500, electionTimeoutMaxMs: 800, readTimeoutMs: 2000 },
      },
    })
    await cluster.waitConnected()
    await waitFor(async () => {
      for (const id of ['a', 'b', 'c']) if ((await roleOf(id)) === 'primary') primary = id
      return primary !== ''
    }, 15_000, 'a strict primary')
    ;[connected, victim] = ['a', 'b', 'c'].filter((id) => id !== primary) as [string, string]
    client = createNodeClient({ urls: [cluster.node(connected).url], minDelayMs: 20, maxDelayMs: 100 })
    await waitFor(() => client.status === 'connected', 10_000, 'the client to connect')
  }, 60_000)

  afterAll(async () => {
    await client?.close()
    await cluster?.stop()
  })

  it('nearest reads are served by every region; each read after a write of the session sees it; a SIGKILLed region is skipped', async () => {
    const accounts = client.strict<{ n: number }>('accounts', { read: 'nearest', maxStalenessMs: 5000 })
    const served = new Map<string, number>()
    for (let n = 1; n <= 30; n++) {
      const write = await accounts.put('x', { n })
      expect(write.status).toBe('acknowledged')
      // Read-your-writes wherever the read is served: no `after` passed, the session sends its own.
      const read = await accounts.get('x')
      expect(read?.value).toEqual({ n })
      served.set(read!.node, (served.get(read!.node) ?? 0) + 1)
    }
    console.log(`[read-spread] 30 reads via ${connected} (primary ${primary}) served by`, Object.fromEntries(served))
    expect(served.size).toBe(3)
    // The escape hatch: on the primary, whatever the default.
    expect((await accounts.primary().get('x'))?.node).toBe(primary)

    // REST: the collection's configured default (nearest) spreads too; ?read=primary overrides it.
    const restNodes = new Set<string>()
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${cluster.node(connected).httpUrl}/v1/accounts/x`)
      expect(res.status).toBe(200)
      restNodes.add(res.headers.get('x-meridian-node') ?? '')
    }
    expect(restNodes.size).toBe(3)
    const pinned = await fetch(`${cluster.node(connected).httpUrl}/v1/accounts/x?read=primary`)
    expect(pinned.headers.get('x-meridian-node')).toBe(primary)

    await cluster.kill(victim)
    const after = new Map<string, number>()
    let n = 100
    for (let i = 0; i < 30; i++) {
      n += 1
      const write = await accounts.put('x', { n })
      expect(write.status).toBe('acknowledged')
      const read = await accounts.get('x')
      expect(read?.value).toEqual({ n })
      after.set(read!.node, (after.get(read!.node) ?? 0) + 1)
    }
    console.log(`[read-spread] after SIGKILL of ${victim}: 30 reads served by`, Object.fromEntries(after))
    expect(after.has(victim)).toBe(false)
    expect([...after.keys()].sort()).toEqual([connected, primary].sort())
  }, 60_000)
})

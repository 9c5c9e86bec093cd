/**
 * `maxAuthors` (docs/server.md, config): a region's author table keeps one entry per client id ever seen, up
 * to this bound. Clients that connect with a new id each time (the soak's churn, docs/soak-and-storm.md)
 * fill it; past the bound those with nothing pending are forgotten, so it stays bounded by config.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createNodeClient } from '../../client/node.js'
import type { MeridianServer } from '../../server/server.js'
import { waitFor } from '../helpers/cluster.js'
import { NOTES, startServer } from './in-process.js'

let server: MeridianServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

/** `n` clients, each with a new id, connect, write one document, wait until it is durable and close. */
async function churn(url: string, n: number, batch = 10): Promise<void> {
  for (let from = 0; from < n; from += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - from) }, async (_, i) => {
        const client = createNodeClient({ urls: [url], minDelayMs: 20, maxDelayMs: 200 })
        try {
          await client.lww<{ i: number }>('notes').put(`d${from + i}`, { i: from + i }).durable
        } finally {
          await client.close()
        }
      }),
    )
  }
}

describe('maxAuthors', () => {
  it('bounds the author table of a region whose clients come and go with new ids', async () => {
    server = await startServer({ collections: NOTES, maxAuthors: 20, limits: { maxConnectionsPerIp: 0 } })
    await churn(server.url, 60)
    expect(server.node.mesh.authors.size).toBeLessThanOrEqual(20)
    expect(server.node.mesh.authors.size).toBeGreaterThan(0)
    const node = server.node
    await waitFor(() => node.clients === 0, 5000, 'every client detached')
    expect(node.mesh.authors.size).toBeLessThanOrEqual(20)
  })

  it('defaults to 100,000 and refuses 0', async () => {
    const { parseConfig, ConfigError } = await import('../../server/config.js')
    expect(parseConfig({ nodeId: 'a', region: 'r', storage: 'memory' }).maxAuthors).toBe(100_000)
    expect(() => parseConfig({ nodeId: 'a', region: 'r', storage: 'memory', maxAuthors: 0 })).toThrow(ConfigError)
  })
})

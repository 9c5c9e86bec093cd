import { describe, expect, it } from 'vitest'
import type { Message } from '../../core/codec/index.js'
import { parseConfig } from '../../server/config.js'
import { silentLogger } from '../../server/logger.js'
import { StrictHost } from '../../server/strict/strict-host.js'
import { memoryStrictStore } from '../../server/strict/strict-store.js'

describe('StrictHost storage failures', () => {
  it('a failed hard-state write stops the node: no vote request leaves it, and it reports the failure', async () => {
    const config = parseConfig({
      nodeId: 'a',
      region: 'r',
      storage: 'memory',
      peerSecret: 's',
      collections: { accounts: { mode: 'strict' } },
      peers: [
        { nodeId: 'b', region: 'r', url: 'ws://127.0.0.1:1/peer', httpUrl: 'http://127.0.0.1:1' },
        { nodeId: 'c', region: 'r', url: 'ws://127.0.0.1:2/peer', httpUrl: 'http://127.0.0.1:2' },
      ],
    })
    const store = memoryStrictStore({ nodeId: 'a' })
    store.saveHardState = () => {
      throw new Error('disk full')
    }
    const sent: { peer: string; message: Message }[] = []
    const host = new StrictHost({ config, store, logger: silentLogger, send: (peer, message) => (sent.push({ peer, message }), true), isLinked: () => true })
    expect(() => host.promote('test')).toThrow('disk full')
    await Promise.resolve()
    expect(sent).toEqual([])
    expect(host.storageFailed?.message).toBe('disk full')
    expect(host.events().some((e) => e.kind === 'storage')).toBe(true)
    const write = await host.write({ op: { kind: 'put', collection: 'accounts', id: 'x', value: 1 }, concern: 'majority', timeoutMs: 100, requestKey: null })
    expect(write.status).not.toBe('acknowledged')
    await host.close()
  })
})

import { describe, expect, it } from 'vitest'
import type { Message } from '../../core/codec/index.js'
import { parseConfig } from '../../server/config.js'
import { silentLogger } from '../../server/logger.js'
import { StrictHost } from '../../server/strict/strict-host.js'
import { MemoryStorageAdapter, StorageError, type StorageKey } from '../../core/storage/index.js'
import { openStrictStorage } from '../helpers/strict-storage.js'

/** A disk that takes log appends but fails every blob save (the hard state is a blob). */
class FailingSaves extends MemoryStorageAdapter {
  override save(_key: StorageKey, _data: Uint8Array): Promise<void> {
    return Promise.reject(new StorageError('io', 'disk full'))
  }
}

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
    const { store } = await openStrictStorage('a', new FailingSaves())
    const sent: { peer: string; message: Message }[] = []
    const host = new StrictHost({ config, store, logger: silentLogger, send: (peer, message) => (sent.push({ peer, message }), true), isLinked: () => true })
    host.promote('test')
    await new Promise((resolve) => setTimeout(resolve, 20))
    // The vote requests waited behind the hard state's barrier, which never became durable.
    expect(sent).toEqual([])
    expect(host.storageFailed?.message).toBe('disk full')
    expect(host.events().some((e) => e.kind === 'storage')).toBe(true)
    const write = await host.write({ op: { kind: 'put', collection: 'accounts', id: 'x', value: 1 }, concern: 'majority', timeoutMs: 100, requestKey: null })
    expect(write.status).not.toBe('acknowledged')
    await host.close()
  })
})

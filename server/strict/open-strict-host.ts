import { resolve } from 'node:path'
import type { StorageAdapter } from '../../core/storage/index.js'
import type { ServerConfig } from '../config.js'
import type { Logger } from '../logger.js'
import type { ServerMetrics } from '../metrics.js'
import type { PeerLinks } from '../peer-links.js'
import type { CommitLoop } from '../storage/commit-loop.js'
import { StrictHost } from './strict-host.js'
import { StrictMetrics } from './strict-metrics.js'
import { importOldStrictStore } from './import-old-strict-store.js'
import { StrictStorage } from './strict-storage.js'

export interface OpenStrictHostOptions {
  readonly config: ServerConfig
  readonly links: PeerLinks
  readonly metrics: ServerMetrics
  readonly logger: Logger
  /** The node's one storage engine, shared with the crdt collections. */
  readonly storage: StorageAdapter
  /** The node's commit loop (group commit for both modes). */
  readonly commits: CommitLoop
  /** True when `storage` is on disk under `config.dataDir` (an old strict directory there is imported). */
  readonly onDisk: boolean
}

/**
 * Opens strict storage and builds the host, wired to the peer links and metrics. Null when no
 * collection is strict: such a server takes no part in elections.
 */
export async function openStrictHost(options: OpenStrictHostOptions): Promise<StrictHost | null> {
  const { config, links, metrics, logger } = options
  if (!Object.values(config.collections).some((spec) => spec.mode === 'strict')) return null
  if (options.onDisk) {
    const imported = await importOldStrictStore(resolve(config.dataDir), options.storage)
    if (imported !== null) {
      logger.info(`strict log of an earlier version imported: ${imported.entries} entries after snapshot ${imported.snapshotLsn}, ${imported.rollbacks} rollback records; the old directory is now ${imported.movedTo}`)
    }
  }
  const store = await StrictStorage.open(options.storage, { nodeId: config.nodeId, loop: options.commits })
  const isLinked = (peer: string) => links.isConnected(peer)
  let host: StrictHost | null = null
  const strictMetrics = new StrictMetrics(metrics, () => host, isLinked)
  host = new StrictHost({
    config,
    store,
    logger,
    send: (peer, message) => links.send(peer, message),
    isLinked,
    onWriteOutcome: (outcome, latencyMs) => strictMetrics.outcome(outcome, latencyMs),
  })
  const created = host
  links.onPeerDown = (peer) => created.peerDown(peer)
  const restored = store.restored
  if (restored.entries.length > 0 || restored.snapshot) {
    logger.info(`strict log recovered: epoch ${restored.hardState.epoch}, ${restored.entries.length} entries after snapshot ${restored.snapshot?.lsn ?? 0}`)
  }
  return created
}

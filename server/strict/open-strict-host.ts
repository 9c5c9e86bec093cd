import { join } from 'node:path'
import type { ServerConfig } from '../config.js'
import type { Logger } from '../logger.js'
import type { ServerMetrics } from '../metrics.js'
import type { PeerLinks } from '../peer-links.js'
import { StrictHost } from './strict-host.js'
import { StrictMetrics } from './strict-metrics.js'
import { memoryStrictStore, openStrictStore } from './strict-store.js'

export interface OpenStrictHostOptions {
  readonly config: ServerConfig
  readonly links: PeerLinks
  readonly metrics: ServerMetrics
  readonly logger: Logger
  /** Keep the strict log in memory (storage: memory); otherwise `<dataDir>/strict`. */
  readonly memory: boolean
}

/**
 * Opens strict storage and builds the host, wired to the peer links and metrics. Null when no
 * collection is strict: such a server takes no part in elections.
 */
export async function openStrictHost(options: OpenStrictHostOptions): Promise<StrictHost | null> {
  const { config, links, metrics, logger } = options
  if (!Object.values(config.collections).some((spec) => spec.mode === 'strict')) return null
  const store = options.memory ? memoryStrictStore({ nodeId: config.nodeId }) : await openStrictStore(join(config.dataDir, 'strict'), { nodeId: config.nodeId })
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
  const entries = restored.entries?.length ?? 0
  if (entries > 0 || restored.snapshot) {
    logger.info(`strict log recovered: epoch ${restored.hardState?.epoch ?? 0}, ${entries} entries after snapshot ${restored.snapshot?.lsn ?? 0}`)
  }
  return created
}

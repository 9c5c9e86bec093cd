import { join, resolve } from 'node:path'
import { MemoryStorageAdapter, type StorageAdapter } from '../core/storage/index.js'
import type { ServerConfig, StorageKind } from './config.js'

export interface OpenedStorage {
  readonly adapter: StorageAdapter
  readonly kind: StorageKind
}

/**
 * Log segments of 4 MiB: compaction frees disk a whole segment at a time, so a segment is the slack a
 * compacted log keeps beyond its tail (docs/server.md, Storage on disk).
 */
export const LOG_SEGMENT_BYTES = 4 * 1024 * 1024

/**
 * Opens the storage the config names: memory, or the file adapter in `<dataDir>/storage` (`dataDir`
 * resolved against the working directory; the rest of `dataDir` stays free for other node files).
 * The file adapter is loaded lazily, so memory-only setups never load it.
 */
export async function openStorage(config: Pick<ServerConfig, 'storage' | 'dataDir'>): Promise<OpenedStorage> {
  if (config.storage === 'memory') return { adapter: new MemoryStorageAdapter(), kind: 'memory' }
  const { openFileStorage } = await import('./storage/file-adapter.js')
  return { adapter: await openFileStorage(join(resolve(config.dataDir), 'storage'), { segmentBytes: LOG_SEGMENT_BYTES }), kind: 'file' }
}

import { MemoryStorageAdapter, type StorageAdapter } from '../../core/storage/index.js'
import { CommitLoop } from '../../server/storage/commit-loop.js'
import { StrictStorage } from '../../server/strict/strict-storage.js'

/** A strict storage over `storage` (a fresh memory adapter by default) with a commit loop of its own. */
export async function openStrictStorage(nodeId: string, storage: StorageAdapter = new MemoryStorageAdapter()): Promise<{ store: StrictStorage; loop: CommitLoop; storage: StorageAdapter }> {
  const loop = new CommitLoop({ storage })
  return { store: await StrictStorage.open(storage, { nodeId, loop }), loop, storage }
}

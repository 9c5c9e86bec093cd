import type { Change } from '../core/types.js'

/**
 * Where a client keeps the changes it holds (its own and those learnt from regions), so that a
 * restart can resume instead of downloading everything and, above all, so that own changes not yet
 * durable at any region survive (the outbox, DESIGN §8).
 *
 * Kept deliberately small so an IndexedDB store can slot in: open it asynchronously first (and read
 * its log then), and hand the opened store to `createClient({ store })`.
 *
 * @example
 * ```ts
 * const client = createClient({ urls, store: memoryClientStore() })
 * ```
 */
export interface ClientStore {
  /** Changes kept by an earlier session; replayed into the client before it connects. */
  load(): Iterable<Change>
  /**
   * Keep `change` (the client's own, or one received from a region). Return nothing when it is
   * durable on return; otherwise a promise that resolves once it is. The client acknowledges and
   * releases its own changes only once durable, in call order.
   */
  append(change: Change): void | Promise<void>
  close(): void | Promise<void>
}

/**
 * A store in memory: every change is "durable" at once, and **nothing survives a reload or a
 * restart** — own changes not yet acknowledged by a region are lost with the process. This is the
 * default until the IndexedDB store (`meridian/client/idb`) exists.
 *
 * @example
 * ```ts
 * const store = memoryClientStore()
 * const client = createClient({ urls: ['ws://127.0.0.1:4101'], store })
 * ```
 */
export function memoryClientStore(): ClientStore & { readonly changes: readonly Change[] } {
  const changes: Change[] = []
  return {
    changes,
    load: () => [...changes],
    append: (change) => {
      changes.push(change)
    },
    close: () => undefined,
  }
}

import type { LockManagerLike } from '../../client/idb-store.js'

/**
 * An exclusive Web Locks manager for tests (Node has no `navigator.locks`): one holder per name,
 * waiters in order, `signal` aborts a wait, `ifAvailable` calls back with null when the lock is held.
 */
export function exclusiveLocks(): LockManagerLike {
  const held = new Map<string, (() => void)[]>()
  return {
    async request(name, options, callback) {
      const queue = held.get(name)
      if (queue !== undefined) {
        if (options.ifAvailable === true) return await callback(null)
        await new Promise<void>((resolve, reject) => {
          const turn = (): void => {
            options.signal?.removeEventListener('abort', abort)
            resolve()
          }
          const abort = (): void => {
            queue.splice(queue.indexOf(turn), 1)
            reject(options.signal?.reason)
          }
          options.signal?.addEventListener('abort', abort)
          queue.push(turn)
        })
      } else held.set(name, [])
      try {
        return await callback({ name })
      } finally {
        const waiters = held.get(name) ?? []
        const next = waiters.shift()
        if (next) next()
        else held.delete(name)
      }
    },
  }
}

/**
 * A set of listeners. A listener that throws does not stop the others, nor the code that emitted:
 * its error is rethrown from a fresh task (like an EventTarget reporting an exception), so it
 * shows up as an uncaught error without leaving the client's state half updated.
 */
export class Listeners<Args extends unknown[]> {
  private readonly listeners = new Set<(...args: Args) => void>()

  get size(): number {
    return this.listeners.size
  }

  /** Returns the unsubscribe function. */
  add(listener: (...args: Args) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('Meridian client: listener must be a function')
    // Wrapped so that adding the same function twice gives two independent subscriptions.
    const entry = (...args: Args): void => listener(...args)
    this.listeners.add(entry)
    return () => {
      this.listeners.delete(entry)
    }
  }

  emit(...args: Args): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(...args)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  clear(): void {
    this.listeners.clear()
  }
}

/**
 * Listener sets by key (a document, a collection), each dropped once its last listener goes, so that
 * the map holds only what someone listens to.
 */
export class KeyedListeners<K, Args extends unknown[]> {
  private readonly sets = new Map<K, Listeners<Args>>()

  get size(): number {
    return this.sets.size
  }

  has(key: K): boolean {
    return this.sets.has(key)
  }

  keys(): IterableIterator<K> {
    return this.sets.keys()
  }

  /** Returns the unsubscribe function. */
  add(key: K, listener: (...args: Args) => void): () => void {
    let set = this.sets.get(key)
    if (!set) {
      set = new Listeners()
      this.sets.set(key, set)
    }
    const listeners = set
    const remove = listeners.add(listener)
    return () => {
      remove()
      if (listeners.size === 0 && this.sets.get(key) === listeners) this.sets.delete(key)
    }
  }

  emit(key: K, ...args: Args): void {
    this.sets.get(key)?.emit(...args)
  }

  clear(): void {
    this.sets.clear()
  }
}

export function reportListenerError(error: unknown): void {
  globalThis.setTimeout(() => {
    throw error
  }, 0)
}

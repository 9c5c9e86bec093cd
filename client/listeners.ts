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

export function reportListenerError(error: unknown): void {
  globalThis.setTimeout(() => {
    throw error
  }, 0)
}

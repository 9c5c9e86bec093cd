/**
 * The strict core's effects — storage calls and messages — carried out in the order the core made
 * them, with durability barriers between them (docs/design.md §6, "One storage engine").
 *
 * The core reports each effect through a callback, in order; the storage adapter keeps calls in call
 * order, but is asynchronous and durable only after a flush. Some effects must not happen before
 * earlier ones are durable: a vote must not leave before the epoch and vote it depends on are on
 * disk; a replica must not report a snapshot durable, nor prune the log below it, before the snapshot
 * is. A **barrier** says so: everything the core did before it is flushed first, and every effect after
 * it — storage call or message — waits until that flush resolved. Without a barrier pending, effects
 * run at once, so the hot path (appends and their replication) never waits.
 *
 * This is the contract of etcd raft's `Ready` (persist, then send), kept as an ordered stream instead
 * of a batch: the core keeps its callbacks, and the shell never reorders them.
 *
 * @example
 * ```ts
 * const effects = new OrderedEffects(() => storage.flush(), fail)
 * effects.run(() => track(storage.save(['strict', 'hard-state'], bytes)))
 * effects.barrier()                          // the vote below waits for the hard state
 * effects.run(() => link.send(vote))
 * ```
 */
export class OrderedEffects {
  private held: (() => void)[] = []
  private blocked = false
  private stopped = false
  private readonly drainedWaiters: (() => void)[] = []

  constructor(
    private readonly flush: () => Promise<void>,
    /** A barrier's flush failed: nothing after it ever runs. */
    private readonly onError: (err: unknown) => void,
    /** Called after held effects ran, so that the caller can have what they issued committed. */
    private readonly onDrained: () => void = () => {},
  ) {}

  /** True while effects wait behind a barrier. */
  get holding(): boolean {
    return this.blocked
  }

  /** Runs `effect` now, or after the barriers called before it. */
  run(effect: () => void): void {
    if (this.stopped) return
    if (this.blocked) this.held.push(effect)
    else effect()
  }

  /** Everything run before is made durable before anything run after it. */
  barrier(): void {
    this.run(() => {
      this.blocked = true
      this.flush().then(
        () => this.release(),
        (err: unknown) => {
          this.stop()
          this.onError(err)
        },
      )
    })
  }

  /** Resolves once no effect is held (at once when none is). */
  drained(): Promise<void> {
    if (!this.blocked) return Promise.resolve()
    return new Promise((resolve) => this.drainedWaiters.push(resolve))
  }

  /** Drops every held effect and runs no more (storage failed, or the node closes). */
  stop(): void {
    this.stopped = true
    this.held = []
    this.blocked = false
    for (const resolve of this.drainedWaiters.splice(0)) resolve()
  }

  private release(): void {
    if (this.stopped) return
    this.blocked = false
    const queue = this.held
    this.held = []
    let next = 0
    while (!this.blocked && next < queue.length) (queue[next++] as () => void)()
    // A barrier among them blocked again: what it held since goes after the rest of the queue.
    if (this.blocked) this.held = queue.slice(next).concat(this.held)
    if (!this.blocked) {
      for (const resolve of this.drainedWaiters.splice(0)) resolve()
      this.onDrained()
    }
  }
}

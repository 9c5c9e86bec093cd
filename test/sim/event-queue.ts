/** A deterministic discrete-event queue: events run in time order, ties in insertion order. */
export class EventQueue {
  private heap: { at: number; order: number; run: () => void }[] = []
  private counter = 0
  now = 0

  get size(): number {
    return this.heap.length
  }

  schedule(delayMs: number, run: () => void): void {
    this.push({ at: this.now + Math.max(0, delayMs), order: this.counter++, run })
  }

  /** Runs `run` every `intervalMs` until `stopped()` says so (checked before each run). */
  every(intervalMs: number, run: () => void, stopped: () => boolean): void {
    this.schedule(intervalMs, () => {
      if (stopped()) return
      run()
      this.every(intervalMs, run, stopped)
    })
  }

  /** Runs the next event; false when none is left. */
  step(): boolean {
    const event = this.pop()
    if (!event) return false
    this.now = event.at
    event.run()
    return true
  }

  /** Runs every event due up to and including `untilMs`, then sets the time to it. */
  runUntil(untilMs: number): void {
    while (this.heap.length > 0 && (this.heap[0]?.at ?? Infinity) <= untilMs) this.step()
    this.now = Math.max(this.now, untilMs)
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]
    const y = this.heap[b]
    if (!x || !y) return false
    return x.at < y.at || (x.at === y.at && x.order < y.order)
  }

  private swap(a: number, b: number): void {
    const tmp = this.heap[a]
    this.heap[a] = this.heap[b] as (typeof this.heap)[number]
    this.heap[b] = tmp as (typeof this.heap)[number]
  }

  private push(event: { at: number; order: number; run: () => void }): void {
    this.heap.push(event)
    let i = this.heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }

  private pop(): { at: number; order: number; run: () => void } | undefined {
    const top = this.heap[0]
    const last = this.heap.pop()
    if (this.heap.length > 0 && last) {
      this.heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < this.heap.length && this.less(l, m)) m = l
        if (r < this.heap.length && this.less(r, m)) m = r
        if (m === i) break
        this.swap(i, m)
        i = m
      }
    }
    return top
  }
}

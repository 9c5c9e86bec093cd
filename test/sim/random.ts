import * as prng from 'lib0/prng'

/** A seeded random source: the only randomness a simulation uses, so a seed replays a run exactly. */
export class SimRandom {
  private readonly gen: prng.PRNG

  constructor(readonly seed: number) {
    // lib0's generator is seeded through xorshift32, which is stuck at zero for seed 0 (and weak for
    // small seeds): scramble the seed first (murmur3's finaliser), never letting it be zero.
    let h = seed >>> 0
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
    h = (h ^ (h >>> 16)) >>> 0
    this.gen = prng.create(h === 0 ? 0x9e3779b9 : h)
  }

  /** Uniform in [0, 1). */
  next(): number {
    return prng.real53(this.gen)
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return prng.int53(this.gen, min, max)
  }

  chance(probability: number): boolean {
    return this.next() < probability
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('SimRandom.pick: empty list')
    return items[this.int(0, items.length - 1)] as T
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      const tmp = items[i] as T
      items[i] = items[j] as T
      items[j] = tmp
    }
    return items
  }

  /** A child source, so that one part of a run drawing more numbers doesn't shift another part. */
  fork(): SimRandom {
    return new SimRandom(this.int(0, 0x7fffffff))
  }
}

import type { Hlc } from '../../core/types.js'
import type { HlcClockOptions } from '../../core/clock/hlc.js'
import { MeshNode, type MeshClock } from '../../core/mesh/index.js'
import type { Change } from '../../core/types.js'

/*
 * Deliberately broken components. The simulator must catch each of them within the default number
 * of runs; if it stops doing so, the simulator has lost its teeth.
 */

/** Never passes on what it learnt from one peer to the others: a chain cannot converge. */
export class ForgetfulForwarderMesh extends MeshNode {
  protected override sendableHead(origin: string): number {
    return origin === this.id ? super.sendableHead(origin) : 0
  }
}

/** Applies a re-delivered change again instead of ignoring it. */
export class DoubleApplyMesh extends MeshNode {
  protected override isDuplicate(): boolean {
    return false
  }

  protected override applyInOrder(change: Change): void {
    if (change.seq > this.log.head(change.origin)) {
      super.applyInOrder(change)
      return
    }
    const replica = this.replica(change.collection, change.docId, change.docType)
    this.options.onApplied?.(change, replica.apply(change))
  }
}

/** Sends its own changes before they are durable: a crash then reuses their seq numbers. */
export class EagerSenderMesh extends MeshNode {
  protected override sendableHead(origin: string): number {
    return this.log.head(origin)
  }
}

/**
 * Compacts one change too far [SG3]: prunes each origin's next change past what the rule allows, so a
 * change can leave the log (memory and disk) before the stored state or every member holds it.
 */
export class EarlyPruneMesh extends MeshNode {
  override prunePoint(covered: ReadonlyMap<string, number>): Map<string, number> {
    const point = super.prunePoint(covered)
    for (const [origin, head] of this.vector) {
      const next = Math.max(point.get(origin) ?? 0, this.logBase(origin)) + 1
      if (next <= head) point.set(origin, next)
    }
    return point
  }
}

/**
 * Answers a client's fetch at once [PS2], without waiting until it holds what the client's position
 * covers: the state can miss a change the client's position already claims.
 */
export class HastyFetchMesh extends MeshNode {
  protected override holdsPositionOf(): boolean {
    return true
  }
}

/** An "HLC" that trusts the wall clock: goes backwards with it, and ignores what it receives. */
export class WallClockOnlyHlc implements MeshClock {
  private last: Hlc

  constructor(private readonly options: HlcClockOptions) {
    this.last = { wallMs: 0, counter: 0, node: options.node }
  }

  now(): Hlc {
    this.last = { wallMs: this.options.wallClock(), counter: 0, node: this.options.node }
    return this.last
  }

  receive(): boolean {
    return true
  }

  restore(): void {}

  peek(): Hlc {
    return this.last
  }
}

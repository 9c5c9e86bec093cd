import { vvEquals, vvMeet } from '../../core/clock/version-vector.js'
import type { MeshNode } from '../../core/mesh/index.js'
import type { VersionVector } from '../../core/types.js'
import type { AckLevel } from './types.js'

interface AllWaiter {
  readonly seq: number
  readonly resolve: (ack: AckLevel) => void
  readonly timer: ReturnType<typeof setTimeout>
}

export interface AckWaitersOptions {
  readonly mesh: MeshNode
  readonly nodeId: string
  /** Every member region: `all` means durable in each of them. */
  readonly members: ReadonlySet<string>
  /** A `w=all` wait that lasts longer answers `indeterminate` [ST3]. */
  readonly ackTimeoutMs: number
  /** The vector durable in every member grew (the region tells its clients). */
  readonly onReplicated: (vector: VersionVector) => void
}

/**
 * What a REST write on a crdt collection waits for (docs/server.md): its change durable here (`local`),
 * or durable in every member region (`all`, with a timeout that answers `indeterminate`, never
 * "failed" [ST3]). Also keeps the replicated vector, the pointwise minimum of the members' durable
 * vectors, recomputed at most once per turn of the event loop.
 */
export class AckWaiters {
  private local: { seq: number; resolve: (durable: boolean) => void }[] = []
  private readonly all = new Set<AllWaiter>()
  private replicated: VersionVector = new Map()
  private checkScheduled = false
  private failed = false

  constructor(private readonly options: AckWaitersOptions) {}

  /** What is durable in every member region. */
  get replicatedVector(): VersionVector {
    return this.replicated
  }

  /** Resolves true once own change `seq` is durable here, false if storage failed first. */
  waitLocal(seq: number): Promise<boolean> {
    if (this.ownDurable() >= seq) return Promise.resolve(true)
    if (this.failed) return Promise.resolve(false)
    return new Promise((resolve) => this.local.push({ seq, resolve }))
  }

  /** Resolves `all` once own change `seq` is durable in every member, `indeterminate` after the timeout. */
  waitAll(seq: number): Promise<AckLevel> {
    if ((this.replicated.get(this.options.nodeId) ?? 0) >= seq) return Promise.resolve('all')
    return new Promise((resolve) => {
      const waiter: AllWaiter = {
        seq,
        resolve,
        timer: setTimeout(() => {
          this.all.delete(waiter)
          resolve('indeterminate')
        }, this.options.ackTimeoutMs),
      }
      this.all.add(waiter)
    })
  }

  /** The mesh's durable vector grew: answer the local waiters it covers. */
  durableChanged(): void {
    const own = this.ownDurable()
    let done = 0
    while (done < this.local.length && (this.local[done]?.seq ?? Infinity) <= own) done += 1
    if (done > 0) for (const waiter of this.local.splice(0, done)) waiter.resolve(true)
    this.scheduleCheck()
  }

  /** Storage failed: nothing waiting for local durability will get it. */
  storageFailed(): void {
    this.failed = true
    for (const waiter of this.local.splice(0)) waiter.resolve(false)
  }

  /** Coalesces the recomputation of the replicated vector to once per turn of the event loop. */
  scheduleCheck(): void {
    if (this.checkScheduled) return
    this.checkScheduled = true
    setImmediate(() => {
      this.checkScheduled = false
      this.check()
    })
  }

  /** Shutdown: every `all` wait answers `indeterminate`, every local wait false. */
  close(): void {
    for (const waiter of this.all) {
      clearTimeout(waiter.timer)
      waiter.resolve('indeterminate')
    }
    this.all.clear()
    for (const waiter of this.local.splice(0)) waiter.resolve(false)
  }

  private ownDurable(): number {
    return this.options.mesh.durableVector.get(this.options.nodeId) ?? 0
  }

  private check(): void {
    let meet: Map<string, number> | null = null
    for (const member of this.options.members) {
      const durable = this.options.mesh.durableOf(member)
      if (durable === undefined) {
        meet = new Map()
        break
      }
      meet = meet === null ? new Map(durable) : vvMeet(meet, durable)
    }
    if (meet === null || vvEquals(meet, this.replicated)) return
    this.replicated = meet
    this.options.onReplicated(meet)
    const own = meet.get(this.options.nodeId) ?? 0
    for (const waiter of this.all) {
      if (waiter.seq <= own) {
        clearTimeout(waiter.timer)
        this.all.delete(waiter)
        waiter.resolve('all')
      }
    }
  }
}

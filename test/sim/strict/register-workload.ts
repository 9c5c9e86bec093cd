import { strictKey, type StrictNode, type WriteOutcome } from '../../../core/strict/index.js'
import { checkRegisterHistory, type RegisterOp } from '../../helpers/linearizability.js'

/** The registers of the linearizability workload live in their own collection, written only by puts. */
export const REGISTER_COLLECTION = 'reg'
const REGISTER_KEYS = ['r1', 'r2']

interface Pending {
  readonly kind: 'write' | 'read'
  readonly key: string
  readonly invokeMs: number
  readonly value?: unknown
  readonly node: StrictNode
}

/**
 * Register histories recorded in `majority` mode under the simulator's faults (issue 4: a
 * Wing–Gong check of strict mode). Writes are `put`s of unique values at `majority`; reads are
 * linearizable reads: a read barrier on a primary, then the state at or after its token. Rejected
 * ops took no effect; writes whose outcome is lost or indeterminate may or may not have; reads whose
 * barrier did not commit carry no information.
 */
export class RegisterWorkload {
  readonly history: RegisterOp[] = []
  private readonly pending = new Map<string, { op: Pending; index: number }>()
  private nextValue = 1
  private readonly now: () => number
  private readonly unconfirmedReads: boolean

  /**
   * `unconfirmedReads`: the broken variant the mutant test uses — a primary answers reads from its
   * applied state without a barrier and without waiting for its no-op, so a new primary (or a deposed
   * one that has not noticed yet) answers stale.
   */
  constructor(now: () => number, options: { unconfirmedReads?: boolean } = {}) {
    this.now = now
    this.unconfirmedReads = options.unconfirmedReads ?? false
  }

  get size(): number {
    return this.history.length
  }

  /** Issues one write or read on `node`; `outcomeKey(writeId)` names the outcome it will produce. */
  issue(node: StrictNode, choose: (n: number) => number, outcomeKey: (writeId: number) => string): string {
    const key = REGISTER_KEYS[choose(REGISTER_KEYS.length)] as string
    const invokeMs = this.now()
    if (choose(10) < 6) {
      const value = this.nextValue++
      const result = node.write({ kind: 'put', collection: REGISTER_COLLECTION, id: key, value }, { concern: 'majority' })
      if (result.status === 'rejected') {
        this.history.push({ kind: 'write', key, value, client: this.history.length, invokeMs, completeMs: invokeMs, ok: false })
        return `register write ${key}=${value} rejected: ${result.error.code}`
      }
      this.track(outcomeKey(result.writeId), { kind: 'write', key, invokeMs, value, node })
      return `register write ${key}=${value} -> ${result.token.epoch}:${result.token.lsn}`
    }
    if (this.unconfirmedReads && node.currentRole === 'primary') {
      // Straight from the applied state: no barrier, and not waiting for a new primary's no-op.
      const wanted = strictKey(REGISTER_COLLECTION, key)
      let output: unknown = null
      for (const [docKey, doc] of node.documents()) if (docKey === wanted) output = doc.value
      this.history.push({ kind: 'read', key, output, client: this.history.length, invokeMs, completeMs: invokeMs, ok: true })
      return `register read ${key} (unconfirmed) -> ${JSON.stringify(output)}`
    }
    const result = node.barrier()
    if (result.status === 'rejected') return `register read ${key} rejected: ${result.error.code}`
    this.track(outcomeKey(result.writeId), { kind: 'read', key, invokeMs, node })
    return `register read ${key}: barrier ${result.token.epoch}:${result.token.lsn}`
  }

  private track(outcomeKey: string, op: Pending): void {
    const index = this.history.length
    const base = { key: op.key, client: index, invokeMs: op.invokeMs, completeMs: null, ok: true }
    this.history.push(op.kind === 'write' ? { kind: 'write', value: op.value, ...base } : { kind: 'read', ...base })
    this.pending.set(outcomeKey, { op, index })
  }

  /** An outcome from any node; returns a log line when it was one of ours. */
  outcome(outcomeKey: string, outcome: WriteOutcome): string | null {
    const tracked = this.pending.get(outcomeKey)
    if (tracked === undefined) return null
    this.pending.delete(outcomeKey)
    const { op, index } = tracked
    const completeMs = this.now()
    if (outcome.status !== 'acknowledged') return `register ${op.kind} ${op.key} indeterminate`
    if (op.kind === 'write') {
      this.history[index] = { kind: 'write', key: op.key, value: op.value, client: index, invokeMs: op.invokeMs, completeMs, ok: true }
      return null
    }
    const read = op.node.read(REGISTER_COLLECTION, op.key, { after: outcome.token })
    if (read.status !== 'ok') return `register read ${op.key} after its barrier: ${read.status}`
    const output = read.document?.value ?? null
    this.history[index] = { kind: 'read', key: op.key, output, client: index, invokeMs: op.invokeMs, completeMs, ok: true }
    return `register read ${op.key} -> ${JSON.stringify(output)} at ${read.appliedLsn}`
  }

  /** The Wing–Gong verdict, or null when the history is linearizable (or too big to decide). */
  violation(): string | null {
    const result = checkRegisterHistory(this.history, { maxSteps: 200_000 })
    if (result.ok === false) return `[ST1][RD1] the majority register history is not linearizable:\n${result.explanation}`
    return null
  }
}

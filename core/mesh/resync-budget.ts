import type { Change, VersionVector } from '../types.js'

/** Encoded bytes of `origin`'s changes 1..`seq` (0 for seq 0), as the shell measures them. */
export type BytesThrough = (origin: string, seq: number) => number

export interface ResyncBudgetOptions {
  /** Bytes of resent changes a link may cause per `windowMs`; also the most it may cause at once. */
  readonly budgetBytes: number
  /** The budget refills continuously, `budgetBytes` per `windowMs`. */
  readonly windowMs: number
  /** Milliseconds, injected: core reads no clock. If it goes backwards, nothing refills meanwhile. */
  readonly now: () => number
}

export type ResyncVerdict =
  | { readonly allowed: true; readonly resentBytes: number }
  | { readonly allowed: false; readonly resentBytes: number; readonly availableBytes: number }

/**
 * Bytes that answering `announced` would send again: per origin, the changes above what the other
 * side announces and up to what it has already held or been sent (`held`), within what we hold (`head`).
 */
export function resentBytes(announced: VersionVector, held: VersionVector, head: VersionVector, bytesThrough: BytesThrough): number {
  let total = 0
  for (const [origin, had] of held) {
    const to = Math.min(had, head.get(origin) ?? 0)
    const from = announced.get(origin) ?? 0
    if (to > from) total += bytesThrough(origin, to) - bytesThrough(origin, from)
  }
  return total
}

/**
 * [PF4] What one link may make this node send **again** (docs/crdt.md, "The anti-entropy state machine").
 * A `VersionVector` from a link replaces the node's estimate of what the other side holds, and the node
 * answers with the whole difference. Sending a change for the first time costs nothing here: an honest
 * client or peer is sent each change once. But a link that announces less than it has already shown to
 * hold — an empty vector, again and again — would make the node resend its log each time. So the link's
 * high-water mark (`held`: what it announced, sent us, or was sent, capped at what we hold) is kept, and
 * each announcement is charged the bytes between what it announces and that mark, against a token
 * bucket of `budgetBytes` refilling at `budgetBytes` per `windowMs`. An announcement that costs more
 * than is left is refused (the shell closes the link with `RESYNC_LIMIT`), before anything is resent.
 *
 * Honest links do resend a little: an announcement overtaken by changes still in flight towards the
 * other side (a peer's periodic anti-entropy during a catch-up, a gap re-announce) is charged what was
 * in flight, which the send buffer bounds. Flow control's internal replay (server/link-flow.ts) is not
 * an announcement of the other side and is never charged.
 *
 * @example
 * ```ts
 * const budget = new ResyncBudget({ budgetBytes: 64 << 20, windowMs: 60_000, now: () => clock.ms })
 * const verdict = budget.announce(message.vector, mesh.vector, bytesThrough)
 * if (!verdict.allowed) link.close(CloseCode.RESYNC_LIMIT, '…')
 * ```
 */
export class ResyncBudget {
  private readonly held = new Map<string, number>()
  private readonly options: ResyncBudgetOptions
  private available: number
  private refilledAt: number

  constructor(options: ResyncBudgetOptions) {
    if (!(options.budgetBytes > 0)) throw new Error('ResyncBudget: budgetBytes must be > 0')
    if (!(options.windowMs > 0)) throw new Error('ResyncBudget: windowMs must be > 0')
    this.options = options
    this.available = options.budgetBytes
    this.refilledAt = options.now()
  }

  /** Bytes the link may still make us resend right now. */
  get availableBytes(): number {
    this.refill()
    return this.available
  }

  /** What the link has held or been sent, per origin (capped at what we held then). Live view. */
  get heldVector(): VersionVector {
    return this.held
  }

  /**
   * Changes written to the link, or received from it (call after the node took them in): the other
   * side holds them. Origins we do not hold are not recorded, so a link cannot grow this map beyond
   * the origins of the log.
   */
  observeChanges(changes: readonly Change[], head: VersionVector): void {
    for (const change of changes) this.raise(change.origin, change.seq, head)
  }

  /**
   * A `VersionVector` from the link, before the node answers it. Allowed: the cost is taken from the
   * budget and the vector joins the high-water mark. Refused: nothing changes.
   */
  /**
   * A state transfer covering `vector` went to the link [SG3]: it holds that much now, as if it had
   * been sent every change.
   */
  observeCovered(vector: VersionVector, head: VersionVector): void {
    for (const [origin, seq] of vector) this.raise(origin, seq, head)
  }

  /**
   * Charges document states about to be resent (a state transfer to a link that already held
   * something, so it was announcing less than it had). Returns false, charging nothing, when the
   * budget cannot cover them: the link must be closed. Changes are charged at `announce`, by the bytes
   * they stand for; a state transfer's own size is only known once it is cut, hence here.
   */
  spend(bytes: number): boolean {
    if (this.held.size === 0 || bytes <= 0) return true
    this.refill()
    if (bytes > this.available) return false
    this.available -= bytes
    return true
  }

  announce(vector: VersionVector, head: VersionVector, bytesThrough: BytesThrough): ResyncVerdict {
    const cost = resentBytes(vector, this.held, head, bytesThrough)
    if (cost > 0) {
      this.refill()
      if (cost > this.available) return { allowed: false, resentBytes: cost, availableBytes: this.available }
      this.available -= cost
    }
    for (const [origin, seq] of vector) this.raise(origin, seq, head)
    return { allowed: true, resentBytes: cost }
  }

  private raise(origin: string, seq: number, head: VersionVector): void {
    const capped = Math.min(seq, head.get(origin) ?? 0)
    if (capped > (this.held.get(origin) ?? 0)) this.held.set(origin, capped)
  }

  private refill(): void {
    const now = this.options.now()
    const elapsed = now - this.refilledAt
    this.refilledAt = now
    if (!(elapsed > 0)) return
    const { budgetBytes, windowMs } = this.options
    this.available = Math.min(budgetBytes, this.available + (elapsed * budgetBytes) / windowMs)
  }
}

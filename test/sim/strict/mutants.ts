import { StrictNode } from '../../../core/strict/index.js'
import type { RequestVoteMessage } from '../../../core/strict/index.js'

/*
 * Deliberately broken strict nodes. The strict simulator must catch each within the default number
 * of runs; if one survives, the simulator has lost its teeth.
 */

/** Votes for any candidate once per epoch, whatever its log [FO1]: a stale node can win and lose acknowledged writes. */
export class VoteForAnyoneNode extends StrictNode {
  protected override grantsVote(m: RequestVoteMessage): boolean {
    return m.epoch === this.epoch && (this.votedFor === null || this.votedFor === m.from)
  }
}

/** Counts a replica's acknowledgement as soon as it received an entry, and its own before fsync. */
export class AckBeforeDurableNode extends StrictNode {
  protected override ownAckLsn(): number {
    return this.log.lastLsn
  }

  protected override reportedDurableLsn(): number {
    return Math.min(this.log.lastLsn, this.matchedLsn)
  }
}

/** On a conflicting entry keeps its own and skips the primary's: never truncates a divergent suffix [ST5]. */
export class NoTruncateNode extends StrictNode {
  protected override resolveConflict(): boolean {
    return false
  }
}

/** Accepts appends from primaries of older epochs: no fencing [ST2]. Needs a message delayed past an election. */
export class UnfencedNode extends StrictNode {
  protected override acceptsEpoch(): boolean {
    return true
  }
}

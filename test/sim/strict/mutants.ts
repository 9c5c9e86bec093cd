import { StrictNode } from '../../../core/strict/index.js'
import type { AppendReplyMessage, LogPosition, RequestVoteMessage } from '../../../core/strict/index.js'

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

/**
 * Counts append replies of older epochs towards its acknowledgements [ST2]. Such a reply's `matchLsn`
 * and `durableLsn` describe the log of an earlier primary, which the current one may no longer equal
 * (it lost its volatile tail in a crash, or was truncated by a primary in between).
 */
export class StaleReplyCountingNode extends StrictNode {
  protected override countsReply(m: AppendReplyMessage): boolean {
    return m.epoch <= this.epoch
  }
}

/**
 * Commits entries of older epochs by counting replicas (Raft's figure 8) [ST1]: an entry on a
 * majority can still be overwritten by a primary whose last entry has a later epoch, unless an entry
 * of the current epoch committed on top of it.
 */
export class CommitOldEpochByCountingNode extends StrictNode {
  protected override mayCommitByCounting(lsn: number): boolean {
    return lsn > 0 && this.log.epochAt(lsn) !== undefined
  }
}

/**
 * [RD3] Reports the time since it last heard from the primary as its staleness, even while it is
 * catching up (or its primary has not yet committed in its epoch): a replica far behind claims to be fresh.
 */
export class ContactAsStalenessNode extends StrictNode {
  protected override stalenessMs(): number | null {
    return this.sincePrimaryContactMs()
  }
}

/**
 * Ignores request keys: every resend of a keyed write is appended again (the key still travels in
 * the entry), so a write whose first copy committed is committed twice [ST4].
 */
export class IgnoresRequestKeysNode extends StrictNode {
  protected override findRequestKey(): LogPosition | undefined {
    return undefined
  }
}

/**
 * Cascading: a relay that passes on its whole log, not only the entries known to equal the primary's.
 * A downstream replica then acknowledges entries of an old epoch's suffix the primary never had, and
 * the primary counts them [ST1].
 */
export class RelaysUnmatchedEntriesNode extends StrictNode {
  protected override relayLimit(): number {
    return this.log.lastLsn
  }
}

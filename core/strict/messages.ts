import type { LogEntry, StrictSnapshot } from './types.js'

/*
 * Strict replication messages between cluster members. Every one carries the sender's epoch: a
 * receiver with a newer epoch rejects it [ST2] (pre-votes carry a proposed epoch instead). These are TypeScript types only for now: they are
 * not yet part of core/codec's binary wire format (that is the server wiring's job).
 */

/**
 * Primary → replica: entries after `prevLsn` (empty = heartbeat), and how far the primary committed.
 * `relayed-append` is the same append passed on by a cascading relay (docs/strict-mode.md, "Cascading
 * replicas"): `from` is still the primary, the relay only carries it; it holds entries of the relay's
 * log known to equal the primary's, and the primary's commit index and rounds as the relay last heard.
 */
export interface AppendMessage {
  readonly type: 'append' | 'relayed-append'
  readonly epoch: number
  readonly from: string
  /** Log matching: the replica accepts only if its entry at `prevLsn` has epoch `prevEpoch`. */
  readonly prevLsn: number
  readonly prevEpoch: number
  readonly entries: readonly LogEntry[]
  readonly commitLsn: number
  /** This append's number: a primary numbers the appends it sends 1, 2, … within its epoch. */
  readonly round: number
  /**
   * [RD3] The highest round a majority (the primary included) has answered in this epoch. Those
   * members took no vote in a later epoch before answering it, so no other primary committed anything
   * before that round was sent: `commitLsn` is complete as of then, not as of now (a primary cut off
   * from the majority may have been replaced without knowing yet).
   */
  readonly confirmedRound: number
}

/**
 * Primary → replica whose next entry the primary has pruned [ST6]. `relayed-snapshot`: a relay's own
 * snapshot (committed state, so the primary's too) sent on to a member downstream of it.
 */
export interface SnapshotMessage {
  readonly type: 'snapshot' | 'relayed-snapshot'
  readonly epoch: number
  readonly from: string
  readonly snapshot: StrictSnapshot
  readonly commitLsn: number
}

/**
 * Replica → primary, answering an append or a snapshot (and sent again when durability moves).
 * `relayed-reply`: a cascaded replica's answer to a relayed append, sent to its relay and passed on
 * upstream unchanged (`from` stays the replica) until it reaches the primary, which counts it.
 */
export interface AppendReplyMessage {
  readonly type: 'append-reply' | 'relayed-reply'
  readonly epoch: number
  readonly from: string
  readonly success: boolean
  /** Highest LSN known to equal the primary's log in this epoch. */
  readonly matchLsn: number
  /** Offsets reported for lag figures: held / durable (and matching) / applied. */
  readonly receivedLsn: number
  readonly durableLsn: number
  readonly appliedLsn: number
  /** On failure: where the primary should resume sending from. */
  readonly retryFromLsn: number
  /** The highest append round this replica has received from the primary of its epoch (0: none). */
  readonly round: number
}

export interface RequestVoteMessage {
  readonly type: 'request-vote'
  readonly epoch: number
  readonly from: string
  readonly lastLsn: number
  readonly lastEpoch: number
}

export interface VoteMessage {
  readonly type: 'vote'
  readonly epoch: number
  readonly from: string
  readonly granted: boolean
}

/**
 * Pre-vote (Raft thesis §9.6): before raising its epoch, a node asks whether it could win. `epoch` is
 * the epoch it would stand in; receivers do not adopt it. A node cut off from the others therefore
 * does not inflate its epoch and depose a healthy primary when it returns.
 */
export interface PreVoteMessage {
  readonly type: 'pre-vote'
  readonly epoch: number
  readonly from: string
  readonly lastLsn: number
  readonly lastEpoch: number
}

/** The answer to a pre-vote; `epoch` echoes the proposed epoch when granted, else is the replier's epoch. */
export interface PreVoteReplyMessage {
  readonly type: 'pre-vote-reply'
  readonly epoch: number
  readonly from: string
  readonly granted: boolean
}

/** Operator step-down [FO2]: the primary asks an up-to-date replica to start an election now. */
export interface TimeoutNowMessage {
  readonly type: 'timeout-now'
  readonly epoch: number
  readonly from: string
}

/**
 * [FO3] Log lending: a member that may not stand for election (noFailover, or too far behind) and
 * refused a candidate's (pre-)vote because its own log is further along sends the candidate the
 * entries after the candidate's last one. The candidate appends them only when its log ends exactly at
 * `prevLsn` with epoch `prevEpoch`: its log then is a prefix of the lender's (log matching), as any
 * follower's could be, so it may win the vote the lender could not stand in. Nothing is truncated,
 * committed or acknowledged by it.
 */
export interface LendMessage {
  readonly type: 'lend'
  readonly epoch: number
  readonly from: string
  readonly prevLsn: number
  readonly prevEpoch: number
  readonly entries: readonly LogEntry[]
}

export type StrictMessage =
  | LendMessage
  | AppendMessage
  | SnapshotMessage
  | AppendReplyMessage
  | RequestVoteMessage
  | VoteMessage
  | TimeoutNowMessage
  | PreVoteMessage
  | PreVoteReplyMessage

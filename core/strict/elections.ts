import { isAtLeastAsUpToDate } from './log.js'
import type { LogPosition } from './types.js'

/** Votes (or acknowledgements) needed out of `members`. */
export function majorityOf(members: number): number {
  return Math.floor(members / 2) + 1
}

/** A randomized election timeout in [minMs, maxMs) from the injected random source. */
export function randomElectionTimeoutMs(random: () => number, minMs: number, maxMs: number): number {
  return minMs + Math.floor(random() * Math.max(1, maxMs - minMs))
}

export interface VoteRequest {
  readonly epoch: number
  readonly candidate: string
  readonly last: LogPosition
}

/**
 * [FO1] Whether a node at `epoch` that voted for `votedFor` (this epoch) with log ending at `own`
 * may grant its vote: same epoch, not promised to someone else, and the candidate's log is at least
 * as up to date as its own. The caller adopts a newer epoch first (clearing `votedFor`).
 */
export function mayGrantVote(request: VoteRequest, epoch: number, votedFor: string | null, own: LogPosition): boolean {
  if (request.epoch !== epoch) return false
  if (votedFor !== null && votedFor !== request.candidate) return false
  return isAtLeastAsUpToDate(request.last, own)
}

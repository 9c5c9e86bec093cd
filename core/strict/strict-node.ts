import { checkReplicateFrom, downstreamOf, upstreamOf, type ReplicateFrom } from './cascade.js'
import { majorityOf, mayGrantVote, randomElectionTimeoutMs } from './elections.js'
import { checkFailoverControls, failoverPriority, priorityRank, standingProblem, type FailoverControls } from './failover-controls.js'
import { isAtLeastAsUpToDate, StrictLog } from './log.js'
import type {
  AppendMessage,
  AppendReplyMessage,
  LendMessage,
  PreVoteMessage,
  PreVoteReplyMessage,
  RequestVoteMessage,
  SnapshotMessage,
  StrictMessage,
  VoteMessage,
} from './messages.js'
import { entryBytes, entrySizeProblem, writeOpValueProblem } from './op-values.js'
import { formatPosition } from './positions.js'
import { readDocument } from './reads.js'
import { PendingRequestKeys } from './request-keys.js'
import { applyDocumentOp, checkPreconditions, strictKey, DocumentState } from './state.js'
import type {
  HardState,
  LogEntry,
  LogPosition,
  StrictOp,
  ReadOptions,
  ReadResult,
  StoredDocument,
  StrictRole,
  StrictSnapshot,
  WriteConcern,
  WriteOp,
  WriteOutcome,
  WriteSubmission,
} from './types.js'
import { StrictAckTracker, type DurabilityProgress } from './write-tracker.js'
import { checkValueLimits, DEFAULT_VALUE_LIMITS, type ValueLimits } from '../values/storable-value.js'

/** What the shell reloads from durable storage after a (re)start. */
export interface StrictRestore {
  readonly hardState?: HardState
  readonly snapshot?: StrictSnapshot | null
  /** Durable entries in LSN order; those at or below the snapshot are skipped. */
  readonly entries?: readonly LogEntry[]
  /** The last list given to `onRollbackCandidates`. */
  readonly rollbackCandidates?: readonly LogEntry[]
}

export interface StrictNodeOptions {
  readonly id: string
  /** Every member of the cluster, this node included (static membership). */
  readonly members: readonly string[]
  /** Hands a message to the transport; the node never touches a socket. */
  readonly send: (peer: string, message: StrictMessage) => void
  /** Injected randomness (election timeouts); `SimRandom` in the simulator. */
  readonly random: () => number
  readonly electionTimeoutMinMs?: number
  readonly electionTimeoutMaxMs?: number
  readonly heartbeatIntervalMs?: number
  /** Semi-sync: a `one` write no replica acknowledged within this falls back to `local`. */
  readonly semiSyncTimeoutMs?: number
  /** Default time after which an unacknowledged write is reported `indeterminate` [ST3]. */
  readonly writeTimeoutMs?: number
  readonly maxEntriesPerMessage?: number
  /**
   * An append carries entries up to about this many bytes (always at least one entry), so a run of
   * large writes never makes a frame the replicas refuse as too large; a write is refused (INVALID_OP)
   * when its entry alone would take more than twice this. Default 4 MiB (a quarter of a frame).
   */
  readonly maxAppendBytes?: number
  /**
   * Flow control of pipelined appends: at most about this many bytes of entries are sent to a replica
   * and not yet acknowledged as received (one entry larger than it still goes alone). Without a bound,
   * a burst of large writes fills the link's send buffer faster than the replica reads it, and the
   * transport closes the link. Default `maxAppendBytes`.
   */
  readonly maxInflightBytes?: number
  /** What a write may carry (core/values/storable-value.ts); checked before anything is logged. */
  readonly valueLimits?: ValueLimits
  /**
   * How many request keys of applied entries the state remembers for at-most-once writes (oldest
   * forgotten first; default 100 000). Give every member the same value: the table is replicated
   * state, and a new primary dedups only against what it remembers.
   */
  readonly requestKeyRetention?: number
  /**
   * Batch replication: `write` and `barrier` append to the log but do not send; the node calls
   * `onAppendsPending` once, and the shell calls `flushAppends()` soon after (e.g. on the next turn of
   * the event loop), so concurrent writes share one append message per replica.
   */
  readonly onAppendsPending?: () => void
  /**
   * Pre-vote before every election (default true): a node first asks whether a majority would vote
   * for it, and only then raises its epoch. Nodes grant a pre-vote only when they have not heard from
   * a primary for an election timeout, so a node returning from a partition cannot depose a healthy
   * primary. Operator promotion and step-down hand-over skip it.
   */
  readonly preVote?: boolean
  /**
   * [FO3] Failover controls (priorities, noFailover members, maxLagOnFailover): they delay or forbid
   * standing for election, never change who may win it. Give every member the same value.
   */
  readonly failover?: FailoverControls
  /**
   * Cascading replicas (docs/strict-mode.md, "Cascading replicas"): member → the member it streams the
   * log from instead of the primary (no cycles). Give every member the same value. A member whose
   * upstream is the primary, or whose relayed acknowledgements stop arriving, is fed by the primary.
   */
  readonly replicateFrom?: ReplicateFrom
  /**
   * The primary feeds a cascaded replica itself when no acknowledgement of it came through its relay
   * for this long. Default: 3 heartbeats, at most halfway from a heartbeat to the election timeout (the
   * replica must hear the primary, one way or the other, before it would stand for election).
   */
  readonly cascadeFallbackMs?: number
  /** Epoch or vote changed: persist it before any message sent from the same call leaves. */
  readonly onHardState?: (state: HardState) => void
  /** New entries at the end of the log (volatile until the shell calls `markDurable`). */
  readonly onAppend?: (entries: readonly LogEntry[]) => void
  /**
   * The log was cut at `fromLsn`: the shell truncates storage there and must not report a flush
   * started before this call through `markDurable`.
   */
  readonly onTruncate?: (fromLsn: number) => void
  /**
   * The entries cut from this node's log that are not yet known to be rolled back: a node far
   * behind may cut an entry a later primary has since committed, and gets it back. Persist the
   * list (it replaces the previous one) and pass it back in `restore.rollbackCandidates`.
   */
  readonly onRollbackCandidates?: (candidates: readonly LogEntry[]) => void
  /**
   * [ST5] These entries are rolled back for good: another entry was committed at their LSN, or an
   * entry of a later epoch was committed before it. Write them to the rollback file, raise the event.
   */
  readonly onRollback?: (rolledBack: readonly LogEntry[]) => void
  /**
   * A snapshot was taken (compaction) or installed from the primary [ST6]; storage drops entries at
   * or below `prunedToLsn`. Persist it before any message sent from the same call leaves.
   */
  readonly onSnapshot?: (snapshot: StrictSnapshot, prunedToLsn: number) => void
  /** An entry was applied to the state (in LSN order [ST4]). */
  readonly onApply?: (entry: LogEntry) => void
  /** The final outcome of a write accepted by this node as primary. */
  readonly onWriteOutcome?: (outcome: WriteOutcome) => void
  readonly onRoleChange?: (role: StrictRole, epoch: number) => void
  /** Previous life's durable state (see `StrictRestore`). */
  readonly restore?: StrictRestore
}

export interface ReplicaProgress {
  readonly id: string
  /** The last LSN sent to this replica (it may not have arrived). */
  readonly sentLsn: number
  readonly matchLsn: number
  readonly receivedLsn: number
  readonly durableLsn: number
  readonly appliedLsn: number
  /** Last time (tick ms) a reply of this epoch arrived; null if none. */
  readonly lastHeardMs: number | null
  /** The relay that streams the log to it now (cascading), or null when the primary does. */
  readonly via: string | null
}

/** On a relay: a member downstream of it, as the relay sees it (one hop of a cascade). */
export interface DownstreamProgress {
  readonly id: string
  readonly sentLsn: number
  readonly matchLsn: number
  readonly durableLsn: number
  readonly appliedLsn: number
  /** Last time (tick ms) it answered this relay in this epoch; null if never. */
  readonly lastHeardMs: number | null
}

export interface StrictStatus {
  readonly id: string
  readonly role: StrictRole
  readonly epoch: number
  readonly primaryHint: string | null
  readonly last: LogPosition
  readonly commitLsn: number
  readonly appliedLsn: number
  readonly durableLsn: number
  readonly prunedLsn: number
  readonly degraded: boolean
  readonly pendingWrites: number
  /** ms (tick time) since this node last heard from a primary of its epoch; 0 on the primary, null if never. */
  readonly sincePrimaryContactMs: number | null
  /** [RD3] ms since this replica last had applied all the primary reported committed; 0 on the primary. */
  readonly stalenessMs: number | null
  /** Only on the primary. */
  readonly replicas: readonly ReplicaProgress[]
  /** On a replica: who streams the log to it now: the relay it streams from, or the primary. */
  readonly upstream: string | null
  /** On a replica that relays the log (cascading): the members it streams to. */
  readonly downstream: readonly DownstreamProgress[]
}

/** One stream of appends to a replica, from the primary or from a relay (cascading). */
interface StreamProgress {
  next: number
  match: number
  /** Appends sent past `match`, oldest first: the last LSN each carried and its entries' bytes. */
  inflight: { last: number; bytes: number }[]
  inflightBytes: number
  durable: number
  applied: number
  lastHeardMs: number | null
}

interface PeerProgress extends StreamProgress {
  received: number
  /** The highest append round this replica has answered in this epoch ([RD3] `confirmedRound`). */
  round: number
  /** Cascading: last time (tick ms) an acknowledgement of it came through its relay; null if never. */
  relayHeardMs: number | null
  /** Cascading: its relay streams to it, so this primary sends it nothing. */
  relayed: boolean
}

/** A relay's view of one member downstream of it, in the relay's current epoch. */
type RelayProgress = StreamProgress

/** What a replica last heard from its primary's appends, passed on by a relay as it heard it. */
interface HeardAppend {
  readonly commitLsn: number
  readonly round: number
  readonly confirmedRound: number
}

/** [RD3] An append a replica received: its round, when (tick ms), and the commit index it reported. */
interface RoundProbe {
  readonly round: number
  readonly atMs: number
  readonly commitLsn: number
}

/** [RD3] At most this many received rounds wait for the primary to confirm them (more are not recorded). */
const MAX_ROUND_PROBES = 64

export const DEFAULT_ELECTION_TIMEOUT_MIN_MS = 150
export const DEFAULT_ELECTION_TIMEOUT_MAX_MS = 300
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 50
export const DEFAULT_SEMI_SYNC_TIMEOUT_MS = 100
export const DEFAULT_WRITE_TIMEOUT_MS = 2_000
export const DEFAULT_MAX_ENTRIES_PER_MESSAGE = 64
export const DEFAULT_MAX_APPEND_BYTES = 4 * 1024 * 1024

/**
 * The strict-mode state machine of one cluster member (docs/design.md §4): Raft-style elections with epochs,
 * log shipping with log matching and divergent-suffix truncation, write concerns, reads with tokens,
 * compaction and snapshot catch-up. Pure: time comes in through `tick(nowMs)`, randomness through
 * `random`, messages through `receive`, and everything that must reach storage or the network goes
 * out through the callbacks.
 *
 * @example
 * const node = new StrictNode({ id: 'eu', members: ['eu', 'us', 'ap'], random: shellRandom,
 *   send: (peer, msg) => link(peer).send(msg), onAppend: (es) => wal.append(es) })
 * shellTimer.every(10, () => node.tick(wallClockMs()))   // the shell drives elections, heartbeats, timeouts
 * wal.onFsync((lsn) => node.markDurable(lsn))          // durability drives acknowledgements
 * const w = node.write({ kind: 'put', collection: 'accounts', id: 'a1', value: { balance: 10 },
 *   precondition: { exists: false } }, { concern: 'majority' })
 * if (w.status === 'rejected') console.log(w.error.code)  // NOT_PRIMARY, PRECONDITION_FAILED …
 * node.read('accounts', 'a1', { after: token })        // never older than `token` [RD1]
 */
export class StrictNode {
  readonly id: string
  readonly members: readonly string[]
  protected readonly peers: readonly string[]
  protected readonly log = new StrictLog()
  protected readonly state: DocumentState
  protected readonly options: StrictNodeOptions
  protected epoch = 0
  protected votedFor: string | null = null
  protected role: StrictRole = 'follower'
  protected primaryHint: string | null = null
  protected commitLsn = 0
  protected appliedLsn = 0
  protected durableLsn = 0
  /** Highest LSN known to equal the current epoch's primary log (this node's own log when primary). */
  protected matchedLsn = 0
  protected readonly progress = new Map<string, PeerProgress>()
  private snapshot: StrictSnapshot | null = null
  /** The pre-vote round in progress: the epoch proposed and who granted it. */
  private preVotes: { epoch: number; granted: Set<string> } | null = null
  /** LSN of this primary's no-op, the first entry of its epoch. */
  private epochStartLsn = 0
  /** Entries appended by `write` wait for `flushAppends` (batch replication only). */
  private appendsPending = false
  /** Entries cut from the log whose fate is not known yet (see `decideRollbackCandidates`). */
  private rollbackCandidates: LogEntry[] = []
  private votes = new Set<string>()
  private nowMs = 0
  private started = false
  private electionDeadlineMs = 0
  private nextHeartbeatMs = 0
  private lastPrimaryContactMs: number | null = null
  /** When this replica last had applied everything its primary reported committed ([RD3] staleness). */
  private lastCaughtUpMs: number | null = null
  /** Primary: the round of the last append sent in this epoch. */
  private appendRound = 0
  /** Replica: the highest round received from this epoch's primary (echoed in replies). */
  private heardRound = 0
  /** Replica: rounds received from this epoch's primary that it has not yet confirmed, in arrival order. */
  private roundProbes: RoundProbe[] = []
  private nextWriteId = 1
  /** Request keys of this primary's entries not applied yet (the applied ones are in `state`). */
  private readonly pendingKeys = new PendingRequestKeys()
  private readonly tracker: StrictAckTracker
  private readonly electionMinMs: number
  private readonly electionMaxMs: number
  private readonly heartbeatMs: number
  private readonly writeTimeoutMs: number
  private readonly maxEntries: number
  private readonly maxAppendBytes: number
  private readonly maxInflightBytes: number
  /** The largest entry a write may make: twice `maxAppendBytes`, so an append stays within a frame. */
  readonly maxEntryBytes: number
  private readonly valueLimits: ValueLimits
  private readonly failover: FailoverControls
  /** [FO3] Extra election delay of this node: one timeout spread per rank of priority above it. */
  private readonly priorityDelayMs: number
  /** [FO3] The highest commit index this node has heard of (its own as primary); for maxLagOnFailover. */
  private heardCommitLsn = 0
  /** [FO3] Switchover in progress on this primary: writes are refused until it ends. */
  private transfer: { target: string; deadlineMs: number; sent: boolean } | null = null
  private readonly replicateFrom: ReplicateFrom
  /** Cascading: the members this node relays the log to while it is a replica. */
  private readonly downstream: readonly string[]
  private readonly cascadeFallbackMs: number
  /** Replica: whether the last append it took came through its relay, and the node that sent it. */
  private fedBy: { readonly relayed: boolean; readonly sender: string } | null = null
  /** Replica: when (tick ms) it last took a relayed append or snapshot; null if never in this epoch. */
  private lastRelayedMs: number | null = null
  /** Replica: the commit index and rounds of the last append it took (a relay passes them on). */
  private heardAppend: HeardAppend | null = null
  /** Relay: the members downstream of it, in this epoch. */
  private readonly relayProgress = new Map<string, RelayProgress>()

  constructor(options: StrictNodeOptions) {
    if (!options.id) throw new Error('StrictNode: id must be a non-empty string')
    if (!options.members.includes(options.id)) throw new Error('StrictNode: members must include the node itself')
    if (new Set(options.members).size !== options.members.length) throw new Error('StrictNode: duplicate member')
    this.id = options.id
    this.options = options
    this.state = new DocumentState(options.requestKeyRetention === undefined ? {} : { requestKeyRetention: options.requestKeyRetention })
    this.members = [...options.members].sort()
    this.peers = this.members.filter((m) => m !== this.id)
    this.electionMinMs = options.electionTimeoutMinMs ?? DEFAULT_ELECTION_TIMEOUT_MIN_MS
    this.electionMaxMs = options.electionTimeoutMaxMs ?? DEFAULT_ELECTION_TIMEOUT_MAX_MS
    this.heartbeatMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.writeTimeoutMs = options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS
    this.maxEntries = options.maxEntriesPerMessage ?? DEFAULT_MAX_ENTRIES_PER_MESSAGE
    this.maxAppendBytes = options.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES
    this.maxEntryBytes = 2 * this.maxAppendBytes
    this.maxInflightBytes = options.maxInflightBytes ?? this.maxAppendBytes
    this.valueLimits = checkValueLimits(options.valueLimits ?? DEFAULT_VALUE_LIMITS)
    if (!(this.electionMinMs > this.heartbeatMs && this.electionMaxMs > this.electionMinMs)) {
      throw new Error('StrictNode: need heartbeatIntervalMs < electionTimeoutMinMs < electionTimeoutMaxMs')
    }
    this.failover = options.failover ?? {}
    checkFailoverControls(this.failover, this.members)
    this.priorityDelayMs = priorityRank(this.failover, this.members, this.id) * (this.electionMaxMs - this.electionMinMs)
    this.replicateFrom = options.replicateFrom ?? {}
    checkReplicateFrom(this.replicateFrom, this.members)
    this.downstream = downstreamOf(this.replicateFrom, this.id)
    this.cascadeFallbackMs = options.cascadeFallbackMs ?? Math.min(3 * this.heartbeatMs, (this.heartbeatMs + this.electionMinMs) / 2)
    if (!(this.cascadeFallbackMs > 0)) throw new Error('StrictNode: cascadeFallbackMs must be > 0')
    this.tracker = new StrictAckTracker({
      semiSyncTimeoutMs: options.semiSyncTimeoutMs ?? DEFAULT_SEMI_SYNC_TIMEOUT_MS,
      onOutcome: (outcome) => this.options.onWriteOutcome?.(outcome),
    })
    if (options.restore) this.restoreFrom(options.restore)
  }

  // ---------------------------------------------------------------- inspection

  get currentRole(): StrictRole {
    return this.role
  }

  get currentEpoch(): number {
    return this.epoch
  }

  get lastPosition(): LogPosition {
    return this.log.last
  }

  get commit(): number {
    return this.commitLsn
  }

  get applied(): number {
    return this.appliedLsn
  }

  get durable(): number {
    return this.durableLsn
  }

  /** True while `one` writes are acknowledged at `local` because no replica answered in time. */
  get degraded(): boolean {
    return this.tracker.degraded
  }

  /** [ST4] Digest of the applied state (at `applied`). */
  digest(): string {
    return this.state.digest()
  }

  /** The held entry at `lsn` (undefined when pruned or absent). */
  entryAt(lsn: number): LogEntry | undefined {
    return this.log.entry(lsn)
  }

  /** The epoch of the entry at `lsn`, pruned ones included. */
  epochAt(lsn: number): number | undefined {
    return this.log.epochAt(lsn)
  }

  /** Applied documents (for tests and admin views). */
  documents(): IterableIterator<[string, StoredDocument]> {
    return this.state.entries()
  }

  /**
   * One applied document, null when absent. Unlike `read`, no readiness or token check: it is the
   * state at `applied` whatever the role, which is what change notifications report.
   */
  document(collection: string, id: string): StoredDocument | null {
    return this.state.get(strictKey(collection, id)) ?? null
  }

  status(): StrictStatus {
    return {
      id: this.id,
      role: this.role,
      epoch: this.epoch,
      primaryHint: this.primaryHint,
      last: this.log.last,
      commitLsn: this.commitLsn,
      appliedLsn: this.appliedLsn,
      durableLsn: this.durableLsn,
      prunedLsn: this.log.prunedLsn,
      degraded: this.tracker.degraded,
      pendingWrites: this.tracker.size,
      sincePrimaryContactMs: this.sincePrimaryContactMs(),
      stalenessMs: this.stalenessMs(),
      replicas:
        this.role === 'primary'
          ? [...this.progress].map(([id, p]) => ({
              id,
              sentLsn: p.relayed ? p.match : p.next - 1,
              matchLsn: p.match,
              receivedLsn: p.received,
              durableLsn: p.durable,
              appliedLsn: p.applied,
              lastHeardMs: p.lastHeardMs,
              via: p.relayed ? upstreamOf(this.replicateFrom, id) : null,
            }))
          : [],
      upstream: this.upstream(),
      downstream:
        this.role === 'follower'
          ? [...this.relayProgress].map(([id, r]) => ({ id, sentLsn: r.next - 1, matchLsn: r.match, durableLsn: r.durable, appliedLsn: r.applied, lastHeardMs: r.lastHeardMs }))
          : [],
    }
  }

  // ---------------------------------------------------------------- time

  /** Advances time: starts elections, sends heartbeats, steps down without a majority, times out writes. */
  tick(nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs)
    if (!this.started) {
      this.started = true
      this.resetElectionDeadline()
    }
    if (this.role === 'primary') {
      if (!this.hasRecentMajority()) {
        // [ST2] Cut off from the majority for a whole election timeout: another primary may exist by now.
        this.becomeFollower(this.epoch)
        return
      }
      if (this.transfer !== null && this.nowMs >= this.transfer.deadlineMs) {
        // [FO3] The target did not take over in time: take writes again.
        this.transfer = null
      }
      if (this.nowMs >= this.nextHeartbeatMs) this.broadcastAppend()
      this.tracker.evaluate(this.durabilityProgress(), this.nowMs)
    } else if (this.nowMs >= this.electionDeadlineMs) {
      if (standingProblem(this.failover, this.id, this.durableLsn, this.heardCommitLsn) !== null) {
        // [FO3] Never primary, or too far behind: keep voting and acknowledging, but do not stand.
        this.resetElectionDeadline()
        return
      }
      if (this.options.preVote ?? true) this.startPreVote()
      else this.startElection()
    }
  }

  // ---------------------------------------------------------------- writes

  /**
   * Submits a write. Only the primary accepts: it checks preconditions against its whole log
   * (committed and pending, so two conflicting writes are never both accepted), appends one entry
   * and reports the outcome later through `onWriteOutcome`.
   *
   * With a `requestKey` the write is at most once: when an applied entry the state still remembers,
   * or a pending entry of this primary, carries the same key, nothing is appended and the answer is
   * `duplicate: true` with the original entry's token; the outcome reports when that entry meets
   * this call's concern (or `indeterminate` as for any write). Preconditions are not checked again:
   * they held when the original was accepted. A key whose entry was rolled back is in neither place,
   * so its resend is written anew.
   */
  write(op: WriteOp, options: { readonly concern?: WriteConcern; readonly timeoutMs?: number; readonly requestKey?: string | null } = {}): WriteSubmission {
    if (this.role !== 'primary' || this.transfer !== null) {
      return { status: 'rejected', error: { code: 'NOT_PRIMARY', epoch: this.epoch, primaryHint: this.primaryHint === this.id ? null : this.primaryHint } }
    }
    const invalid = validate(op) ?? (options.requestKey === '' ? 'a request key must be non-empty' : null)
    if (invalid) return { status: 'rejected', error: { code: 'INVALID_OP', message: invalid } }
    // Nothing is logged that a replica could not decode or a reader get back as written.
    const invalidValue = writeOpValueProblem(op, this.valueLimits, (key) => this.state.get(key))
    if (invalidValue) return { status: 'rejected', error: invalidValue }
    const tooLarge = entrySizeProblem(op, options.requestKey ?? null, this.maxEntryBytes)
    if (tooLarge) return { status: 'rejected', error: { code: 'INVALID_OP', message: tooLarge } }
    const concern = options.concern ?? 'majority'
    const timeoutMs = options.timeoutMs ?? this.writeTimeoutMs
    const requestKey = options.requestKey ?? undefined
    if (requestKey !== undefined) {
      const original = this.findRequestKey(requestKey)
      if (original) {
        const writeId = this.nextWriteId++
        // Acknowledged at the next progress or tick, never from inside this call.
        this.tracker.add(writeId, original, concern, this.nowMs, timeoutMs)
        return { status: 'accepted', writeId, token: original, duplicate: true }
      }
    }
    const failed = checkPreconditions(op, (key) => this.speculativeDocument(key))
    if (failed) return { status: 'rejected', error: failed }
    return this.submit(op, concern, timeoutMs, requestKey)
  }

  /** Where the entry carrying `requestKey` is in this primary's log: applied and remembered, or pending. */
  protected findRequestKey(requestKey: string): LogPosition | undefined {
    return this.state.requestKeyPosition(requestKey) ?? this.pendingKeys.find(requestKey, this.appliedLsn, (lsn) => this.log.entry(lsn))
  }

  /**
   * A read barrier: appends a no-op and reports through `onWriteOutcome` once it is committed
   * (`majority`). A read of state at or after its token is linearizable: every write acknowledged
   * before the barrier was submitted sits at a lower LSN, and a deposed primary cannot commit it
   * ([ST2]). This is the log read of Raft's thesis §6.4, chosen over ReadIndex for needing no
   * extra message fields; it costs an fsync and a majority round trip per barrier (shells batch
   * concurrent reads behind one barrier).
   */
  barrier(options: { readonly timeoutMs?: number } = {}): WriteSubmission {
    if (this.role !== 'primary' || this.transfer !== null) {
      return { status: 'rejected', error: { code: 'NOT_PRIMARY', epoch: this.epoch, primaryHint: this.primaryHint === this.id ? null : this.primaryHint } }
    }
    return this.submit({ kind: 'noop' }, 'majority', options.timeoutMs ?? this.writeTimeoutMs)
  }

  private submit(op: StrictOp, concern: WriteConcern, timeoutMs: number, requestKey?: string): WriteSubmission {
    const token = { epoch: this.epoch, lsn: this.log.lastLsn + 1 }
    const entry: LogEntry = requestKey === undefined ? { ...token, op } : { ...token, op, requestKey }
    this.appendOwn(entry)
    this.pendingKeys.add(entry)
    const writeId = this.nextWriteId++
    this.tracker.add(writeId, token, concern, this.nowMs, timeoutMs)
    if (this.options.onAppendsPending === undefined) {
      for (const peer of this.peers) this.sendAppend(peer)
    } else if (!this.appendsPending) {
      this.appendsPending = true
      this.options.onAppendsPending()
    }
    this.afterProgress()
    return { status: 'accepted', writeId, token }
  }

  /** Sends what `write` and `barrier` appended since the last call (see `onAppendsPending`). */
  flushAppends(): void {
    if (!this.appendsPending) return
    this.appendsPending = false
    if (this.role === 'primary') for (const peer of this.peers) this.sendAppend(peer)
  }

  /** The shell made the log durable up to `lsn` (as the log is now). */
  markDurable(lsn: number): void {
    const next = Math.min(lsn, this.log.lastLsn)
    if (next <= this.durableLsn) return
    this.durableLsn = next
    if (this.role === 'primary') this.afterProgress()
    else if (this.primaryHint !== null) this.replyUpstream(true, this.log.lastLsn + 1)
  }

  // ---------------------------------------------------------------- reads

  /** [RD1] Reads applied (committed) state; with `after`, never state older than that token. */
  read(collection: string, id: string, options: ReadOptions = {}): ReadResult {
    return readDocument(
      {
        document: this.state.get(strictKey(collection, id)) ?? null,
        appliedLsn: this.appliedLsn,
        appliedEpoch: this.log.epochAt(this.appliedLsn) ?? 0,
        commitLsn: this.commitLsn,
        role: this.role,
        epoch: this.epoch,
        primaryHint: this.primaryHint,
        sincePrimaryContactMs: this.sincePrimaryContactMs(),
        stalenessMs: this.stalenessMs(),
        // A new primary answers only once its no-op is applied: before, its applied state can miss
        // writes its predecessor committed and acknowledged.
        readyLsn: this.role === 'primary' ? this.epochStartLsn : 0,
        epochAt: (lsn) => this.log.epochAt(lsn),
      },
      options,
    )
  }

  /**
   * [RD3] Caught up with the primary when everything it reports committed is applied here — and only
   * once it has committed in its own epoch: before, its commit index can lag what earlier primaries
   * committed (it learns that only with its no-op).
   *
   * And only as of a round a majority has confirmed: a primary cut off from the majority keeps sending
   * its commit index until check-quorum deposes it (up to an election timeout), while another primary,
   * elected at once by an operator's promotion or a plain election, commits entries it never hears of.
   * Taking an append's arrival as the moment this replica was caught up made a replica on the old
   * primary's side claim to be fresh while it lacked them (strict simulator seed 5:505444836). So each
   * append's arrival time and commit index wait here until the primary reports a majority answered that
   * round or a later one; no other primary committed anything before it was sent, so the state then
   * held everything committed before it arrived (understated by that append's network delay).
   */
  private noteCaughtUp(m: AppendMessage): void {
    const last = this.roundProbes[this.roundProbes.length - 1]
    // Of two rounds that arrived at the same tick, the earlier is confirmed sooner and asks no more.
    if (this.roundProbes.length < MAX_ROUND_PROBES && last?.atMs !== this.nowMs) {
      this.roundProbes.push({ round: m.round, atMs: this.nowMs, commitLsn: m.commitLsn })
    }
    const waiting: RoundProbe[] = []
    for (const probe of this.roundProbes) {
      if (probe.round > m.confirmedRound) waiting.push(probe)
      else if (this.appliedLsn >= probe.commitLsn && this.log.epochAt(probe.commitLsn) === this.epoch) {
        this.lastCaughtUpMs = Math.max(this.lastCaughtUpMs ?? probe.atMs, probe.atMs)
      }
    }
    this.roundProbes = waiting
  }

  /**
   * [RD3] How stale this node's applied state may be: 0 on the primary; on a replica, the time since it
   * last had applied everything the primary reported committed (a replica in contact but catching up
   * grows stale); null if never. Understated by at most the network delay of that report.
   */
  protected stalenessMs(): number | null {
    if (this.role === 'primary') return 0
    return this.lastCaughtUpMs === null ? null : this.nowMs - this.lastCaughtUpMs
  }

  protected sincePrimaryContactMs(): number | null {
    if (this.role === 'primary') return 0
    return this.lastPrimaryContactMs === null ? null : this.nowMs - this.lastPrimaryContactMs
  }

  // ---------------------------------------------------------------- operator actions [FO2]

  /**
   * Starts an election now. It obeys the same vote rule [FO1]: a node with a stale log loses. A
   * noFailover node [FO3] never stands: returns false (true when it stood or is primary already).
   */
  promote(): boolean {
    if (this.role === 'primary') return true
    if (failoverPriority(this.failover, this.id) === 0) return false
    this.startElection()
    return true
  }

  /** [FO3] This member's failover priority (0: never primary). */
  priorityOf(member: string): number {
    return failoverPriority(this.failover, member)
  }

  /** [FO3] The target of the switchover in progress on this primary, or null. */
  get switchoverTarget(): string | null {
    return this.transfer?.target ?? null
  }

  /**
   * [FO3] Hands the primary role to `target`: refuses new writes now, waits until `target` holds this
   * log durably to its last LSN, then sends it `timeout-now` (it stands at once, without pre-vote,
   * and wins by the ordinary vote rule [FO1]). If it has not taken over within `timeoutMs`, this node
   * takes writes again. Writes already accepted keep their outcome path (a deposed primary reports
   * them `indeterminate`; the new primary holds them).
   */
  switchover(target: string, timeoutMs: number): 'started' | 'not-primary' | 'unknown-member' | 'no-failover' {
    if (!this.members.includes(target)) return 'unknown-member'
    if (failoverPriority(this.failover, target) === 0) return 'no-failover'
    if (this.role !== 'primary') return 'not-primary'
    if (target === this.id) return 'started'
    this.transfer = { target, deadlineMs: this.nowMs + timeoutMs, sent: false }
    this.sendAppend(target)
    this.maybeHandOver()
    return 'started'
  }

  /** [FO3] Sends `timeout-now` once the switchover target is durable up to this primary's last LSN. */
  private maybeHandOver(): void {
    const t = this.transfer
    if (t === null || t.sent || this.role !== 'primary') return
    const p = this.progress.get(t.target)
    if (p === undefined || p.durable < this.log.lastLsn) return
    t.sent = true
    this.options.send(t.target, { type: 'timeout-now', epoch: this.epoch, from: this.id })
  }

  /**
   * Steps down from primary: pending writes become `indeterminate`, and the most up-to-date replica
   * is asked to run for election at once. Returns false when this node is not the primary.
   */
  stepDown(): boolean {
    if (this.role !== 'primary') return false
    let target: string | null = null
    let best = -1
    let bestPriority = 0
    for (const [peer, p] of this.progress) {
      // [FO3] Never a noFailover member; among the most caught up, the highest priority.
      const priority = failoverPriority(this.failover, peer)
      if (priority === 0) continue
      if (p.match > best || (p.match === best && priority > bestPriority)) [target, best, bestPriority] = [peer, p.match, priority]
    }
    this.becomeFollower(this.epoch)
    // Leave room for the chosen successor before standing again ourselves.
    this.electionDeadlineMs = this.nowMs + 2 * this.electionMaxMs
    if (target !== null) this.options.send(target, { type: 'timeout-now', epoch: this.epoch, from: this.id })
    return true
  }

  // ---------------------------------------------------------------- compaction [ST6]

  /**
   * Takes a snapshot of the applied state and prunes the log up to `uptoLsn` (default: on the
   * primary, what every replica holds durably; elsewhere the applied LSN). A replica that later
   * needs a pruned entry is sent the snapshot. Returns the snapshot, or null if nothing was pruned.
   */
  compact(uptoLsn?: number): StrictSnapshot | null {
    let limit = uptoLsn ?? this.appliedLsn
    if (uptoLsn === undefined && this.role === 'primary') for (const p of this.progress.values()) limit = Math.min(limit, p.durable)
    const prunedTo = Math.min(limit, this.appliedLsn)
    if (prunedTo <= this.log.prunedLsn) return null
    const snapshot: StrictSnapshot = {
      lsn: this.appliedLsn,
      epoch: this.log.epochAt(this.appliedLsn) ?? 0,
      history: this.log.historyUpTo(this.appliedLsn),
      documents: [...this.state.entries()],
      ...this.snapshotRequestKeys(),
    }
    this.snapshot = snapshot
    this.log.pruneTo(prunedTo)
    this.durableLsn = Math.max(this.durableLsn, Math.min(snapshot.lsn, this.log.lastLsn))
    this.options.onSnapshot?.(snapshot, prunedTo)
    return snapshot
  }

  /** The snapshot's `requestKeys` field: left out while no keyed write was ever applied. */
  private snapshotRequestKeys(): Pick<StrictSnapshot, 'requestKeys'> {
    const keys = [...this.state.requestKeys()]
    return keys.length > 0 ? { requestKeys: keys } : {}
  }

  // ---------------------------------------------------------------- messages

  /** Handles one message from a peer. */
  receive(message: StrictMessage): void {
    if (message.from === this.id || !this.members.includes(message.from)) return
    switch (message.type) {
      case 'append':
      case 'relayed-append':
        this.onAppendMessage(message)
        return
      case 'snapshot':
      case 'relayed-snapshot':
        this.onSnapshotMessage(message)
        return
      case 'append-reply':
        this.onAppendReply(message)
        return
      case 'relayed-reply':
        this.onRelayedReply(message)
        return
      case 'request-vote':
        this.onRequestVote(message)
        return
      case 'vote':
        this.onVote(message)
        return
      case 'timeout-now':
        // [FO3] A noFailover member ignores it (it still votes and acknowledges).
        if (message.epoch === this.epoch && this.role !== 'primary' && failoverPriority(this.failover, this.id) > 0) this.startElection()
        return
      case 'pre-vote': {
        // A refusal carries our epoch: a requester behind it must catch up, or the node with the best
        // log but the oldest epoch would propose epochs nobody accepts, forever.
        const granted = this.grantsPreVote(message)
        this.options.send(message.from, { type: 'pre-vote-reply', epoch: granted ? message.epoch : this.epoch, from: this.id, granted })
        if (!granted) this.maybeLend(message.from, { epoch: message.lastEpoch, lsn: message.lastLsn })
        return
      }
      case 'lend':
        this.onLend(message)
        return
      case 'pre-vote-reply':
        this.onPreVoteReply(message)
        return
    }
  }

  private onAppendMessage(m: AppendMessage): void {
    // A primary's entries follow `prevLsn` one by one, in epochs no later than its own: anything else
    // did not come from a correct primary, and is dropped before it touches the log (found by fuzzing:
    // appending a gap threw out of `receive`).
    if (!entriesFollow(m.prevLsn, m.prevEpoch, m.entries, m.epoch)) return
    if (!this.acceptFeed(m)) return
    this.heardCommitLsn = Math.max(this.heardCommitLsn, m.commitLsn)
    this.heardRound = Math.max(this.heardRound, m.round)
    if (this.heardAppend === null || m.round >= this.heardAppend.round) this.heardAppend = { commitLsn: m.commitLsn, round: m.round, confirmedRound: m.confirmedRound }
    const prevEpoch = this.log.epochAt(m.prevLsn)
    if (prevEpoch === undefined) {
      this.replyUpstream(false, this.log.lastLsn + 1)
      return
    }
    if (prevEpoch !== m.prevEpoch) {
      this.replyUpstream(false, Math.max(this.commitLsn + 1, this.log.epochStartOf(m.prevLsn)))
      return
    }
    const fresh: LogEntry[] = []
    for (const entry of m.entries) {
      if (entry.lsn <= this.log.prunedLsn) continue
      const mine = this.log.epochAt(entry.lsn)
      if (mine === entry.epoch) continue
      if (mine !== undefined && !this.resolveConflict(entry.lsn)) continue
      this.log.append(entry)
      fresh.push(entry)
    }
    if (fresh.length > 0) this.options.onAppend?.(fresh)
    this.matchedLsn = Math.max(this.matchedLsn, m.prevLsn + m.entries.length)
    this.advanceFollowerCommit(m.commitLsn)
    this.noteCaughtUp(m)
    this.replyUpstream(true, this.log.lastLsn + 1)
    this.relayDownstream()
  }

  /**
   * An append or snapshot from this epoch's primary, straight or through this node's relay (a relayed
   * one that reaches a node with no relay configured is dropped). Remembers which, so answers take
   * the same way back.
   */
  private acceptFeed(m: AppendMessage | SnapshotMessage): boolean {
    const relayed = m.type === 'relayed-append' || m.type === 'relayed-snapshot'
    const relay = upstreamOf(this.replicateFrom, this.id)
    if (relayed && relay === null) return false
    if (!this.acceptFromPrimary(m.epoch, m.from)) return false
    this.fedBy = { relayed, sender: relayed ? (relay as string) : m.from }
    if (relayed) this.lastRelayedMs = this.nowMs
    return true
  }

  /**
   * Who streams the log to this replica now: its relay while relayed appends keep arriving (within the
   * fallback time the primary also allows), else the primary (which heartbeats it directly either way).
   */
  private upstream(): string | null {
    if (this.role !== 'follower' || this.primaryHint === null) return null
    const relay = upstreamOf(this.replicateFrom, this.id)
    const relayed = relay !== null && this.lastRelayedMs !== null && this.nowMs - this.lastRelayedMs < this.cascadeFallbackMs
    return relayed ? relay : this.primaryHint
  }

  /** Answers the node that feeds this replica: the primary, or (relayed) its relay. */
  private replyUpstream(success: boolean, retryFromLsn: number): void {
    const fed = this.fedBy
    const to = fed?.sender ?? this.primaryHint
    if (to === null) return
    const reply = this.replyMessage(success, retryFromLsn)
    this.options.send(to, fed?.relayed === true ? { ...reply, type: 'relayed-reply' } : reply)
  }

  /** Entries up to here equal this epoch's primary's log: those matched in it, and committed ones. */
  protected relayLimit(): number {
    return Math.min(this.log.lastLsn, Math.max(this.matchedLsn, this.commitLsn))
  }

  /** Cascading: passes what this replica holds of the primary's log on to the members downstream of it. */
  private relayDownstream(): void {
    if (this.role !== 'follower' || this.primaryHint === null) return
    for (const member of this.downstream) if (member !== this.primaryHint) this.sendRelayed(member)
  }

  /**
   * Cascading: one relayed append (or this node's snapshot, when the member needs a pruned entry) to a
   * member downstream, carrying the primary's commit index and rounds as this node last heard them.
   */
  private sendRelayed(member: string): void {
    const heard = this.heardAppend
    const primary = this.primaryHint
    if (heard === null || primary === null) return
    const limit = this.relayLimit()
    let r = this.relayProgress.get(member)
    if (r === undefined) {
      r = { next: limit + 1, match: 0, durable: 0, applied: 0, inflight: [], inflightBytes: 0, lastHeardMs: null }
      this.relayProgress.set(member, r)
    }
    if (r.next > limit + 1) {
      r.next = limit + 1
      clearInflight(r)
    }
    if (r.next <= this.log.prunedLsn) {
      if (this.snapshot === null) return
      this.options.send(member, { type: 'relayed-snapshot', epoch: this.epoch, from: primary, snapshot: this.snapshot, commitLsn: heard.commitLsn })
      r.next = this.snapshot.lsn + 1
      clearInflight(r)
      return
    }
    const prevLsn = r.next - 1
    const { entries, bytes } = this.takeEntries(r, limit)
    this.options.send(member, {
      type: 'relayed-append',
      epoch: this.epoch,
      from: primary,
      prevLsn,
      prevEpoch: this.log.epochAt(prevLsn) ?? 0,
      entries,
      commitLsn: heard.commitLsn,
      round: heard.round,
      confirmedRound: heard.confirmedRound,
    })
    noteSent(r, entries.length, bytes)
  }

  /**
   * [ST5] Our entry at `lsn` differs from the primary's: cut our suffix from there and report it.
   * Returns true when the primary's entry may be appended in its place.
   */
  protected resolveConflict(lsn: number): boolean {
    this.truncate(lsn, (entry) => entry.lsn >= lsn)
    return true
  }

  private truncate(fromLsn: number, isRollback: (entry: LogEntry) => boolean): void {
    if (fromLsn > this.log.lastLsn) return
    const removed = this.log.truncateFrom(fromLsn)
    this.durableLsn = Math.min(this.durableLsn, fromLsn - 1)
    this.matchedLsn = Math.min(this.matchedLsn, fromLsn - 1)
    this.options.onTruncate?.(fromLsn)
    const known = new Set(this.rollbackCandidates.map(formatPosition))
    const fresh = removed.filter((entry) => isRollback(entry) && !known.has(formatPosition(entry)))
    if (fresh.length > 0) {
      this.rollbackCandidates = [...this.rollbackCandidates, ...fresh]
      this.options.onRollbackCandidates?.(this.rollbackCandidates)
    }
  }

  /**
   * [ST5] Decides the cut entries whose fate is now known. Cutting an entry does not make it rolled
   * back: a node that was paused can take a stale primary's append and cut an entry a later primary
   * has since committed (Raft allows it; the entry comes back). It is rolled back once the applied
   * (committed) log holds another entry at its LSN, or an entry of a later epoch below it: a log's
   * epochs never decrease, so no later primary can hold both, and committed entries are in every
   * later primary's log.
   */
  private decideRollbackCandidates(): void {
    if (this.rollbackCandidates.length === 0) return
    const appliedEpoch = this.log.epochAt(this.appliedLsn) ?? 0
    const rolledBack: LogEntry[] = []
    const undecided: LogEntry[] = []
    for (const entry of this.rollbackCandidates) {
      if (entry.lsn <= this.appliedLsn) {
        if (this.log.epochAt(entry.lsn) !== entry.epoch) rolledBack.push(entry)
      } else if (appliedEpoch > entry.epoch) {
        rolledBack.push(entry)
      } else {
        undecided.push(entry)
      }
    }
    if (undecided.length === this.rollbackCandidates.length) return
    this.rollbackCandidates = undecided
    this.options.onRollbackCandidates?.(undecided)
    if (rolledBack.length > 0) this.options.onRollback?.(rolledBack)
  }

  private onSnapshotMessage(m: SnapshotMessage): void {
    if (!this.acceptFeed(m)) return
    this.heardCommitLsn = Math.max(this.heardCommitLsn, m.commitLsn)
    const s = m.snapshot
    if (s.lsn > this.commitLsn) {
      if (this.log.epochAt(s.lsn) === s.epoch) {
        // Our log matches the snapshot point, so it matches below it too: keep what follows.
        this.log.pruneTo(s.lsn)
      } else {
        const theirs = new StrictLog()
        theirs.resetTo(s.lsn, s.history)
        this.truncate(this.commitLsn + 1, (e) => e.lsn > s.lsn || theirs.epochAt(e.lsn) !== e.epoch)
        this.log.resetTo(s.lsn, s.history)
      }
      this.state.reset(s.documents, s.requestKeys ?? [])
      this.snapshot = s
      this.appliedLsn = s.lsn
      this.commitLsn = s.lsn
      this.durableLsn = Math.max(this.durableLsn, s.lsn)
      this.options.onSnapshot?.(s, s.lsn)
      this.decideRollbackCandidates()
    }
    this.matchedLsn = Math.max(this.matchedLsn, s.lsn)
    this.advanceFollowerCommit(m.commitLsn)
    // [RD3] A snapshot carries no round: the appends that follow it tell when this replica caught up.
    this.replyUpstream(true, this.log.lastLsn + 1)
    this.relayDownstream()
  }

  /** [ST2] Fences stale primaries; adopts a newer epoch; (re)recognises the primary of this one. */
  private acceptFromPrimary(epoch: number, from: string): boolean {
    if (!this.acceptsEpoch(epoch)) {
      this.options.send(from, this.replyMessage(false, this.log.lastLsn + 1))
      return false
    }
    if (epoch > this.epoch) this.adoptEpoch(epoch)
    if (this.role !== 'follower') this.becomeFollower(this.epoch)
    this.primaryHint = from
    this.lastPrimaryContactMs = this.nowMs
    this.resetElectionDeadline()
    return true
  }

  /** [ST2] A message from an older epoch is refused. */
  protected acceptsEpoch(epoch: number): boolean {
    return epoch >= this.epoch
  }

  private advanceFollowerCommit(primaryCommit: number): void {
    const next = Math.min(primaryCommit, this.matchedLsn, this.log.lastLsn)
    if (next > this.commitLsn) {
      this.commitLsn = next
      this.applyCommitted()
    }
  }

  private replyMessage(success: boolean, retryFromLsn: number): AppendReplyMessage {
    return {
      type: 'append-reply',
      epoch: this.epoch,
      from: this.id,
      success,
      matchLsn: this.matchedLsn,
      receivedLsn: this.log.lastLsn,
      durableLsn: this.reportedDurableLsn(),
      appliedLsn: this.appliedLsn,
      retryFromLsn,
      round: this.heardRound,
    }
  }

  /** Durable and known to match the primary: only such entries may count towards its acknowledgements. */
  protected reportedDurableLsn(): number {
    return Math.min(this.durableLsn, this.matchedLsn)
  }

  private onAppendReply(m: AppendReplyMessage): void {
    if (m.epoch > this.epoch) {
      this.adoptEpoch(m.epoch)
      this.becomeFollower(m.epoch)
      return
    }
    if (this.role !== 'primary' || !this.countsReply(m)) return
    const p = this.progress.get(m.from)
    if (!p) return
    this.notePeerReply(p, m)
    if (m.success) this.afterProgress()
    if (!m.success || p.next <= this.log.lastLsn) this.sendAppend(m.from)
  }

  private notePeerReply(p: PeerProgress, m: AppendReplyMessage): void {
    advanceStream(p, m, this.nowMs)
    p.round = Math.max(p.round, m.round)
    p.received = m.receivedLsn
  }

  /**
   * Cascading: a replica's answer to a relayed append. The primary counts it like a direct one (the
   * replica's durable entries were relayed from entries equal to this log); a relay updates its stream
   * to that replica when it feeds it, and passes a success on towards the primary either way.
   */
  private onRelayedReply(m: AppendReplyMessage): void {
    if (m.epoch > this.epoch) {
      this.adoptEpoch(m.epoch)
      this.becomeFollower(m.epoch)
      return
    }
    if (this.role === 'primary') {
      const p = this.progress.get(m.from)
      if (!p || !this.countsReply(m) || !m.success) return
      p.relayHeardMs = this.nowMs
      this.notePeerReply(p, m)
      this.afterProgress()
      return
    }
    if (this.role !== 'follower' || m.epoch !== this.epoch) return
    const r = this.relayProgress.get(m.from)
    if (r !== undefined) {
      advanceStream(r, m, this.nowMs)
      if (!m.success || r.next <= this.relayLimit()) this.sendRelayed(m.from)
    }
    if (m.success) this.forwardUpstream(m)
  }

  /** Cascading: passes a downstream replica's acknowledgement one hop towards the primary. */
  private forwardUpstream(m: AppendReplyMessage): void {
    const to = this.fedBy?.relayed === true ? this.fedBy.sender : this.primaryHint
    // A primary that stepped down still names itself in its epoch: nothing goes anywhere then.
    if (to !== null && to !== m.from && to !== this.id) this.options.send(to, m)
  }

  /** [ST2] Only replies of the current epoch count towards acknowledgements. */
  protected countsReply(m: AppendReplyMessage): boolean {
    return m.epoch === this.epoch
  }

  // ---------------------------------------------------------------- elections [FO1]

  /** Asks, without changing epoch or vote, whether a majority would elect this node now. */
  private startPreVote(): void {
    this.resetElectionDeadline()
    this.preVotes = { epoch: this.epoch + 1, granted: new Set([this.id]) }
    if (this.preVotes.granted.size >= majorityOf(this.members.length)) {
      this.preVotes = null
      this.startElection()
      return
    }
    const last = this.log.last
    for (const peer of this.peers) {
      this.options.send(peer, { type: 'pre-vote', epoch: this.epoch + 1, from: this.id, lastLsn: last.lsn, lastEpoch: last.epoch })
    }
  }

  /**
   * Would vote in a real election ([FO1] log rule, a newer epoch) and has not heard from a primary
   * for an election timeout (nor is one). Changes nothing here.
   */
  protected grantsPreVote(m: PreVoteMessage): boolean {
    if (m.epoch <= this.epoch) return false
    if (this.role === 'primary') return false
    if (this.lastPrimaryContactMs !== null && this.nowMs - this.lastPrimaryContactMs < this.electionMinMs) return false
    return isAtLeastAsUpToDate({ epoch: m.lastEpoch, lsn: m.lastLsn }, this.log.last)
  }

  private onPreVoteReply(m: PreVoteReplyMessage): void {
    if (!m.granted && m.epoch > this.epoch) {
      this.preVotes = null
      this.becomeFollower(m.epoch)
      return
    }
    const round = this.preVotes
    if (round === null || m.epoch !== round.epoch || m.epoch !== this.epoch + 1 || !m.granted || this.role === 'primary') return
    round.granted.add(m.from)
    if (round.granted.size >= majorityOf(this.members.length)) {
      this.preVotes = null
      this.startElection()
    }
  }

  private startElection(): void {
    this.adoptEpoch(this.epoch + 1, this.id)
    this.setRole('candidate')
    this.primaryHint = null
    this.votes = new Set([this.id])
    this.resetElectionDeadline()
    if (this.votes.size >= majorityOf(this.members.length)) {
      this.becomePrimary()
      return
    }
    const last = this.log.last
    for (const peer of this.peers) {
      this.options.send(peer, { type: 'request-vote', epoch: this.epoch, from: this.id, lastLsn: last.lsn, lastEpoch: last.epoch })
    }
  }

  private onRequestVote(m: RequestVoteMessage): void {
    if (m.epoch > this.epoch) {
      this.adoptEpoch(m.epoch)
      this.becomeFollower(m.epoch)
    }
    const granted = this.grantsVote(m)
    if (granted) {
      this.votedFor = m.from
      this.options.onHardState?.({ epoch: this.epoch, votedFor: this.votedFor })
      this.resetElectionDeadline()
    }
    this.options.send(m.from, { type: 'vote', epoch: this.epoch, from: this.id, granted })
    if (!granted) this.maybeLend(m.from, { epoch: m.lastEpoch, lsn: m.lastLsn })
  }

  /**
   * [FO3] A member that may not stand, asked to vote for a candidate whose log is behind its own, lends
   * it the entries it lacks (when the candidate's log is a prefix of ours): otherwise a noFailover member
   * holding the last writes would keep the eligible ones from ever winning.
   */
  private maybeLend(candidate: string, last: LogPosition): void {
    if (this.role === 'primary' || standingProblem(this.failover, this.id, this.durableLsn, this.heardCommitLsn) === null) return
    if (isAtLeastAsUpToDate(last, this.log.last) || last.lsn < this.log.prunedLsn) return
    if (this.log.epochAt(last.lsn) !== last.epoch) return
    const entries = this.log.slice(last.lsn + 1, last.lsn + this.maxEntries)
    if (entries.length === 0) return
    this.options.send(candidate, { type: 'lend', epoch: this.epoch, from: this.id, prevLsn: last.lsn, prevEpoch: last.epoch, entries })
  }

  /** [FO3] Appends lent entries that extend this log exactly at its end (never truncates). */
  private onLend(m: LendMessage): void {
    if (this.role === 'primary' || m.prevLsn !== this.log.lastLsn || this.log.epochAt(m.prevLsn) !== m.prevEpoch) return
    const fresh: LogEntry[] = []
    for (const entry of m.entries) {
      if (entry.lsn !== this.log.lastLsn + 1 || entry.epoch < Math.max(1, this.log.last.epoch)) break
      this.log.append(entry)
      fresh.push(entry)
    }
    if (fresh.length > 0) this.options.onAppend?.(fresh)
  }

  /** [FO1] Vote only for a candidate whose log is at least as up to date as ours, once per epoch. */
  protected grantsVote(m: RequestVoteMessage): boolean {
    return mayGrantVote({ epoch: m.epoch, candidate: m.from, last: { epoch: m.lastEpoch, lsn: m.lastLsn } }, this.epoch, this.votedFor, this.log.last)
  }

  private onVote(m: VoteMessage): void {
    if (m.epoch > this.epoch) {
      this.adoptEpoch(m.epoch)
      this.becomeFollower(m.epoch)
      return
    }
    if (this.role !== 'candidate' || m.epoch !== this.epoch || !m.granted) return
    this.votes.add(m.from)
    if (this.votes.size >= majorityOf(this.members.length)) this.becomePrimary()
  }

  private becomePrimary(): void {
    this.setRole('primary')
    this.primaryHint = this.id
    this.progress.clear()
    for (const peer of this.peers) {
      // Counting from now gives the new primary one election timeout to hear from a majority.
      // A cascaded replica gets one fallback time for its relay to pass this primary's appends on.
      const relay = upstreamOf(this.replicateFrom, peer)
      const relayed = relay !== null && relay !== this.id
      this.progress.set(peer, {
        next: this.log.lastLsn + 1,
        match: 0,
        inflight: [],
        inflightBytes: 0,
        durable: 0,
        received: 0,
        applied: 0,
        lastHeardMs: this.nowMs,
        round: 0,
        relayHeardMs: relayed ? this.nowMs : null,
        relayed,
      })
    }
    // Entries of earlier epochs commit only together with one of ours (Raft's rule): append a no-op.
    // Until it is applied, this primary may lack writes its predecessor committed: reads wait for it.
    this.pendingKeys.clear()
    for (const entry of this.log.slice(this.appliedLsn + 1, this.log.lastLsn)) this.pendingKeys.add(entry)
    this.epochStartLsn = this.log.lastLsn + 1
    this.appendOwn({ epoch: this.epoch, lsn: this.epochStartLsn, op: { kind: 'noop' } })
    this.broadcastAppend()
    this.afterProgress()
  }

  private becomeFollower(epoch: number): void {
    if (epoch > this.epoch) this.adoptEpoch(epoch)
    const wasPrimary = this.role === 'primary'
    this.transfer = null
    if (wasPrimary) {
      this.tracker.abandonAll(this.durabilityProgress())
      this.progress.clear()
      this.pendingKeys.clear()
    }
    if (this.role !== 'follower') this.setRole('follower')
    // Only a primary stepping down restarts its timer here: a node that merely saw a newer epoch
    // (say, from a candidate whose log is too old to win) must keep its own deadline, or such a
    // candidate could hold every election off indefinitely.
    if (wasPrimary) this.resetElectionDeadline()
  }

  private adoptEpoch(epoch: number, votedFor: string | null = null): void {
    this.epoch = epoch
    this.votedFor = votedFor
    this.matchedLsn = 0
    this.primaryHint = null
    // Rounds are numbered per epoch ([RD3]).
    this.appendRound = 0
    this.heardRound = 0
    this.roundProbes = []
    this.fedBy = null
    this.lastRelayedMs = null
    this.heardAppend = null
    this.relayProgress.clear()
    this.options.onHardState?.({ epoch, votedFor })
  }

  private setRole(role: StrictRole): void {
    this.role = role
    this.options.onRoleChange?.(role, this.epoch)
  }

  private resetElectionDeadline(): void {
    this.electionDeadlineMs = this.nowMs + this.priorityDelayMs + randomElectionTimeoutMs(this.options.random, this.electionMinMs, this.electionMaxMs)
  }

  private hasRecentMajority(): boolean {
    let heard = 1
    for (const p of this.progress.values()) if (p.lastHeardMs !== null && this.nowMs - p.lastHeardMs < this.electionMinMs) heard += 1
    return heard >= majorityOf(this.members.length)
  }

  // ---------------------------------------------------------------- replication (primary side)

  private appendOwn(entry: LogEntry): void {
    this.log.append(entry)
    this.matchedLsn = entry.lsn
    this.options.onAppend?.([entry])
  }

  private broadcastAppend(): void {
    this.nextHeartbeatMs = this.nowMs + this.heartbeatMs
    for (const peer of this.peers) this.sendAppend(peer, true)
  }

  private sendAppend(peer: string, heartbeat = false): void {
    const p = this.progress.get(peer)
    if (!p) return
    if (this.streamsThroughRelay(peer, p)) {
      // Cascading: the entries come through the relay, but the heartbeat (a few dozen bytes) still
      // goes straight from here, so a cascaded replica's election timer does not depend on the length
      // or health of its chain. It names the last entry the replica acknowledged, which it holds.
      if (heartbeat) this.sendAppendMessage(peer, p.match, [])
      return
    }
    if (p.next <= this.log.prunedLsn && this.snapshot) {
      this.options.send(peer, { type: 'snapshot', epoch: this.epoch, from: this.id, snapshot: this.snapshot, commitLsn: this.commitLsn })
      p.next = this.snapshot.lsn + 1
      clearInflight(p)
      return
    }
    const { entries, bytes } = this.takeEntries(p, this.log.lastLsn)
    this.sendAppendMessage(peer, p.next - 1, entries)
    noteSent(p, entries.length, bytes)
  }

  private sendAppendMessage(peer: string, prevLsn: number, entries: LogEntry[]): void {
    const round = ++this.appendRound
    this.options.send(peer, {
      type: 'append',
      epoch: this.epoch,
      from: this.id,
      prevLsn,
      prevEpoch: this.log.epochAt(prevLsn) ?? 0,
      entries,
      commitLsn: this.commitLsn,
      round,
      confirmedRound: this.confirmedRound(round),
    })
  }

  /**
   * The entries of the next append of a stream, from its `next` up to `upto`: within the flow-control
   * window and with nothing in flight at least one entry. A full window gives none (a heartbeat): the
   * link is ordered, so it follows what is in flight.
   */
  private takeEntries(p: StreamProgress, upto: number): { entries: LogEntry[]; bytes: number } {
    const limit = Math.min(this.maxAppendBytes, this.maxInflightBytes - p.inflightBytes)
    const entries = this.log.slice(p.next, Math.min(upto, p.next + this.maxEntries - 1))
    let bytes = 0
    for (let i = 0; i < entries.length; i++) {
      const size = entryBytes(entries[i] as LogEntry)
      if (bytes + size > limit && (i > 0 || p.inflightBytes > 0)) {
        entries.length = i
        break
      }
      bytes += size
    }
    return { entries, bytes }
  }

  /**
   * Cascading: whether `peer`'s relay streams the log to it now — it has a relay other than this
   * primary, and an acknowledgement of it came through the relay within the fallback time. When that
   * stops (the relay died or lost it), this primary streams to it directly, from its own last LSN on
   * like a new primary (a failed reply says where the replica really ends).
   */
  private streamsThroughRelay(peer: string, p: PeerProgress): boolean {
    const relay = upstreamOf(this.replicateFrom, peer)
    const relayed = relay !== null && relay !== this.id && p.relayHeardMs !== null && this.nowMs - p.relayHeardMs < this.cascadeFallbackMs
    if (p.relayed && !relayed) {
      p.next = this.log.lastLsn + 1
      clearInflight(p)
    }
    p.relayed = relayed
    return relayed
  }

  /**
   * [RD3] The highest round a majority has answered in this epoch, this primary counting as having
   * answered `round`, the one it is sending (it is still primary of this epoch as it sends it).
   */
  private confirmedRound(round: number): number {
    const answered = [round, ...[...this.progress.values()].map((p) => p.round)].sort((a, b) => b - a)
    return answered[majorityOf(this.members.length) - 1] ?? 0
  }

  /** The primary's own acknowledgement: what it holds durably. */
  protected ownAckLsn(): number {
    return this.durableLsn
  }

  /** Raft's commit rule: only an entry of the current epoch commits by counting [ST1]. */
  protected mayCommitByCounting(lsn: number): boolean {
    return this.log.epochAt(lsn) === this.epoch
  }

  private afterProgress(): void {
    const acks = [this.ownAckLsn(), ...[...this.progress.values()].map((p) => p.durable)].sort((a, b) => b - a)
    const candidate = acks[majorityOf(this.members.length) - 1] ?? 0
    if (candidate > this.commitLsn && this.mayCommitByCounting(candidate)) {
      this.commitLsn = candidate
      this.heardCommitLsn = Math.max(this.heardCommitLsn, candidate)
      this.applyCommitted()
      // Batch mode: tell the replicas soon (one append per event-loop turn), so their reads are fresh
      // within a round trip instead of a heartbeat interval.
      if (this.options.onAppendsPending !== undefined && !this.appendsPending) {
        this.appendsPending = true
        this.options.onAppendsPending()
      }
    }
    this.tracker.evaluate(this.durabilityProgress(), this.nowMs, false)
    this.maybeHandOver()
  }

  private durabilityProgress(): DurabilityProgress {
    return {
      ownDurableLsn: this.ownAckLsn(),
      replicaDurableLsns: this.peers.map((peer) => this.progress.get(peer)?.durable ?? 0),
      commitLsn: this.commitLsn,
    }
  }

  private applyCommitted(): void {
    while (this.appliedLsn < this.commitLsn) {
      const entry = this.log.entry(this.appliedLsn + 1)
      if (!entry) return
      this.state.apply(entry)
      this.pendingKeys.applied(entry)
      this.appliedLsn = entry.lsn
      this.options.onApply?.(entry)
    }
    this.decideRollbackCandidates()
  }

  /** The document as the primary's whole log leaves it: applied state plus pending entries. */
  private speculativeDocument(key: string): StoredDocument | undefined {
    let doc = this.state.get(key)
    for (const entry of this.log.slice(this.appliedLsn + 1, this.log.lastLsn)) {
      const op = entry.op
      if (op.kind === 'noop') continue
      for (const single of op.kind === 'batch' ? op.ops : [op]) {
        if (strictKey(single.collection, single.id) === key) doc = applyDocumentOp(doc, single, entry.lsn)
      }
    }
    return doc
  }

  // ---------------------------------------------------------------- restore

  private restoreFrom(restore: StrictRestore): void {
    if (restore.hardState) {
      this.epoch = restore.hardState.epoch
      this.votedFor = restore.hardState.votedFor
    }
    const snapshot = restore.snapshot ?? null
    if (snapshot) {
      this.log.resetTo(snapshot.lsn, snapshot.history)
      this.state.reset(snapshot.documents, snapshot.requestKeys ?? [])
      this.snapshot = snapshot
      this.appliedLsn = this.commitLsn = this.durableLsn = snapshot.lsn
    }
    for (const entry of restore.entries ?? []) {
      if (entry.lsn <= this.log.lastLsn) continue
      if (entry.lsn !== this.log.lastLsn + 1) break
      this.log.append(entry)
    }
    this.durableLsn = this.log.lastLsn
    this.rollbackCandidates = [...(restore.rollbackCandidates ?? [])]
    this.decideRollbackCandidates()
  }
}

function validate(op: WriteOp): string | null {
  const ops = op.kind === 'batch' ? op.ops : [op]
  if (ops.length === 0) return 'a batch needs at least one op'
  for (const single of ops) {
    if ((single.kind as string) === 'batch' || (single.kind as string) === 'noop') return 'a batch holds only put, patch and delete ops'
    if (!single.collection || !single.id) return 'collection and id must be non-empty'
  }
  return null
}

/**
 * Whether `entries` are the ones after `prevLsn`: contiguous, in epochs from 1 (no primary has epoch 0),
 * never below `prevEpoch` or each other, and at most the sender's `epoch`.
 */
function entriesFollow(prevLsn: number, prevEpoch: number, entries: readonly LogEntry[], epoch: number): boolean {
  let lastEpoch = Math.max(1, prevEpoch)
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as LogEntry
    if (entry.lsn !== prevLsn + 1 + i || entry.epoch < lastEpoch || entry.epoch > epoch) return false
    lastEpoch = entry.epoch
  }
  return true
}

/** Nothing is in flight any more: `next` moved back (or past a snapshot), so everything is sent again. */
function clearInflight(p: StreamProgress): void {
  p.inflight = []
  p.inflightBytes = 0
}

/** Pipelining: an append with `count` entries left; assume delivery (a failed reply moves `next` back). */
function noteSent(p: StreamProgress, count: number, bytes: number): void {
  if (count === 0) return
  p.next += count
  p.inflight.push({ last: p.next - 1, bytes })
  p.inflightBytes += bytes
}

/** Moves a stream by the replica's answer: forward on success, back to where it says on failure. */
function advanceStream(p: StreamProgress, m: AppendReplyMessage, nowMs: number): void {
  p.lastHeardMs = nowMs
  p.applied = m.appliedLsn
  if (m.success) {
    p.match = Math.max(p.match, m.matchLsn)
    p.durable = Math.max(p.durable, m.durableLsn)
    p.next = Math.max(p.next, p.match + 1)
    while (p.inflight.length > 0 && (p.inflight[0] as { last: number }).last <= p.match) p.inflightBytes -= (p.inflight.shift() as { bytes: number }).bytes
  } else {
    // `match` may be from before the replica lost its volatile tail in a crash; only its durable
    // acknowledgement is sure to survive, so that is the floor when moving back.
    p.match = Math.max(p.durable, Math.min(p.match, m.retryFromLsn - 1))
    p.next = Math.max(p.durable + 1, Math.min(p.next - 1, m.retryFromLsn))
    clearInflight(p)
  }
}

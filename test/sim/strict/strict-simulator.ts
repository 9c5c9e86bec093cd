import { DocumentState, failoverPriority, StrictNode, strictKey, type FailoverControls } from '../../../core/strict/index.js'
import { RegisterWorkload } from './register-workload.js'
import type {
  DocumentOp,
  HardState,
  LogEntry,
  LogPosition,
  Precondition,
  StrictMessage,
  StrictNodeOptions,
  StrictSnapshot,
  WriteConcern,
  WriteOp,
  WriteOutcome,
} from '../../../core/strict/index.js'
import { EventQueue } from '../event-queue.js'
import { SimRandom } from '../random.js'

/** What the network and the machines may do to a run. Chosen from the seed unless given. */
export interface StrictFaultProfile {
  readonly dropRate: number
  readonly duplicateRate: number
  readonly maxDelayMs: number
  /** Share of messages delivered 200–800 ms late, after elections may have moved on. */
  readonly lateRate: number
  readonly partitions: boolean
  readonly crashes: boolean
  readonly pauses: boolean
  /** Every node loses power at once (rare): only durable data survives, so no acknowledgement may rest on memory. */
  readonly powerLoss: boolean
  /** Share of the non-read, non-write operation slots that really inject a fault (the rest write). */
  readonly faultiness: number
  /**
   * Election churn, aimed at the interleavings of Raft's figure 8: the chance that a node which has
   * just become primary is cut off at once (alone in 3 nodes, with one follower of its side in 5), so that
   * its no-op (and any write) stays on a minority and competing histories pile up at the same LSNs.
   */
  readonly isolateNewPrimary: number
  /** The chance that a primary crashes right after its commit index moved, before its next flush. */
  readonly crashAfterCommit: number
  /**
   * For a primary elected while another node holds a later epoch's entry at one of its uncommitted LSNs
   * (a competing history): the chance that its disk stalls a while and it crashes right after its
   * first commit — the one that takes the entries of earlier epochs along with its no-op (figure 8's
   * primary crashes right there, before its own entry has spread).
   */
  readonly crashAfterFirstCommit: number
  /** The chance (scaled by 0.03 per operation slot) that one node's outgoing messages all arrive 200–1500 ms late for a while. */
  readonly slowLinks: number
}

export interface StrictSimOptions {
  readonly seed: number
  readonly nodes: 3 | 5
  /** Scheduled operations (writes, reads, faults) before the final heal. */
  readonly operations?: number
  readonly faults?: Partial<StrictFaultProfile>
  /** Sim time allowed from the final heal until the cluster settles. */
  readonly settleBudgetMs?: number
  /** Swaps in a deliberately broken node (the simulator's own mutant tests). */
  readonly createNode?: (options: StrictNodeOptions) => StrictNode
  /** Mutant workload: primaries answer register reads without a read barrier. */
  readonly unconfirmedReads?: boolean
  /**
   * [FO3] Random failover controls (priorities, noFailover members, maxLagOnFailover) and operator
   * switchovers, drawn from their own stream; checks that a noFailover member never becomes primary.
   */
  readonly failover?: boolean
  /**
   * Cascading replicas: a random acyclic `replicateFrom` (chains and fan-outs) and sometimes a short or
   * long `cascadeFallbackMs`, drawn from their own stream; every rule still holds, and the cluster
   * settles with every node caught up whatever relays crashed or were cut off.
   */
  readonly cascade?: boolean
}

export interface StrictSimResult {
  readonly seed: number
  readonly violations: string[]
  readonly log: string[]
  readonly stats: {
    messages: number
    /** Keyed writes sent again with the same request key, and how many were answered as duplicates. */
    resends: number
    duplicates: number
    dropped: number
    writes: number
    acknowledged: number
    majorityAcknowledged: number
    indeterminate: number
    rejected: number
    reads: number
    elections: number
    rollbacks: number
    snapshotsInstalled: number
    crashes: number
    pauses: number
    /** Cascading: relayed appends and snapshots, and replies passed on upstream. */
    relayed: number
    settleMs: number | null
  }
}

const TICK_MS = 10
/** A run that sends more than this is stuck in a message loop (itself a bug worth reporting). */
const MAX_MESSAGES = 50_000
const FLUSH_CHOICES_MS = [5, 20, 60, 150]
const KEYS = ['a', 'b', 'c', 'd']
const CONCERNS: readonly WriteConcern[] = ['local', 'one', 'majority', 'all']

interface Storage {
  hard: HardState
  snapshot: StrictSnapshot | null
  entries: LogEntry[]
  /** Entries at or below this survive a crash; the rest is the volatile tail. */
  durableLsn: number
  /** Cut entries whose fate is undecided (persisted synchronously, like the hard state). */
  rollbackCandidates: readonly LogEntry[]
}

interface SimNode {
  readonly id: string
  node: StrictNode | null
  life: number
  paused: boolean
  inbox: StrictMessage[]
  storage: Storage
  lastApplied: number
  /** Became primary facing a competing history held by these nodes (see `competitors`); not committed since. */
  returning: string[]
  /** Its disk stalls (no flush completes) until then. */
  stalledUntil: number
}

interface WriteRecord {
  readonly node: string
  readonly life: number
  readonly token: LogPosition
  readonly concern: WriteConcern
  outcome: WriteOutcome | null
  /** At-most-once writes: the op and its request key, to resend it when its outcome is unknown. */
  readonly keyed?: { readonly op: WriteOp; readonly requestKey: string; readonly duplicate: boolean }
}

function defaultFaults(random: SimRandom): StrictFaultProfile {
  const base = {
    dropRate: random.pick([0, 0.02, 0.1]),
    duplicateRate: random.pick([0, 0.05, 0.2]),
    maxDelayMs: random.pick([5, 30, 100]),
    lateRate: random.pick([0, 0.01, 0.05]),
    partitions: random.chance(0.8),
    crashes: random.chance(0.8),
    pauses: random.chance(0.6),
    powerLoss: random.chance(0.3),
    faultiness: random.pick([0.2, 0.5, 1]),
  }
  // Drawn last, so the draws above (and the runs without churn) stay as they were. Churn needs a few
  // quiet elections in a row, so its runs inject fewer other faults.
  if (!random.chance(0.5)) return { ...base, isolateNewPrimary: 0, crashAfterCommit: 0, crashAfterFirstCommit: 0, slowLinks: 0 }
  return {
    ...base,
    faultiness: 0.2,
    isolateNewPrimary: random.pick([0.5, 0.7]),
    crashAfterCommit: random.pick([0.02, 0.1]),
    crashAfterFirstCommit: random.pick([0.6, 0.9]),
    slowLinks: random.pick([0.5, 1]),
  }
}

const tokenKey = (t: LogPosition): string => `${t.epoch}:${t.lsn}`
const entryText = (e: LogEntry): string => `${e.epoch}:${e.lsn}:${JSON.stringify(e.op)}`

/**
 * Runs one seeded schedule of strict writes, reads and faults over real `StrictNode`s, heals, lets
 * the cluster settle and checks [ST1]–[ST5], [FO1] and [RD1]. Same seed and options, same run.
 */
export function runStrictSimulation(options: StrictSimOptions): StrictSimResult {
  const random = new SimRandom(options.seed)
  const faults: StrictFaultProfile = { ...defaultFaults(random.fork()), ...options.faults }
  const work = random.fork()
  const net = random.fork()
  const timers = random.fork()
  /** Drives the churn faults only, so that runs without churn replay exactly as before it existed. */
  const chaos = random.fork()
  /**
   * Each node's clock: an offset and a rate (±10 %, and sometimes 0.5× or 1.5×). The core only
   * measures time within one node, so skew changes how soon nodes time out relative to each other.
   */
  const clocks = random.fork()
  const clockOf = new Map<string, { offset: number; rate: number }>()
  /** Drives keyed writes and their resends (forked last, so the streams above are as before). */
  const retries = random.fork()
  const batchAppends = clocks.chance(0.5)
  // Flow control of pipelined appends at a few entries, a few dozen, or the default (megabytes: never
  // reached here). Taken from the seed, not drawn, so the other draws of a seed stay as they were.
  const maxInflightBytes = [undefined, 120, 600][options.seed % 3]
  // Most runs use pre-vote (the default); the rest the plain elections of Raft's paper.
  const preVote = clocks.chance(0.75)
  const queue = new EventQueue()
  const log: string[] = []
  const violations: string[] = []
  const stats: StrictSimResult['stats'] = {
    messages: 0,
    resends: 0,
    duplicates: 0,
    dropped: 0,
    writes: 0,
    acknowledged: 0,
    majorityAcknowledged: 0,
    indeterminate: 0,
    rejected: 0,
    reads: 0,
    elections: 0,
    rollbacks: 0,
    snapshotsInstalled: 0,
    crashes: 0,
    pauses: 0,
    relayed: 0,
    settleMs: null,
  }
  const say = (line: string): void => {
    log.push(`t=${queue.now} ${line}`)
  }
  const violate = (line: string): void => {
    if (violations.length < 20) violations.push(line)
    say(`VIOLATION ${line}`)
  }
  const makeNode = options.createNode ?? ((o: StrictNodeOptions) => new StrictNode(o))

  const ids = Array.from({ length: options.nodes }, (_, i) => `n${i}`)
  const nodes = new Map<string, SimNode>()
  for (const id of ids) {
    nodes.set(id, { id, node: null, life: 0, paused: false, inbox: [], storage: { hard: { epoch: 0, votedFor: null }, snapshot: null, entries: [], durableLsn: 0, rollbackCandidates: [] }, lastApplied: 0, returning: [], stalledUntil: 0 })
  }
  for (const id of ids) {
    const rate = clocks.chance(0.2) ? clocks.pick([0.5, 1.5]) : 0.9 + clocks.next() * 0.2
    clockOf.set(id, { offset: clocks.int(0, 1_000_000), rate })
  }
  /** What `id`'s clock reads now (monotonic). */
  const localTime = (id: string): number => {
    const clock = clockOf.get(id) as { offset: number; rate: number }
    return clock.offset + queue.now * clock.rate
  }
  const get = (id: string): SimNode => nodes.get(id) as SimNode
  const majority = Math.floor(options.nodes / 2) + 1
  /** [FO3] Forked only when asked for, so runs without controls replay exactly as before. */
  const controlsRandom = options.failover ? random.fork() : null
  const failover = controlsRandom ? drawFailoverControls(controlsRandom, ids, majority) : undefined
  if (failover) say(`failover controls ${JSON.stringify(failover)}`)
  /** Cascading: forked only when asked for, like the failover controls. */
  const cascadeRandom = options.cascade ? random.fork() : null
  const cascade = cascadeRandom ? drawCascade(cascadeRandom, ids) : undefined
  if (cascade) say(`cascade ${JSON.stringify(cascade)}`)
  /** [FO3] The target of the last switchover started (to log when it takes over). */
  let switchoverTarget: string | null = null
  /** Whether this storage would bring `entry` back after a crash (durable log prefix or snapshot). */
  const holdsDurably = (storage: Storage, entry: LogEntry): boolean => {
    const snapshot = storage.snapshot
    if (snapshot && entry.lsn <= snapshot.lsn) return [...snapshot.history].reverse().find((start) => start.lsn <= entry.lsn)?.epoch === entry.epoch
    if (entry.lsn > storage.durableLsn) return false
    const first = storage.entries[0]?.lsn ?? 0
    return storage.entries[entry.lsn - first]?.epoch === entry.epoch
  }

  // ------------------------------------------------------------ what the checks need
  const writes = new Map<string, WriteRecord>()
  /** Tokens acknowledged at majority or all (must never be lost [ST1]). */
  const majorityAcked = new Map<string, LogPosition>()
  /**
   * The epoch of the primary that acknowledged each of them: an entry of an older epoch (a resend of an
   * indeterminate write, answered as a duplicate) is committed in the epoch that acknowledges it.
   */
  const majorityAckedIn = new Map<string, number>()
  /** Every token acknowledged at any level, for reads with `after`. */
  const ackedTokens: LogPosition[] = []
  /** epoch → the node that obtained majority acknowledgements in it [ST2]. */
  const majorityPrimaryByEpoch = new Map<number, string>()
  /** lsn → the entry applied there (first seen); a different one elsewhere breaks [ST2]. */
  const committed = new Map<number, LogEntry>()
  /** lsn → the state digest after applying it (first seen) [ST4]. */
  const digestAt = new Map<number, { node: string; digest: string }>()
  /** Request key → the LSN of the committed entry that carries it (at most one [ST4]). */
  const committedKeys = new Map<string, number>()

  let stopped = false
  /** Set at the final heal: from then on no fault is injected any more. */
  let healing = false
  let aborted = false
  const abort = (why: string): void => {
    if (aborted) return
    aborted = true
    stopped = true
    violate(why)
  }

  // ------------------------------------------------------------ network
  const group = new Map<string, number>()
  /** Bumped at every partition change, so a scheduled heal only undoes its own partition. */
  let partitionGeneration = 0
  const partition = (members: readonly string[], why: string): void => {
    group.clear()
    for (const id of members) group.set(id, 1)
    partitionGeneration += 1
    say(`partition: ${members.join(',')} cut off (${why})`)
  }
  /** The generation of the partition the election churn made (it heals it only while it stands). */
  let churnCut = -1
  const healPartition = (why: string): void => {
    group.clear()
    partitionGeneration += 1
    say(`heal (${why})`)
  }
  /** node → until when all its outgoing messages arrive 200–1500 ms late (a slow link: stale replies). */
  const slowUntil = new Map<string, number>()
  const reachable = (a: string, b: string): boolean => (group.get(a) ?? 0) === (group.get(b) ?? 0)

  const deliver = (to: SimNode, life: number, message: StrictMessage): void => {
    if (to.life !== life || !to.node) return
    if (!reachable(message.from, to.id)) return
    if (to.paused) {
      to.inbox.push(message)
      return
    }
    to.node.receive(message)
  }

  const send = (from: string, to: string, message: StrictMessage): void => {
    stats.messages += 1
    if (message.type.startsWith('relayed-')) stats.relayed += 1
    if (stats.messages > MAX_MESSAGES) {
      abort(`[ST1] more than ${MAX_MESSAGES} messages: a replication loop?`)
      return
    }
    if (!reachable(from, to) || net.chance(faults.dropRate)) {
      stats.dropped += 1
      return
    }
    const target = get(to)
    const life = target.life
    const copies = net.chance(faults.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      // A copy, as the wire would make: no node may share objects with another.
      const wire = structuredClone(message)
      // Now and then a message is stuck far longer than an election timeout: the stale-epoch case.
      const delayMs = (net.chance(faults.lateRate) ? net.int(200, 800) : net.int(1, faults.maxDelayMs)) + ((slowUntil.get(from) ?? -1) >= queue.now ? chaos.int(200, 1_500) : 0)
      queue.schedule(delayMs, () => deliver(target, life, wire))
    }
  }

  // ------------------------------------------------------------ nodes and their storage
  const boot = (sim: SimNode): void => {
    sim.life += 1
    sim.paused = false
    sim.inbox = []
    const storage = sim.storage
    sim.lastApplied = storage.snapshot?.lsn ?? 0
    let self: StrictNode | null = null
    const node = makeNode({
      id: sim.id,
      members: ids,
      random: () => timers.next(),
      send: (peer, message) => send(sim.id, peer, message),
      // Half the runs batch replication the way the server does: appends go out on the next event.
      ...(batchAppends ? { onAppendsPending: () => queue.schedule(0, () => { if (sim.node === self && !sim.paused) self?.flushAppends() }) } : {}),
      ...(maxInflightBytes === undefined ? {} : { maxInflightBytes }),
      preVote,
      ...(failover ? { failover } : {}),
      ...(cascade ?? {}),
      semiSyncTimeoutMs: 80,
      writeTimeoutMs: 1_500,
      restore: { hardState: storage.hard, snapshot: storage.snapshot, entries: storage.entries, rollbackCandidates: storage.rollbackCandidates },
      onHardState: (hard) => {
        storage.hard = hard
      },
      onAppend: (entries) => {
        for (const entry of entries) {
          const last = storage.entries.at(-1)?.lsn ?? storage.snapshot?.lsn ?? 0
          if (entry.lsn !== last + 1) violate(`[ST4] ${sim.id} appended lsn ${entry.lsn} after ${last}`)
          storage.entries.push(entry)
        }
      },
      onTruncate: (fromLsn) => {
        storage.entries = storage.entries.filter((e) => e.lsn < fromLsn)
        storage.durableLsn = Math.min(storage.durableLsn, fromLsn - 1)
      },
      onRollbackCandidates: (candidates) => {
        storage.rollbackCandidates = candidates
      },
      onRollback: (rolledBack) => {
        for (const entry of rolledBack) {
          stats.rollbacks += 1
          say(`rollback ${sim.id} ${entry.epoch}:${entry.lsn} ${entry.op.kind}`)
          // [ST5] what the rollback file records was never majority-acknowledged nor committed.
          if (majorityAcked.has(tokenKey(entry))) violate(`[ST5] ${sim.id} rolled back majority-acknowledged ${tokenKey(entry)}`)
          if (committed.get(entry.lsn)?.epoch === entry.epoch) violate(`[ST5] ${sim.id} rolled back committed ${tokenKey(entry)}`)
        }
      },
      onSnapshot: (snapshot, prunedTo) => {
        storage.snapshot = snapshot
        storage.entries = storage.entries.filter((e) => e.lsn > prunedTo)
        storage.durableLsn = Math.max(storage.durableLsn, snapshot.lsn)
        if (snapshot.lsn > sim.lastApplied) {
          // Installed from the primary: the state jumps to the snapshot, which must match history.
          stats.snapshotsInstalled += 1
          say(`snapshot installed on ${sim.id} at ${snapshot.lsn}`)
          const reference = stateAt(snapshot.lsn)
          if (reference !== null) {
            const mine = new DocumentState()
            mine.reset(snapshot.documents)
            if (mine.digest() !== reference.digest()) violate(`[ST4] ${sim.id} installed a snapshot at ${snapshot.lsn} that differs from the committed history`)
            // The request keys are replicated state too (outside the digest): same table as the history's.
            const keys = JSON.stringify(snapshot.requestKeys ?? [])
            if (keys !== JSON.stringify([...reference.requestKeys()])) violate(`[ST4] ${sim.id} installed a snapshot at ${snapshot.lsn} whose request keys ${keys} differ from the committed history's`)
          }
          sim.lastApplied = snapshot.lsn
        }
      },
      onApply: (entry) => {
        if (self?.currentRole === 'primary' && !healing) {
          const rivals = sim.returning
          const returning = rivals.length > 0
          sim.returning = []
          if (chaos.chance(returning ? faults.crashAfterFirstCommit : faults.crashAfterCommit)) {
            // …and the competing history it faced comes back at the same moment; once it has restarted,
            // an operator promotes a node holding that history (the vote rule must stop it if it may not win).
            const rival = returning ? get(chaos.pick(rivals)) : null
            crashSoon(sim, `right after its ${returning ? 'first ' : ''}commit moved`, () => {
              if (rival?.node && !rival.paused) {
                rival.node.promote()
                say(`operator: promote ${rival.id}`)
              }
            })
            if (returning && churnCut === partitionGeneration) healPartition('with the crash')
          }
        }
        if (self?.currentRole === 'primary' && commitTimes[entry.lsn] === undefined) commitTimes[entry.lsn] = queue.now
        if (self?.currentRole === 'primary') {
          // [ST1] a primary commits only what a majority holds durably: one crash must not lose it.
          const holders = ids.filter((id) => holdsDurably(get(id).storage, entry))
          if (holders.length < majority) violate(`[ST1] ${sim.id} committed ${tokenKey(entry)} held durably only by ${holders.join(',') || 'nobody'}`)
        }
        if (entry.lsn !== sim.lastApplied + 1) violate(`[ST4] ${sim.id} applied lsn ${entry.lsn} after ${sim.lastApplied}`)
        sim.lastApplied = entry.lsn
        const first = committed.get(entry.lsn)
        if (!first) {
          committed.set(entry.lsn, entry)
          // At most once: a request key is carried by at most one committed entry.
          if (entry.requestKey !== undefined) {
            const earlier = committedKeys.get(entry.requestKey)
            if (earlier !== undefined && earlier !== entry.lsn) violate(`[ST4] key ${entry.requestKey} committed twice: at lsn ${earlier} and ${entry.lsn}`)
            else committedKeys.set(entry.requestKey, entry.lsn)
          }
        } else if (entryText(first) !== entryText(entry)) violate(`[ST2] two different entries committed at lsn ${entry.lsn}: ${entryText(first)} and ${sim.id}'s ${entryText(entry)}`)
        const digest = self?.digest()
        if (digest !== undefined) {
          const seen = digestAt.get(entry.lsn)
          if (!seen) digestAt.set(entry.lsn, { node: sim.id, digest })
          else if (seen.digest !== digest) violate(`[ST4] ${sim.id}'s digest at lsn ${entry.lsn} is ${digest}, ${seen.node}'s was ${seen.digest}`)
        }
      },
      onWriteOutcome: (outcome) => recordOutcome(sim.id, sim.life, outcome),
      onRoleChange: (role, epoch) => {
        say(`${sim.id} is ${role} in epoch ${epoch}`)
        if (role === 'primary' && failover && failoverPriority(failover, sim.id) === 0) violate(`[FO3] ${sim.id} is noFailover but became primary in epoch ${epoch}`)
        if (role === 'primary' && sim.id === switchoverTarget) {
          switchoverTarget = null
          say(`switchover target ${sim.id} took over`)
        }
        if (role !== 'primary' || !self) return
        stats.elections += 1
        // Figure 8 (Raft §5.4.2) from election churn: a new primary is cut off at once, so its no-op
        // stays on a minority (itself, or in 5 nodes itself and one follower) and the majority elects
        // another, which may meet the same fate; each leaves a competing history at the same LSNs.
        // A primary elected while another node holds a later epoch's entry at one of its uncommitted
        // LSNs (a competing history) is not cut off but may crash right after its first commit —
        // before its own no-op has spread — so that the competing history can win the next election.
        sim.returning = competitors(sim.id, self)
        if (sim.returning.length > 0 && !healing && chaos.chance(faults.crashAfterFirstCommit)) {
          // Its disk stalls a while, so that its replicas' acknowledgements get ahead of its own.
          sim.stalledUntil = queue.now + chaos.int(100, 500)
          say(`disk of ${sim.id} stalls until t=${sim.stalledUntil}`)
        }
        if (!healing && sim.returning.length === 0 && chaos.chance(faults.isolateNewPrimary)) {
          // Its no-op leaves in this very call: cut off now, it reaches only the follower cut off with it.
          const near = ids.filter((id) => id !== sim.id && reachable(id, sim.id))
          const partner = options.nodes === 5 && near.length > 0 ? [chaos.pick(near)] : []
          partition([sim.id, ...partner], `new primary of epoch ${epoch}`)
          const generation = (churnCut = partitionGeneration)
          queue.schedule(chaos.int(300, 1_000), () => {
            if (!healing && generation === partitionGeneration) healPartition('after new-primary cut')
          })
        }
        // [FO1] a new primary holds every entry acknowledged at majority in an earlier epoch. (A primary
        // of a lower epoch can still be elected after a higher one, by voters that never saw the higher
        // epoch; it can never commit anything, and it need not hold the higher epoch's entries, nor an
        // older entry first acknowledged in the higher epoch: seed 3:784590202, an epoch-1 entry resent
        // and acknowledged by the primary of epoch 3, then a candidate of epoch 2 resumed from a pause.)
        for (const token of majorityAcked.values()) {
          const ackedIn = majorityAckedIn.get(tokenKey(token)) ?? token.epoch
          if (ackedIn < epoch && self.epochAt(token.lsn) !== token.epoch) violate(`[FO1] ${sim.id} became primary of epoch ${epoch} without majority-acknowledged ${tokenKey(token)}`)
        }
      },
    })
    self = node
    sim.node = node
  }

  /** The other nodes holding an entry of a later epoch than `node`'s at one of `node`'s uncommitted LSNs. */
  const competitors = (id: string, node: StrictNode): string[] => {
    const found = new Set<string>()
    for (let lsn = node.commit + 1; lsn <= node.lastPosition.lsn; lsn++) {
      const mine = node.epochAt(lsn) ?? 0
      for (const other of nodes.values()) if (other.id !== id && (other.node?.epochAt(lsn) ?? 0) > mine) found.add(other.id)
    }
    return [...found]
  }

  const recordOutcome = (nodeId: string, life: number, outcome: WriteOutcome): void => {
    const registerLine = registers.outcome(`${nodeId}:${life}:${outcome.writeId}`, outcome)
    if (registerLine !== null) say(registerLine)
    const record = writes.get(`${nodeId}:${life}:${outcome.writeId}`)
    if (!record) return
    if (record.outcome) violate(`[ST3] write ${tokenKey(outcome.token)} got a second outcome`)
    record.outcome = outcome
    if (outcome.status === 'indeterminate') {
      stats.indeterminate += 1
      say(`write ${tokenKey(outcome.token)} on ${nodeId} indeterminate (${outcome.reason})`)
      maybeResend(record, 'indeterminate')
      return
    }
    if ((outcome.status as string) !== 'acknowledged') {
      violate(`[ST3] write ${tokenKey(outcome.token)} reported ${outcome.status as string}`)
      return
    }
    stats.acknowledged += 1
    ackedTokens.push(outcome.token)
    if (record.keyed) checkDuplicateAck(nodeId, record, outcome.token)
    // Now and then the acknowledgement is lost on its way to the client, which resends.
    if (record.keyed && retries.chance(0.1)) maybeResend(record, 'acknowledgement lost')
    say(`write ${tokenKey(outcome.token)} on ${nodeId} acknowledged at ${outcome.level}${outcome.degraded ? ' (degraded)' : ''}`)
    if (outcome.level === 'majority' || outcome.level === 'all') {
      stats.majorityAcknowledged += 1
      majorityAcked.set(tokenKey(outcome.token), outcome.token)
      const ackedIn = nodes.get(nodeId)?.node?.currentEpoch ?? outcome.token.epoch
      majorityAckedIn.set(tokenKey(outcome.token), Math.max(majorityAckedIn.get(tokenKey(outcome.token)) ?? 0, ackedIn))
      // A duplicate's token is the original entry's, maybe of an earlier epoch: count the acknowledging primary's.
      const epoch = record.keyed?.duplicate ? (get(nodeId).node?.currentEpoch ?? outcome.token.epoch) : outcome.token.epoch
      const holder = majorityPrimaryByEpoch.get(epoch)
      if (holder === undefined) majorityPrimaryByEpoch.set(epoch, nodeId)
      else if (holder !== nodeId) violate(`[ST2] both ${holder} and ${nodeId} obtained majority acknowledgements in epoch ${epoch}`)
    }
  }

  /** The state after `lsn` by replaying the committed history; null when part of it is unknown. */
  const stateAt = (lsn: number): DocumentState | null => {
    const state = new DocumentState()
    for (let i = 1; i <= lsn; i++) {
      const entry = committed.get(i)
      if (!entry) return null
      state.apply(entry)
    }
    return state
  }

  const flush = (sim: SimNode): void => {
    if (!sim.node || sim.paused || queue.now < sim.stalledUntil) return
    const last = sim.storage.entries.at(-1)?.lsn ?? sim.storage.snapshot?.lsn ?? 0
    if (last > sim.storage.durableLsn || last < sim.storage.durableLsn) sim.storage.durableLsn = last
    sim.node.markDurable(last)
  }

  const crash = (sim: SimNode, why: string): void => {
    if (!sim.node) return
    const s = sim.storage
    const lost = s.entries.filter((e) => e.lsn > s.durableLsn).length
    s.entries = s.entries.filter((e) => e.lsn <= s.durableLsn)
    sim.node = null
    // Keyed writes in flight on it will never hear their outcome: their clients may resend them.
    for (const record of writes.values()) if (record.node === sim.id && record.life === sim.life && record.outcome === null) maybeResend(record, 'its primary crashed')
    sim.life += 1
    stats.crashes += 1
    say(`crash ${sim.id} (${why}; loses ${lost} unsynced entries)`)
  }

  /** Crashes a node as soon as the current event is over (not from inside its own callback); restarts it a little later. */
  const crashSoon = (sim: SimNode, why: string, afterRestart?: () => void): void => {
    const life = sim.life
    queue.schedule(0, () => {
      if (healing || sim.life !== life || !sim.node) return
      crash(sim, why)
      queue.schedule(chaos.int(20, 400), () => {
        restart(sim)
        if (afterRestart) queue.schedule(chaos.int(1, 30), () => !healing && afterRestart())
      })
    })
  }

  const restart = (sim: SimNode): void => {
    if (sim.node) return
    boot(sim)
    say(`restart ${sim.id} from ${sim.storage.entries.length} entries${sim.storage.snapshot ? ` after snapshot ${sim.storage.snapshot.lsn}` : ''}, epoch ${sim.storage.hard.epoch}`)
  }

  const resume = (sim: SimNode, life: number): void => {
    if (sim.life !== life || !sim.paused) return
    sim.paused = false
    say(`resume ${sim.id} (${sim.inbox.length} queued messages)`)
    // The frozen process wakes up with a late clock first, then drains its socket buffers.
    sim.node?.tick(localTime(sim.id))
    for (const message of sim.inbox.splice(0)) if (sim.node && !sim.paused) sim.node.receive(message)
  }

  /** Runs the queue; a runaway message loop ends the run with a violation instead of hanging it. */
  const runUntil = (untilMs: number): void => {
    if (aborted) return
    try {
      queue.runUntil(untilMs)
    } catch (error) {
      // A node that throws mid-message is broken whatever the rule; report it with the run's log.
      abort(`[ST4] a node threw: ${String(error)}`)
    }
  }
  const every = (intervalMs: number, run: () => void): void => queue.every(intervalMs, run, () => stopped)

  for (const sim of nodes.values()) {
    boot(sim)
    every(net.pick(FLUSH_CHOICES_MS), () => flush(sim))
  }
  every(TICK_MS, () => {
    for (const sim of nodes.values()) if (sim.node && !sim.paused) sim.node.tick(localTime(sim.id))
  })

  // ------------------------------------------------------------ workload
  const primaries = (): SimNode[] => [...nodes.values()].filter((s) => s.node?.currentRole === 'primary' && !s.paused)
  const versions: number[] = [0]
  /** Sim time at which each LSN was first committed (applied on a primary). */
  const commitTimes: number[] = []
  const registers = new RegisterWorkload(() => queue.now, { unconfirmedReads: options.unconfirmedReads ?? false })

  const randomPrecondition = (): Precondition | undefined => {
    const roll = work.next()
    if (roll < 0.6) return undefined
    if (roll < 0.8) return { expectVersion: work.pick(versions.slice(-6)) }
    return { exists: work.chance(0.5) }
  }
  const randomDocOp = (): DocumentOp => {
    const id = work.pick(KEYS)
    const precondition = randomPrecondition()
    const base = { collection: 'acc', id, ...(precondition ? { precondition } : {}) }
    const roll = work.next()
    if (roll < 0.5) return { kind: 'put', ...base, value: { n: work.int(0, 999) } }
    if (roll < 0.85) return { kind: 'patch', ...base, fields: { [work.pick(['x', 'y'])]: work.chance(0.2) ? null : work.int(0, 99) } }
    return { kind: 'delete', ...base }
  }

  const issueWrite = (): void => {
    const live = primaries()
    const pool = [...nodes.values()].filter((s) => s.node && !s.paused)
    const target = live.length > 0 && work.chance(0.85) ? work.pick(live) : pool.length > 0 ? work.pick(pool) : null
    if (!target?.node) return
    if (work.chance(0.3)) {
      say(`${target.id}: ${registers.issue(target.node, (n) => work.int(0, n - 1), (writeId) => `${target.id}:${target.life}:${writeId}`)}`)
      return
    }
    const op: WriteOp = work.chance(0.25) ? { kind: 'batch', ops: Array.from({ length: work.int(2, 3) }, randomDocOp) } : randomDocOp()
    const concern = work.pick(CONCERNS)
    const requestKey = retries.chance(0.2) ? `key${nextRequestKey++}` : null
    submitWrite(target, op, concern, requestKey, 'write')
  }

  let nextRequestKey = 1
  const submitWrite = (target: SimNode, op: WriteOp, concern: WriteConcern, requestKey: string | null, what: string): boolean => {
    const node = target.node as StrictNode
    stats.writes += 1
    const result = node.write(op, { concern, requestKey })
    if (result.status === 'rejected') {
      stats.rejected += 1
      say(`${what} on ${target.id} rejected: ${result.error.code}`)
      return false
    }
    const duplicate = result.duplicate === true
    if (duplicate) stats.duplicates += 1
    else versions.push(result.token.lsn)
    const keyed = requestKey === null ? {} : { keyed: { op, requestKey, duplicate } }
    writes.set(`${target.id}:${target.life}:${result.writeId}`, { node: target.id, life: target.life, token: result.token, concern, outcome: null, ...keyed })
    say(`${what} on ${target.id} ${op.kind} w=${concern}${requestKey === null ? '' : ` key ${requestKey}`} -> ${tokenKey(result.token)}${duplicate ? ' (duplicate)' : ''}`)
    return true
  }

  /**
   * A client whose keyed write got no usable answer (indeterminate, its primary crashed, or the
   * acknowledgement was lost) often sends it again, same op and key, to whichever node is primary a
   * little later; a resend that finds no primary tries again a few times.
   */
  const maybeResend = (record: WriteRecord, why: string): void => {
    const keyed = record.keyed
    if (!keyed || !retries.chance(0.8)) return
    const attempt = (left: number): void => {
      const target = primaries()[0] ?? [...nodes.values()].find((s) => s.node && !s.paused)
      if (target?.node) {
        stats.resends += 1
        if (submitWrite(target, keyed.op, record.concern, keyed.requestKey, `resend (${why})`)) return
      }
      if (left > 0) queue.schedule(retries.int(50, 400), () => attempt(left - 1))
    }
    queue.schedule(retries.int(1, 300), () => attempt(3))
  }

  /**
   * A duplicate's token names the entry that carries its key: in the acknowledging primary's log
   * now, and (checked at the end) in the committed log when acknowledged at majority or all.
   */
  const checkDuplicateAck = (nodeId: string, record: WriteRecord, token: LogPosition): void => {
    const keyed = record.keyed
    if (!keyed?.duplicate) return
    const entry = get(nodeId).node?.entryAt(token.lsn) ?? committed.get(token.lsn)
    if (entry && (entry.epoch !== token.epoch || entry.requestKey !== keyed.requestKey)) {
      violate(`[ST4] duplicate of key ${keyed.requestKey} acknowledged with ${tokenKey(token)}, whose entry carries ${entry.requestKey ?? 'no key'} (epoch ${entry.epoch})`)
    }
  }

  /**
   * [RD3] A replica's reported staleness is true: its state holds every entry committed before
   * now − staleness, give or take how late a message can arrive in this run (delay, late delivery, slow
   * links, a pause that held the report back) and clock rate.
   */
  const stalenessSlackMs =
    faults.maxDelayMs + (faults.lateRate > 0 ? 800 : 0) + (faults.slowLinks > 0 ? 1_500 : 0) + (faults.pauses ? 1_200 : 0) + 3 * TICK_MS
  const checkStaleness = (sim: SimNode, result: { appliedLsn: number; stalenessMs: number | null; role: string }): void => {
    if (result.role === 'primary' || result.stalenessMs === null) return
    const rate = clockOf.get(sim.id)?.rate ?? 1
    const bound = queue.now - result.stalenessMs / rate - stalenessSlackMs / Math.min(rate, 1)
    for (let lsn = result.appliedLsn + 1; lsn < commitTimes.length; lsn++) {
      const at = commitTimes[lsn]
      if (at === undefined || at > bound) break
      violate(`[RD3] read on ${sim.id} says it is ${Math.round(result.stalenessMs)} ms stale but lacks lsn ${lsn}, committed at t=${at}`)
      return
    }
  }

  // [RD2] One client session reading from whichever node it reaches, always `after` the highest
  // position it has seen (what the client library does); its reads must never go backwards.
  let session: LogPosition | null = null
  const issueSessionRead = (sim: SimNode, node: StrictNode): void => {
    const key = work.pick(KEYS)
    const result = node.read('acc', key, session ? { after: session } : {})
    say(`session read ${key} on ${sim.id} after ${session ? tokenKey(session) : '-'}: ${result.status}${result.status === 'ok' ? ` at ${result.appliedLsn}` : ''}`)
    if (result.status !== 'ok') return
    checkStaleness(sim, result)
    if (session && result.appliedLsn < session.lsn) violate(`[RD2] session read on ${sim.id} went back from lsn ${session.lsn} to ${result.appliedLsn}`)
    if (!session || result.appliedLsn > session.lsn) session = { epoch: result.appliedEpoch, lsn: result.appliedLsn }
  }

  const issueRead = (): void => {
    const pool = [...nodes.values()].filter((s) => s.node && !s.paused)
    if (pool.length === 0) return
    const sim = work.pick(pool)
    const node = sim.node as StrictNode
    if (work.chance(0.3)) {
      issueSessionRead(sim, node)
      return
    }
    const after = ackedTokens.length > 0 && work.chance(0.8) ? work.pick(ackedTokens) : undefined
    const key = work.pick(KEYS)
    stats.reads += 1
    const result = node.read('acc', key, after ? { after } : {})
    say(`read ${key} on ${sim.id} after ${after ? tokenKey(after) : '-'}: ${result.status}${result.status === 'ok' ? ` at ${result.appliedLsn}` : ''}`)
    if (result.status === 'token-rolled-back') {
      if (after && majorityAcked.has(tokenKey(after))) violate(`[ST1] read on ${sim.id} says majority-acknowledged ${tokenKey(after)} was rolled back`)
      return
    }
    if (result.status !== 'ok') return
    checkStaleness(sim, result)
    // [RD1] never older than `after`, and exactly the committed state at the LSN it claims.
    if (after && (result.appliedLsn < after.lsn || committed.get(after.lsn)?.epoch !== after.epoch)) {
      violate(`[RD1] read on ${sim.id} after ${tokenKey(after)} answered from lsn ${result.appliedLsn} without that entry`)
    }
    const reference = stateAt(result.appliedLsn)
    if (reference) {
      const expected = JSON.stringify(reference.get(strictKey('acc', key)) ?? null)
      const got = JSON.stringify(result.document)
      if (expected !== got) violate(`[RD1] read ${key} on ${sim.id} at lsn ${result.appliedLsn} returned ${got}, history says ${expected}`)
    }
  }

  /** [FO3] An operator switchover on a primary (if any) to a random member; a noFailover target is refused. */
  const switchover = (why: string): void => {
    const primary = primaries()[0]
    if (!controlsRandom || !primary?.node || primary.paused) return
    const target = controlsRandom.pick(ids)
    const answer = primary.node.switchover(target, controlsRandom.int(50, 1_500))
    say(`operator: switchover ${primary.id} → ${target} (${why}): ${answer}`)
    if (answer === 'started' && target !== primary.id) switchoverTarget = target
  }

  // ------------------------------------------------------------ the schedule
  const operationCount = options.operations ?? 150
  let time = 0
  for (let i = 0; i < operationCount; i++) {
    time += work.int(5, 40)
    runUntil(time)
    if (aborted) break
    if (chaos.chance(faults.slowLinks * 0.03)) {
      const slow = chaos.pick(ids)
      const forMs = chaos.int(200, 1_000)
      slowUntil.set(slow, queue.now + forMs)
      say(`slow link: ${slow}'s messages arrive 200–1500ms late for ${forMs}ms`)
    }
    if (controlsRandom?.chance(0.04)) switchover('scheduled')
    const roll = work.next()
    const all = [...nodes.values()]
    const alive = all.filter((s) => s.node)
    const down = all.filter((s) => !s.node)
    const primary = primaries()[0]
    if (roll < 0.55 || (roll >= 0.7 && !work.chance(faults.faultiness))) {
      issueWrite()
    } else if (roll < 0.7) {
      issueRead()
    } else if (roll < 0.8 && faults.partitions) {
      group.clear()
      partitionGeneration += 1
      if (primary && work.chance(0.5)) {
        group.set(primary.id, 1)
        say(`partition: ${primary.id} (primary) isolated`)
      } else {
        for (const id of ids) group.set(id, work.int(0, 1))
        say(`partition ${ids.map((id) => `${id}:${group.get(id)}`).join(' ')}`)
      }
    } else if (roll < 0.8 && faults.partitions) {
      group.clear()
      partitionGeneration += 1
      say('heal')
    } else if (roll < 0.84 && faults.crashes && alive.length > 0) {
      const victim = primary && work.chance(0.5) ? primary : work.pick(alive)
      crash(victim, 'kill')
      if (work.chance(0.4)) restart(victim)
    } else if (roll < 0.89 && down.length > 0) {
      restart(work.pick(down))
    } else if (roll < 0.92 && faults.pauses && alive.length > 0) {
      const victim = primary && work.chance(0.6) ? primary : work.pick(alive)
      if (!victim.paused) {
        victim.paused = true
        stats.pauses += 1
        const forMs = work.int(100, 1_200)
        say(`pause ${victim.id} for ${forMs}ms`)
        const life = victim.life
        queue.schedule(forMs, () => resume(victim, life))
      }
    } else if (roll < 0.93 && faults.powerLoss) {
      for (const sim of alive) crash(sim, 'power loss')
      for (const sim of all) restart(sim)
    } else if (roll < 0.97) {
      const sim = alive.length > 0 ? work.pick(alive) : null
      if (sim?.node && !sim.paused) {
        // A retention bound below some replica's durable LSN forces snapshot catch-up [ST6].
        const forced = work.chance(0.5)
        const snapshot = sim.node.compact(forced ? sim.node.applied : undefined)
        if (snapshot) say(`compact ${sim.id} (snapshot at ${snapshot.lsn}${forced ? ', forced' : ''})`)
      }
    } else if (roll < 0.985) {
      if (primary?.node && controlsRandom?.chance(0.6)) {
        switchover('instead of a step-down')
      } else if (primary?.node) {
        primary.node.stepDown()
        say(`operator: step down ${primary.id}`)
      }
    } else {
      const sim = alive.length > 0 ? work.pick(alive) : null
      if (sim?.node && !sim.paused) {
        sim.node.promote()
        say(`operator: promote ${sim.id}`)
      }
    }
  }

  // ------------------------------------------------------------ final heal and settle
  const healedAt = queue.now
  healing = true
  group.clear()
  Object.assign(faults, { dropRate: 0, duplicateRate: 0, lateRate: 0 })
  slowUntil.clear()
  for (const sim of nodes.values()) {
    if (!sim.node) restart(sim)
    if (sim.paused) resume(sim, sim.life)
  }
  say('final heal: partitions healed, nodes restarted and resumed, no more drops')
  const budget = options.settleBudgetMs ?? 15_000
  let settled = false
  while (queue.now < healedAt + budget) {
    runUntil(queue.now + 50)
    if (aborted) break
    const leaders = primaries()
    const leader = leaders[0]?.node
    if (leaders.length !== 1 || !leader) continue
    // Settled: every write got its outcome, and every node applied the primary's whole log durably.
    const openWrites = [...writes.values()].some((w) => w.outcome === null && w.node === leaders[0]?.id && w.life === leaders[0]?.life)
    if (openWrites) continue
    if ([...nodes.values()].every((s) => s.node && s.node.currentEpoch === leader.currentEpoch && s.node.applied === leader.lastPosition.lsn && s.node.durable === leader.lastPosition.lsn)) {
      settled = true
      break
    }
  }
  stopped = true
  stats.settleMs = settled ? queue.now - healedAt : null
  say(settled ? `settled after ${stats.settleMs}ms` : 'did not settle')
  if (!settled) violate('[ST1] the cluster did not settle on one primary with every node caught up within the budget')

  // ------------------------------------------------------------ final checks
  // [ST1] every majority-acknowledged write is in every node's committed log.
  for (const token of majorityAcked.values()) {
    for (const sim of nodes.values()) {
      const node = sim.node
      if (!node) continue
      if (node.epochAt(token.lsn) !== token.epoch || node.commit < token.lsn) {
        violate(`[ST1] majority-acknowledged ${tokenKey(token)} missing on ${sim.id} (holds epoch ${node.epochAt(token.lsn) ?? '-'} at ${token.lsn}, commit ${node.commit})`)
      }
    }
  }
  // At most once: a duplicate acknowledged at majority names the committed entry that carries its key.
  for (const record of writes.values()) {
    const outcome = record.outcome
    if (!record.keyed?.duplicate || outcome?.status !== 'acknowledged' || (outcome.level !== 'majority' && outcome.level !== 'all')) continue
    const entry = committed.get(outcome.token.lsn)
    if (entry?.epoch !== outcome.token.epoch || entry.requestKey !== record.keyed.requestKey) {
      violate(`[ST4] duplicate of key ${record.keyed.requestKey} acknowledged at ${outcome.level} with ${tokenKey(outcome.token)}, but the committed entry there is ${entry ? entryText(entry) : 'unknown'}`)
    }
  }
  // [ST5] once settled, every cut entry's fate is decided (rolled back or back in the log).
  for (const sim of nodes.values()) {
    if (settled && sim.storage.rollbackCandidates.length > 0) {
      violate(`[ST5] ${sim.id} never decided cut entries ${sim.storage.rollbackCandidates.map(tokenKey).join(',')}`)
    }
  }
  // [ST1][RD1] majority writes and linearizable reads of registers form a linearizable history.
  const linearizability = registers.violation()
  if (linearizability !== null) violate(linearizability)
  // [ST4] every node shows the same state as the primary at the same LSN.
  const digests = new Set([...nodes.values()].map((s) => s.node?.digest()))
  if (settled && digests.size !== 1) violate(`[ST4] final digests differ: ${[...nodes.values()].map((s) => `${s.id}=${s.node?.digest()}`).join(' ')}`)
  // [ST3] a write whose primary is alive and settled got exactly one outcome, acknowledged or indeterminate.
  for (const sim of nodes.values()) {
    if (!sim.node) continue
    if (sim.node.status().pendingWrites > 0 && settled) violate(`[ST3] ${sim.id} still holds writes without an outcome`)
  }
  return { seed: options.seed, violations, log, stats }
}

/**
 * Cascading replicas: each member streams from an earlier one in a random order with probability 0.6
 * (so no cycle; chains and fan-outs both occur), and a third of the runs fall back to the primary
 * after 30 ms (flapping between relay and primary) or only after 140 ms (near the election timeout).
 */
function drawCascade(random: SimRandom, ids: readonly string[]): { replicateFrom: Record<string, string>; cascadeFallbackMs?: number } {
  const order = random.shuffle([...ids])
  const replicateFrom: Record<string, string> = {}
  for (let i = 1; i < order.length; i++) if (random.chance(0.6)) replicateFrom[order[i] as string] = order[random.int(0, i - 1)] as string
  const fallback = random.pick([undefined, undefined, 30, 140])
  return fallback === undefined ? { replicateFrom } : { replicateFrom, cascadeFallbackMs: fallback }
}

/**
 * [FO3] Random failover controls: priorities 1–3, fewer than a majority of members never primary (half
 * of them by priority 0, half by `noFailover`; with a majority of them no primary could ever be
 * elected), and sometimes a maxLagOnFailover of 0, 3 or 20 entries.
 */
function drawFailoverControls(random: SimRandom, ids: readonly string[], majority: number): FailoverControls {
  const priorities: Record<string, number> = {}
  for (const id of ids) priorities[id] = random.pick([1, 1, 2, 3])
  const never = random.shuffle([...ids]).slice(0, random.int(0, majority - 1))
  const noFailover: string[] = []
  for (const id of never) {
    if (random.chance(0.5)) priorities[id] = 0
    else noFailover.push(id)
  }
  return random.chance(0.5) ? { priorities, noFailover, maxLagOnFailover: random.pick([0, 3, 20]) } : { priorities, noFailover }
}

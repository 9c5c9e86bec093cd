import { HlcClock, type HlcClockOptions } from '../../core/clock/hlc.js'
import { decodeMessage, encodeMessage } from '../../core/codec/index.js'
import type { StoredDocumentState } from '../../core/codec/document-state.js'
import { MessageType, type Message, type RejectedMessage, type SkippedRange } from '../../core/codec/messages.js'
import { createReplica } from '../../core/crdt/index.js'
import { documentKey, MeshNode, type MeshClock, type MeshNodeOptions } from '../../core/mesh/index.js'
import type { AuthorRecord, Change, DocType, Hlc, RefusalRecord } from '../../core/types.js'
import { EventQueue } from './event-queue.js'
import { checkInvariants, sameChange, type CommitRecord } from './invariants.js'
import { SimRandom } from './random.js'
import { edgeKey, serverEdges, type Topology } from './topology.js'
import { randomEdit } from './workload.js'
import { ClientInterest } from '../../client/interest.js'

/** What the network and the machines may do to a run. Chosen from the seed unless given. */
export interface FaultProfile {
  readonly dropRate: number
  readonly duplicateRate: number
  readonly minDelayMs: number
  readonly maxDelayMs: number
  readonly partitions: boolean
  readonly crashes: boolean
  /** Bound of each node's wall-clock offset; jumps move it within ±this. Keep well below maxClockSkewMs. */
  readonly maxClockOffsetMs: number
  readonly clockJumps: boolean
  /** Chance that a group commit also stores a snapshot round of the changed documents. */
  readonly snapshotChance: number
  /**
   * Compact the log after each group commit [SG3]: 'members' by the rule (what every member holds
   * durably and the stored state covers), 'retention' as a retention bound would (whatever the stored
   * state covers, members or not: peers behind it need state transfers), 'off' never.
   */
  readonly compaction: 'off' | 'members' | 'retention'
  /** Chance that a crash comes in the middle of a snapshot round: some documents stored, the rest not. */
  readonly tornSnapshotChance: number
}

export interface SimOptions {
  readonly seed: number
  readonly docType: DocType
  readonly topology: Topology
  readonly servers?: number
  readonly clients?: number
  /** Scheduled operations (writes and faults) before the final heal. */
  readonly operations?: number
  readonly faults?: Partial<FaultProfile>
  readonly maxClockSkewMs?: number
  /** Sim time allowed from the final heal until convergence. */
  readonly convergenceBudgetMs?: number
  /**
   * Regions refuse clients' changes to one document by a rule of the change's content ([RW1], see
   * `refusedBySim`): refused changes must be applied by no region, and every client must end showing
   * what the regions show, having rolled its copy back ([RW2]).
   */
  readonly refuseClientChanges?: boolean
  /** Hooks that swap in a deliberately broken component (the simulator's own tests use them). */
  readonly createClock?: (options: HlcClockOptions) => MeshClock
  readonly createMesh?: (options: MeshNodeOptions) => MeshNode
}

export interface SimResult {
  readonly seed: number
  readonly violations: string[]
  readonly log: string[]
  readonly stats: {
    messages: number
    dropped: number
    duplicated: number
    commits: number
    crashes: number
    partitions: number
    convergenceMs: number | null
    /** Remote timestamps clamped for being too far ahead [HLC3], summed over the replicas' last lives. */
    clampedTimestamps: number
    /** Clients' changes regions refused ([RW1]), summed over the regions' last lives. */
    refusedChanges: number
  }
}

/** The rule regions refuse by with `refuseClientChanges`: about a third of the writes to document d1. */
export function refusedBySim(change: Change): boolean {
  if (change.docId !== 'd1') return false
  let sum = 0
  for (const byte of change.payload) sum = (sum * 31 + byte) % 1_000_003
  return sum % 3 === 0
}

/** Wall-clock origin of every run, so timestamps look like real ones. */
const BASE_WALL_MS = 1_700_000_000_000
const COLLECTION = 'sim'
const DOC_IDS = ['d0', 'd1', 'd2']
/** Group-commit intervals: a fast disk, and a slow one that leaves writes unsynced for a while. */
const FLUSH_INTERVAL_CHOICES_MS = [5, 20, 40, 150, 300]
const ANTI_ENTROPY_INTERVAL_MS = 150

function defaultFaults(random: SimRandom): FaultProfile {
  return {
    dropRate: random.pick([0, 0, 0.02, 0.1]),
    duplicateRate: random.pick([0, 0.05, 0.2]),
    minDelayMs: 1,
    maxDelayMs: random.pick([5, 30, 120]),
    partitions: random.chance(0.7),
    crashes: random.chance(0.7),
    maxClockOffsetMs: random.pick([0, 50, 2_000]),
    clockJumps: random.chance(0.6),
    snapshotChance: random.pick([0.05, 0.2, 0.5]),
    compaction: random.pick(['off', 'members', 'retention', 'retention'] as const),
    tornSnapshotChance: random.pick([0, 0.5]),
  }
}

/** What a replica's disk holds: the log's durable tail and the last snapshot round's documents. */
interface Stored {
  changes: Change[]
  documents: Map<string, StoredDocumentState>
  /** What the last finished snapshot round covered, and the author table at that instant. */
  vector: Map<string, number>
  authors: AuthorRecord[]
  /** Refusals not yet told, as a region's snapshot round stores them beside the author table. */
  refusals: RefusalRecord[]
  /** The clock's high-water mark when `vector` was taken (as the client's store keeps it). */
  clock?: Hlc
}

interface Replica {
  readonly id: string
  readonly kind: 'server' | 'client'
  home: string
  offsetMs: number
  stored: Stored
  pending: Change[]
  /** A state transfer moved the vector: the next group commit must store a snapshot round first. */
  stateCovered: boolean
  mesh: MeshNode | null
  /** A restarted replica dials its peers only from this sim time on; it may write before that. */
  reconnectAt: number
  incarnation: number
  appliedCount: Map<string, number>
  /** A client's open documents (partial replication), kept across its restarts like an app's. */
  readonly open: Set<string>
  /** Runs of seqs regions skipped for a client, over all its incarnations (see CommitRecord.skipped). */
  readonly skipped: SkippedRange[]
  /** A client's interest in this incarnation, and the releases of its open documents. */
  interest: ClientInterest | null
  releases: Map<string, () => void>
}

/**
 * Runs one seeded schedule of writes and faults over real core state machines (MeshNode, HLC,
 * codec, document replicas), then heals everything and checks the crdt rules. Same seed and
 * options, same run: every choice comes from `SimRandom`, every delay from the event queue.
 */
export function runSimulation(options: SimOptions): SimResult {
  const random = new SimRandom(options.seed)
  const faults: FaultProfile = { ...defaultFaults(random.fork()), ...options.faults }
  const workloadRandom = random.fork()
  const netRandom = random.fork()
  const queue = new EventQueue()
  const log: string[] = []
  const stats: SimResult['stats'] = {
    messages: 0,
    dropped: 0,
    duplicated: 0,
    commits: 0,
    crashes: 0,
    partitions: 0,
    convergenceMs: null,
    clampedTimestamps: 0,
    refusedChanges: 0,
  }
  const violations: string[] = []
  const commits: CommitRecord[] = []
  const everDurable = new Map<string, Change>()
  /** Unsynced changes that survived a crash inside a document stored by a torn snapshot round. */
  const ghosts = new Map<string, Change>()
  /** Own seqs lost unsynced in a torn round, which a surviving later own change may have claimed. */
  const burnt = new Set<string>()
  const say = (line: string): void => {
    log.push(`t=${queue.now} ${line}`)
  }
  const makeClock = options.createClock ?? ((o: HlcClockOptions) => new HlcClock(o))
  const makeMesh = options.createMesh ?? ((o: MeshNodeOptions) => new MeshNode(o))

  const serverIds = Array.from({ length: options.servers ?? 3 }, (_, i) => `s${i}`)
  const clientIds = Array.from({ length: options.clients ?? 2 }, (_, i) => `c${i}`)
  const replicas = new Map<string, Replica>()
  for (const id of [...serverIds, ...clientIds]) {
    const kind = id.startsWith('s') ? 'server' : 'client'
    const home = kind === 'server' ? id : (serverIds[Number(id.slice(1)) % serverIds.length] as string)
    const stored: Stored = { changes: [], documents: new Map(), vector: new Map(), authors: [], refusals: [] }
    replicas.set(id, {
      id,
      kind,
      home,
      offsetMs: 0,
      stored,
      pending: [],
      stateCovered: false,
      mesh: null,
      reconnectAt: 0,
      incarnation: 0,
      appliedCount: new Map(),
      open: new Set(kind === 'client' ? workloadRandom.shuffle([...DOC_IDS]).slice(0, 2) : []),
      interest: null,
      releases: new Map(),
      skipped: [],
    })
  }
  const get = (id: string): Replica => replicas.get(id) as Replica
  const members: ReadonlySet<string> = new Set(serverIds)
  const staticEdges = serverEdges(options.topology, serverIds)
  const edges = (): [string, string][] => [...staticEdges, ...clientIds.map((c): [string, string] => [c, get(c).home])]

  // Partition groups: a replica's group is its home server's. Same group (or none) = reachable.
  const group = new Map<string, number>()
  const reachable = (a: string, b: string): boolean =>
    (group.get(get(a).home) ?? 0) === (group.get(get(b).home) ?? 0)
  const linkGen = new Map<string, number>()
  const linkUp = new Set<string>()

  const send = (from: string, to: string, message: Message): void => {
    const key = edgeKey(from, to)
    const gen = linkGen.get(key) ?? 0
    const bytes = encodeMessage(message)
    stats.messages += 1
    // A region forgets a refusal it told once the client's position passes its entry, relying on what a
    // WebSocket session gives: frames arrive in order, and one is lost only with its connection and
    // everything after it. The random drops and delays here reorder and lose frames one by one (which
    // the anti-entropy rounds repair), so `Rejected` is spared them: never dropped alone, and delivered
    // before anything sent after it.
    const inOrder = message.type === MessageType.Rejected
    if (!linkUp.has(key) || (netRandom.chance(faults.dropRate) && !inOrder)) {
      stats.dropped += 1
      return
    }
    const copies = netRandom.chance(faults.duplicateRate) ? 2 : 1
    if (copies === 2) stats.duplicated += 1
    for (let i = 0; i < copies; i++) {
      const delayMs = netRandom.int(faults.minDelayMs, faults.maxDelayMs)
      queue.schedule(inOrder ? 0 : delayMs, () => {
        // A connection that broke loses what was in flight on it, like a TCP stream does.
        if (linkGen.get(key) !== gen || !linkUp.has(key)) return
        const message = decodeMessage(bytes)
        if (message.type === MessageType.Skipped) get(to).skipped.push(...message.ranges)
        get(to).mesh?.receive(from, message)
      })
    }
  }

  const dialled = (replica: Replica): boolean => replica.mesh !== null && queue.now >= replica.reconnectAt

  const refreshLinks = (): void => {
    const wanted = new Set<string>()
    for (const [a, b] of edges()) {
      if (dialled(get(a)) && dialled(get(b)) && reachable(a, b)) wanted.add(edgeKey(a, b))
    }
    const all = new Map<string, [string, string]>()
    for (const [a, b] of edges()) all.set(edgeKey(a, b), [a, b])
    for (const key of [...linkUp]) {
      if (wanted.has(key)) continue
      linkUp.delete(key)
      linkGen.set(key, (linkGen.get(key) ?? 0) + 1)
      const [a, b] = key.split('|') as [string, string]
      get(a).mesh?.disconnect(b)
      get(b).mesh?.disconnect(a)
      say(`link down ${key}`)
    }
    for (const key of wanted) {
      if (linkUp.has(key)) continue
      const [a, b] = all.get(key) as [string, string]
      linkUp.add(key)
      linkGen.set(key, (linkGen.get(key) ?? 0) + 1)
      say(`link up ${key}`)
      get(a).mesh?.connect(b)
      get(b).mesh?.connect(a)
    }
  }

  /** A client opens (syncs) or closes a document; its region is told at once. */
  const setOpen = (replica: Replica, docId: string, open: boolean): void => {
    if (open) replica.open.add(docId)
    else replica.open.delete(docId)
    const interest = replica.interest
    if (interest === null) return
    if (open && !replica.releases.has(docId)) replica.releases.set(docId, interest.openDocument(COLLECTION, docId))
    if (!open) {
      replica.releases.get(docId)?.()
      replica.releases.delete(docId)
    }
    replica.mesh?.resubscribe()
  }

  const boot = (replica: Replica): void => {
    replica.incarnation += 1
    replica.appliedCount = new Map()
    // A client restarts knowing what the app opens, not what its position had synced (client/interest.ts).
    const interest = replica.kind === 'client' ? new ClientInterest(() => {}, () => (replica.mesh?.hasBuffered ?? false) || [...(replica.mesh?.vector.keys() ?? [])].some((o) => o !== replica.id)) : null
    replica.interest = interest
    replica.releases = new Map()
    if (interest !== null) for (const docId of replica.open) replica.releases.set(docId, interest.openDocument(COLLECTION, docId))
    const wallClock = (): number => BASE_WALL_MS + queue.now + replica.offsetMs
    const mesh = makeMesh({
      id: replica.id,
      clock: makeClock({ node: replica.id, wallClock, ...(options.maxClockSkewMs ? { maxClockSkewMs: options.maxClockSkewMs } : {}) }),
      random: () => workloadRandom.next(),
      createReplica,
      send: (peer, message) => send(replica.id, peer, message),
      onAppend: (change) => replica.pending.push(change),
      onApplied: (change) => {
        const id = `${change.origin}:${change.seq}`
        replica.appliedCount.set(id, (replica.appliedCount.get(id) ?? 0) + 1)
        if (options.refuseClientChanges && replica.kind === 'server' && change.author !== undefined && refusedBySim(change)) {
          violations.push(`[RW1] ${replica.id} applied ${id}, a change of ${change.author.origin}:${change.author.seq} it should have refused`)
        }
      },
      onStateCovered: () => {
        replica.stateCovered = true
      },
      ackGossipMembers: members,
      // As the real client: it never sends state transfers, so it compacts only by the rule, and it
      // sends regions only its own changes, which they log with it as author.
      sendsStateTransfers: replica.kind === 'server',
      ownChangesOnly: replica.kind === 'client',
      ...(options.refuseClientChanges && replica.kind === 'server'
        ? {
            admitClientChange: (client: string, change: Change) => {
              if (!refusedBySim(change)) return null
              say(`${replica.id} refuses ${client} #${change.seq} to ${change.docId}`)
              return { code: 'FORBIDDEN' as const, message: 'refused by the simulation' }
            },
          }
        : {}),
      ...(replica.kind === 'client'
        ? {
            onChangeRefused: (message: RejectedMessage, voided: readonly Change[]) => {
              say(`${replica.id} told: its #${message.seqs.join(', #')} to ${message.docId} refused`)
              persistRefusal(replica, voided)
            },
            onRefetch: (collection: string, docId: string) => {
              interest?.refetch(collection, docId)
              replica.mesh?.resubscribe()
            },
          }
        : {}),
      ...(interest === null
        ? {}
        : { subscription: (_peer: string, connecting: boolean) => interest.subscription(connecting), onFetched: (fetch: number, complete: boolean) => interest.fetched(fetch, complete) }),
    })
    mesh.restoreDocuments(replica.stored.documents.values(), replica.stored.vector, replica.stored.authors, replica.stored.clock, replica.stored.refusals)
    mesh.restore(replica.stored.changes)
    mesh.finishRestore()
    replica.stateCovered = false
    replica.mesh = mesh
  }

  /** Stores every document changed since the last round, and what they now cover. */
  const snapshot = (replica: Replica, mesh: MeshNode): void => {
    for (const key of mesh.takeChangedDocuments()) {
      const document = mesh.storedDocument(key)
      // Gone after a refused write rolled it back [RW2]: forgotten, as the client's store does.
      if (document) replica.stored.documents.set(key, document)
      else replica.stored.documents.delete(key)
    }
    replica.stored.vector = new Map(mesh.vector)
    replica.stored.clock = mesh.clockHighWater
    replica.stored.authors = mesh.authors.records()
    replica.stored.refusals = mesh.refusalRecords()
    if (replica.kind === 'client') {
      // A client sends no state transfers: its own changes count as covered only once a server holds
      // them durably; the others stay in its log (its outbox) to be sent as changes.
      let atServer = 0
      for (const server of serverIds) atServer = Math.max(atServer, mesh.durableOf(server)?.get(replica.id) ?? 0)
      replica.stored.vector.set(replica.id, Math.min(mesh.vector.get(replica.id) ?? 0, atServer))
    }
  }

  /** Drops what [SG3] allows from the log in memory and on disk. */
  const compact = (replica: Replica, mesh: MeshNode): void => {
    if (faults.compaction === 'off') return
    const byRule = faults.compaction === 'members' || replica.kind === 'client'
    const upTo = byRule ? mesh.prunePoint(replica.stored.vector) : new Map(replica.stored.vector)
    if (mesh.compact(upTo) === 0) return
    replica.stored.changes = replica.stored.changes.filter((change) => change.seq > (upTo.get(change.origin) ?? 0))
  }

  /**
   * As the real client does on `Rejected` (client.ts `refused`): the void entry takes the original's
   * place in the store, and the rebuilt documents are saved at once, with the pending changes.
   */
  const persistRefusal = (replica: Replica, voided: readonly Change[]): void => {
    const bySeq = new Map(voided.map((entry) => [entry.seq, entry]))
    const swap = (change: Change): Change => (change.origin === replica.id ? (bySeq.get(change.seq) ?? change) : change)
    replica.stored.changes = replica.stored.changes.map(swap)
    replica.pending = replica.pending.map(swap)
    replica.stateCovered = true
    flush(replica)
  }

  /** One group commit: the pending changes (and sometimes a snapshot round) become durable together. */
  const flush = (replica: Replica): void => {
    const mesh = replica.mesh
    if (!mesh) return
    const snapshotDue = replica.stateCovered || (faults.compaction !== 'off' && netRandom.chance(faults.snapshotChance))
    if (replica.pending.length === 0 && !snapshotDue) return
    for (const change of replica.pending) {
      replica.stored.changes.push(change)
      const id = `${change.origin}:${change.seq}`
      const before = everDurable.get(id)
      if (before && !sameChange(before, change)) violations.push(`[CV1] ${id} was durable with two different contents: the id was reused`)
      everDurable.set(id, change)
    }
    replica.pending = []
    if (snapshotDue) snapshot(replica, mesh)
    replica.stateCovered = false
    mesh.markDurable(new Map(mesh.vector))
    compact(replica, mesh)
  }

  let stopped = false
  const every = (intervalMs: number, run: () => void): void => queue.every(intervalMs, run, () => stopped)

  for (const replica of replicas.values()) {
    boot(replica)
    every(netRandom.pick(FLUSH_INTERVAL_CHOICES_MS), () => flush(replica))
    every(ANTI_ENTROPY_INTERVAL_MS + netRandom.int(0, 20), () => replica.mesh?.antiEntropy())
  }
  refreshLinks()

  const recent: { writer: Replica | null } = { writer: null }
  const write = (replica: Replica): void => {
    const mesh = replica.mesh
    if (!mesh) return
    const docId = workloadRandom.pick(DOC_IDS)
    const seen = new Map(mesh.vector)
    const ranges = [...replica.skipped]
    const skipped = (origin: string, seq: number): boolean => ranges.some((r) => r.origin === origin && r.from <= seq && seq <= r.to)
    const { payload, description } = randomEdit(options.docType, mesh.replica(COLLECTION, docId, options.docType), workloadRandom)
    const change = mesh.commit(COLLECTION, docId, options.docType, payload)
    commits.push({ change, seen, skipped })
    recent.writer = replica
    stats.commits += 1
    say(`write ${replica.id} ${docId} #${change.seq} ${description}`)
  }

  const crash = (victim: Replica): void => {
    const mesh = victim.mesh
    // Only a server's storage tears (its blobs and its log are separate files); a client's store keeps a
    // prefix of its calls, so a stored document never holds an own change its outbox lost.
    if (mesh && victim.kind === 'server' && netRandom.chance(faults.tornSnapshotChance)) {
      // Died in the middle of a snapshot round: some documents reached the disk (holding changes the
      // log never got), the round's vector did not.
      const keys = mesh.takeChangedDocuments().filter(() => netRandom.chance(0.5))
      for (const key of keys) {
        const document = mesh.storedDocument(key)
        if (document) victim.stored.documents.set(key, document)
      }
      // Unsynced changes live on in the documents that reached the disk; the others are lost, but a
      // lost own change may have burnt its seq (a later own change in a stored document claims it).
      const stored = new Set(keys)
      for (const change of victim.pending) {
        const id = `${change.origin}:${change.seq}`
        if (stored.has(documentKey(change.collection, change.docId))) ghosts.set(id, change)
        else if (change.origin === victim.id) burnt.add(id)
      }
      say(`crash ${victim.id} tears a snapshot round: ${keys.length} documents stored`)
    }
    say(`crash ${victim.id} (loses ${victim.pending.length} unsynced changes)`)
    victim.pending = []
    victim.mesh = null
    stats.crashes += 1
    refreshLinks()
  }

  const restart = (revived: Replica): void => {
    boot(revived)
    const dialDelayMs = workloadRandom.pick([0, 20, 150, 300])
    revived.reconnectAt = queue.now + dialDelayMs
    say(`restart ${revived.id} from ${revived.stored.documents.size} stored documents and ${revived.stored.changes.length} durable changes, dialling peers in ${dialDelayMs}ms`)
    queue.schedule(dialDelayMs, refreshLinks)
    // Writing before the peers are back is the case where a reused seq would surface.
    if (dialDelayMs > 0 && workloadRandom.chance(0.75)) write(revived)
  }

  const operationCount = options.operations ?? 60
  let time = 0
  for (let i = 0; i < operationCount; i++) {
    time += workloadRandom.int(1, 40)
    queue.runUntil(time)
    const roll = workloadRandom.next()
    const alive = [...replicas.values()].filter((r) => r.mesh)
    const crashed = [...replicas.values()].filter((r) => !r.mesh)
    if (roll < 0.62 && alive.length > 0) {
      write(workloadRandom.pick(alive))
    } else if (roll < 0.7 && faults.partitions) {
      group.clear()
      for (const s of serverIds) group.set(s, workloadRandom.int(0, 1))
      stats.partitions += 1
      say(`partition ${serverIds.map((s) => `${s}:${group.get(s)}`).join(' ')}`)
      refreshLinks()
    } else if (roll < 0.76 && faults.partitions) {
      group.clear()
      say('heal')
      refreshLinks()
    } else if (roll < 0.81 && faults.crashes && alive.length > 0) {
      // Half the crashes hit the last writer, likely before its write was fsynced: the interesting case.
      const last = recent.writer
      const victim = last?.mesh && workloadRandom.chance(0.5) ? last : workloadRandom.pick(alive)
      crash(victim)
      // Some processes are restarted by their supervisor at once.
      if (workloadRandom.chance(0.4)) restart(victim)
    } else if (roll < 0.88 && crashed.length > 0) {
      restart(workloadRandom.pick(crashed))
    } else if (roll < 0.94 && faults.clockJumps) {
      const replica = workloadRandom.pick([...replicas.values()])
      const bound = faults.maxClockOffsetMs
      replica.offsetMs = Math.max(-bound, Math.min(bound, replica.offsetMs + workloadRandom.int(-bound, bound)))
      say(`clock ${replica.id} offset ${replica.offsetMs}ms`)
    } else if (clientIds.length > 0 && workloadRandom.chance(0.5)) {
      const client = get(workloadRandom.pick(clientIds))
      client.home = workloadRandom.pick(serverIds)
      say(`client ${client.id} moves to ${client.home}`)
      refreshLinks()
    } else if (clientIds.length > 0) {
      const client = get(workloadRandom.pick(clientIds))
      const docId = workloadRandom.pick(DOC_IDS)
      const open = !client.open.has(docId)
      say(`client ${client.id} ${open ? 'opens' : 'closes'} ${docId}`)
      setOpen(client, docId, open)
    }
  }

  // Heal everything, stop injecting network faults, and let anti-entropy finish the job [CV2].
  const healedAt = time
  group.clear()
  for (const replica of replicas.values()) {
    if (!replica.mesh) boot(replica)
    replica.reconnectAt = 0
  }
  // Every client opens every document, so all replicas must end up showing the same documents.
  for (const id of clientIds) for (const docId of DOC_IDS) if (!get(id).open.has(docId)) setOpen(get(id), docId, true)
  say('final heal: all partitions healed, all replicas restarted, every document open, no more drops')
  const calm = { ...faults, dropRate: 0, duplicateRate: 0 }
  Object.assign(faults, calm)
  refreshLinks()
  const budget = options.convergenceBudgetMs ?? 20_000
  const converged = (): boolean => {
    const all = [...replicas.values()]
    const first = all[0]?.mesh
    if (!first) return false
    // Every replica holds the same of every region, and every region holds each client's own writes.
    const regionsOnly = (mesh: MeshNode): Map<string, number> => new Map([...mesh.vector].filter(([origin]) => !clientIds.includes(origin)))
    const reference = regionsOnly(first)
    return all.every(
      (r) =>
        r.mesh &&
        r.pending.length === 0 &&
        sameVector(regionsOnly(r.mesh), reference) &&
        (r.kind === 'server' || shownViews(r.mesh) === shownViews(first)) &&
        (r.kind === 'server' || serverIds.every((s) => (get(s).mesh?.acceptedFrom(r.id) ?? 0) >= (r.mesh?.vector.get(r.id) ?? 0))),
    )
  }
  while (queue.now < healedAt + budget) {
    queue.runUntil(queue.now + 50)
    if (converged()) {
      stats.convergenceMs = queue.now - healedAt
      break
    }
  }
  stopped = true
  for (const replica of replicas.values()) stats.clampedTimestamps += replica.mesh?.stats.clampedTimestamps ?? 0
  for (const replica of replicas.values()) if (replica.kind === 'server') stats.refusedChanges += replica.mesh?.stats.refusedChanges ?? 0
  say(stats.convergenceMs === null ? 'did not converge' : `converged after ${stats.convergenceMs}ms`)

  violations.push(
    ...checkInvariants({
      replicas: [...replicas.values()].map((r) => ({ id: r.id, mesh: r.mesh as MeshNode, appliedCount: r.appliedCount })),
      commits,
      everDurable,
      survivors: new Map([...ghosts, ...everDurable]),
      burnt,
      converged: stats.convergenceMs !== null,
      shuffle: random.fork(),
    }),
  )
  return { seed: options.seed, violations, log, stats }
}

function sameVector(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  for (const [k, v] of a) if ((b.get(k) ?? 0) !== v) return false
  for (const [k, v] of b) if ((a.get(k) ?? 0) !== v) return false
  return true
}

/** The documents a replica shows (those that exist), canonically. */
function shownViews(mesh: MeshNode): string {
  return JSON.stringify([...mesh.views()].filter(([, view]) => view !== null))
}

import type { ServerConfig, StorageKind } from './config.js'
import { vectorToJson } from './json.js'
import type { PeerMetrics } from './metrics.js'
import type { PeerLinks, PeerLinkState } from './peer-links.js'
import { vectorToken } from './region/types.js'
import type { RegionNode } from './region-node.js'
import type { StrictHost } from './strict/strict-host.js'
import { strictStatus, type StrictStatusBody } from './strict/strict-status.js'

/** One peer in `GET /status` (docs/server.md). */
export interface PeerStatus {
  readonly nodeId: string
  readonly region: string
  readonly url: string
  readonly httpUrl: string
  readonly state: PeerLinkState
  readonly lagEntries: number
  readonly lagBytes: number
  readonly lagMs: number | null
  readonly sentChanges: number
  readonly receivedChanges: number
  /** Milliseconds since a frame or pong last arrived from the peer; null if never. */
  readonly lastHeardMs: number | null
}

/**
 * The body of `GET /status`. `role`, `epoch`, `primary` and `commitIndex` are strict mode's (role
 * `crdt` and nulls on a node without strict collections); `strict` holds the details.
 */
export interface ServerStatus {
  readonly nodeId: string
  readonly region: string
  readonly role: 'crdt' | StrictStatusBody['role']
  readonly pid: number
  readonly uptimeMs: number
  readonly epoch: number | null
  readonly primary: string | null
  readonly commitIndex: number | null
  readonly strict: StrictStatusBody | null
  readonly vector: Record<string, number>
  readonly durableVector: Record<string, number>
  readonly replicatedVector: Record<string, number>
  /** Changes the log holds (its tail), and documents held as state. */
  readonly changes: number
  readonly documents: number
  readonly clients: number
  readonly peers: PeerStatus[]
  /**
   * Per crdt collection: its state digest (16 hex digits), documents, and the vector (and its token) the
   * digest was computed at. Equal vectors with different digests: DIVERGED (docs/crdt.md "Divergence digest").
   */
  readonly collections: Record<string, CollectionStatus>
  /** Log records on disk (the tail), snapshot rounds and changes compacted since start (docs/server.md). */
  readonly storage: {
    readonly kind: StorageKind
    readonly logRecords: number
    readonly snapshotRounds: number
    readonly compactedChanges: number
    /** State transfers sent to peers and clients behind the log, and received from peers [SG3]. */
    readonly stateTransfersSent: number
    readonly stateTransfersReceived: number
  }
}

/** One crdt collection in `GET /status` (docs/server.md). */
export interface CollectionStatus {
  readonly type: string
  readonly digest: string
  readonly documents: number
  readonly vector: Record<string, number>
  readonly token: string
}

/** Every crdt collection's digest, all read at the same vector. */
export function collectionStatuses(node: RegionNode): Record<string, CollectionStatus> {
  const { vector, collections } = node.collectionDigests()
  const json = vectorToJson(vector)
  const token = vectorToken(vector)
  const out: Record<string, CollectionStatus> = {}
  for (const [name, c] of collections) out[name] = { type: c.type, digest: c.digest, documents: c.documents, vector: json, token }
  return out
}

export interface StatusSources {
  readonly config: ServerConfig
  readonly node: RegionNode
  readonly links: PeerLinks
  readonly strict?: StrictHost | null
  readonly storageKind: StorageKind
  readonly startedAt: number
  readonly now?: () => number
}

export function peerStatuses(sources: StatusSources): PeerStatus[] {
  const now = (sources.now ?? Date.now)()
  return sources.links.snapshot().map(({ peer, state, lastHeardAt }) => {
    const lag = sources.node.lagOf(peer.nodeId)
    const counters = sources.node.counters(peer.nodeId)
    return {
      nodeId: peer.nodeId,
      region: peer.region,
      url: peer.url,
      httpUrl: peer.httpUrl,
      state,
      lagEntries: lag.entries,
      lagBytes: lag.bytes,
      lagMs: lag.ms,
      sentChanges: counters.sentChanges,
      receivedChanges: counters.receivedChanges,
      lastHeardMs: lastHeardAt === null ? null : Math.max(0, now - lastHeardAt),
    }
  })
}

export function buildStatus(sources: StatusSources): ServerStatus {
  const { config, node } = sources
  const now = (sources.now ?? Date.now)()
  const strict = sources.strict ? strictStatus(sources.strict, (peer) => sources.links.isConnected(peer), performance.now()) : null
  return {
    nodeId: config.nodeId,
    region: config.region,
    role: strict?.role ?? 'crdt',
    pid: process.pid,
    uptimeMs: Math.max(0, now - sources.startedAt),
    epoch: strict?.epoch ?? null,
    primary: strict?.primary ?? null,
    commitIndex: strict?.commitIndex ?? null,
    strict,
    vector: vectorToJson(node.mesh.vector),
    durableVector: vectorToJson(node.mesh.durableVector),
    replicatedVector: vectorToJson(node.replicatedVector),
    changes: node.mesh.changeCount,
    documents: node.mesh.documentCount,
    clients: node.clients,
    peers: peerStatuses(sources),
    collections: collectionStatuses(node),
    storage: {
      kind: sources.storageKind,
      logRecords: node.logRecords,
      snapshotRounds: node.snapshots.stats.rounds,
      compactedChanges: node.snapshots.stats.changesCompacted,
      stateTransfersSent: node.mesh.stats.stateTransfersSent,
      stateTransfersReceived: node.mesh.stats.stateTransfersReceived,
    },
  }
}

/** Per-peer numbers for the metrics gauges. */
export function peerMetrics(sources: StatusSources): PeerMetrics[] {
  return peerStatuses(sources).map((peer) => ({
    nodeId: peer.nodeId,
    connected: peer.state === 'connected',
    lagEntries: peer.lagEntries,
    lagBytes: peer.lagBytes,
    lagMs: peer.lagMs,
  }))
}

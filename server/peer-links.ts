import WebSocket from 'ws'
import { CloseCode, MessageType, PROTOCOL_VERSION, closeCodeName, type Message } from '../core/codec/index.js'
import type { PeerConfig, ServerConfig } from './config.js'
import { ServerConnection } from './connection.js'
import type { Logger } from './logger.js'
import type { ServerMetrics } from './metrics.js'
import type { RegionNode } from './region-node.js'
import { routeEstablished } from './session.js'
import type { StrictHost } from './strict/strict-host.js'

/** `connecting`: a dial (or the first inbound link) is pending; `connected`: handshake done; `down`: lost. */
export type PeerLinkState = 'connecting' | 'connected' | 'down'

/** How long the WebSocket opening handshake of a dial may take. */
const DIAL_TIMEOUT_MS = 5_000

export interface PeerLinkSnapshot {
  readonly peer: PeerConfig
  readonly state: PeerLinkState
  /** True when this node dials the peer (smaller nodeId); false when it waits to be dialled. */
  readonly dials: boolean
  /** When a frame or pong last arrived from the peer (epoch ms), null if never. */
  readonly lastHeardAt: number | null
  /** The last reason a link failed (close code name and message), null if none. */
  readonly lastError: string | null
}

interface LinkEntry {
  readonly peer: PeerConfig
  readonly dials: boolean
  state: PeerLinkState
  connection: ServerConnection | null
  lastHeardAt: number | null
  lastError: string | null
  attempts: number
  timer: NodeJS.Timeout | null
}

export interface PeerLinksOptions {
  readonly config: ServerConfig
  readonly node: RegionNode
  readonly metrics: ServerMetrics
  readonly logger: Logger
  /** Every live connection, for shutdown. */
  readonly track: (connection: ServerConnection) => () => void
  readonly random?: () => number
  readonly strict?: () => StrictHost | null
}

/**
 * Jittered exponential backoff: attempt n waits a random time in [d/2, d], d = min(max, min·2ⁿ),
 * never less than `minDelayMs`, so many nodes restarting together do not redial in lockstep.
 */
export function backoffDelayMs(attempt: number, minDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30))
  return Math.max(minDelayMs, Math.round(ceiling / 2 + (random() * ceiling) / 2))
}

/**
 * The links to this node's configured peers. Of two neighbours the one with the smaller nodeId dials
 * `/peer`, handshakes as role `peer` with `peerSecret`, attaches the link to the mesh, and redials with
 * jittered exponential backoff when it drops. Links accepted on /peer report here too, so the state
 * of every peer is tracked in one place.
 */
export class PeerLinks {
  private readonly entries = new Map<string, LinkEntry>()
  private readonly options: PeerLinksOptions
  private readonly random: () => number
  private stopped = false

  constructor(options: PeerLinksOptions) {
    this.options = options
    this.random = options.random ?? Math.random
    const self = options.config.nodeId
    for (const peer of options.config.peers) {
      this.entries.set(peer.nodeId, {
        peer,
        dials: self < peer.nodeId,
        state: 'connecting',
        connection: null,
        lastHeardAt: null,
        lastError: null,
        attempts: 0,
        timer: null,
      })
    }
  }

  /** Starts dialling every peer with a larger nodeId. */
  start(): void {
    for (const entry of this.entries.values()) if (entry.dials) this.dial(entry)
  }

  /** Stops redialling; closes dialled links with SHUTTING_DOWN. */
  stop(): void {
    this.stopped = true
    for (const entry of this.entries.values()) {
      if (entry.timer !== null) clearTimeout(entry.timer)
      entry.timer = null
      entry.connection?.close(CloseCode.SHUTTING_DOWN, 'the node is shutting down')
    }
  }

  snapshot(): PeerLinkSnapshot[] {
    return [...this.entries.values()].map((entry) => ({
      peer: entry.peer,
      state: entry.state,
      dials: entry.dials,
      // A dial in progress has a connection object but has heard nothing yet.
      lastHeardAt: entry.state === 'connected' && entry.connection !== null ? entry.connection.lastHeardAt : entry.lastHeardAt,
      lastError: entry.lastError,
    }))
  }

  /** Called whenever the link to a peer drops (either direction). */
  onPeerDown: ((peerId: string) => void) | null = null

  /** Sends a frame to a peer; false when it is not connected. */
  send(peerId: string, message: Message): boolean {
    const entry = this.entries.get(peerId)
    if (entry === undefined || entry.state !== 'connected' || entry.connection === null) return false
    entry.connection.sendMessage(message)
    return true
  }

  isConnected(peerId: string): boolean {
    return this.entries.get(peerId)?.state === 'connected'
  }

  stateOf(peerId: string): PeerLinkState | undefined {
    return this.entries.get(peerId)?.state
  }

  /** A peer's handshake on /peer was accepted. */
  inboundUp(peerId: string, connection: ServerConnection): void {
    const entry = this.entries.get(peerId)
    if (entry === undefined) return
    entry.connection = connection
    entry.state = 'connected'
    entry.lastError = null
    this.options.logger.info(`peer ${peerId} connected (inbound)`)
  }

  inboundDown(peerId: string, connection: ServerConnection): void {
    const entry = this.entries.get(peerId)
    if (entry === undefined || entry.connection !== connection) return
    entry.lastHeardAt = connection.lastHeardAt
    entry.connection = null
    entry.state = 'down'
    this.options.logger.info(`peer ${peerId} disconnected (inbound)`)
    this.onPeerDown?.(peerId)
  }

  private dial(entry: LinkEntry): void {
    if (this.stopped) return
    const { config, node, metrics, logger } = this.options
    const peerId = entry.peer.nodeId
    entry.state = 'connecting'
    let ws: WebSocket
    try {
      ws = new WebSocket(entry.peer.url, {
        maxPayload: config.maxFrameBytes,
        perMessageDeflate: false,
        handshakeTimeout: DIAL_TIMEOUT_MS,
      })
    } catch (err) {
      entry.lastError = `cannot dial ${entry.peer.url}: ${String(err)}`
      this.scheduleRedial(entry)
      return
    }
    const connection = new ServerConnection({
      ws,
      kind: 'peer',
      label: `peer ${peerId} (${entry.peer.url})`,
      maxFrameBytes: config.maxFrameBytes,
      maxSendBufferBytes: config.maxSendBufferBytes,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      metrics,
      logger,
    })
    const untrack = this.options.track(connection)
    entry.connection = connection
    let accepted = false
    ws.on('open', () => {
      connection.sendMessage({
        type: MessageType.Handshake,
        protocolVersion: PROTOCOL_VERSION,
        role: 'peer',
        identity: config.nodeId,
        region: config.region,
        credentials: config.peerSecret,
      })
    })
    connection.onMessage = (message) => {
      if (accepted) {
        routeEstablished(node, peerId, connection, message, logger, { host: this.options.strict ?? (() => null), config, kind: 'peer' })
        return
      }
      if (message.type === MessageType.Error) {
        entry.lastError = `${message.code}: ${message.message}`
        return
      }
      if (message.type !== MessageType.HandshakeAccept) {
        connection.reject('BAD_FRAME', CloseCode.BAD_FRAME, 'expected HandshakeAccept')
        return
      }
      if (message.identity !== peerId) {
        connection.reject('FORBIDDEN', CloseCode.FORBIDDEN, `dialled ${peerId} but reached ${message.identity}`)
        return
      }
      accepted = true
      connection.handshakeComplete()
      entry.state = 'connected'
      entry.attempts = 0
      entry.lastError = null
      node.attach(peerId, 'peer', connection)
      logger.info(`peer ${peerId} connected`)
    }
    connection.onClose = (code, reason) => {
      untrack()
      if (accepted) node.detach(peerId, connection)
      if (entry.connection !== connection) return
      entry.lastHeardAt = accepted ? connection.lastHeardAt : entry.lastHeardAt
      entry.connection = null
      entry.state = 'down'
      if (accepted) this.onPeerDown?.(peerId)
      if (!accepted) {
        const why = connection.lastError ?? `${closeCodeName(code) ?? code} ${reason}`.trim()
        // Say it once per outage, not at every retry.
        if (entry.attempts === 0) logger.warn(`cannot link to peer ${peerId} at ${entry.peer.url}: ${why}; retrying with backoff`)
        if (entry.lastError === null || connection.lastError !== null) entry.lastError = why
      } else {
        logger.info(`peer ${peerId} disconnected: ${closeCodeName(code) ?? code} ${reason}`.trim())
      }
      this.scheduleRedial(entry)
    }
  }

  private scheduleRedial(entry: LinkEntry): void {
    if (this.stopped || entry.timer !== null) return
    const { minDelayMs, maxDelayMs } = this.options.config.reconnect
    const delay = backoffDelayMs(entry.attempts, minDelayMs, maxDelayMs, this.random)
    entry.attempts += 1
    entry.timer = setTimeout(() => {
      entry.timer = null
      // An inbound link from the same peer may have come up meanwhile.
      if (entry.connection === null) this.dial(entry)
    }, delay)
    entry.timer.unref()
  }
}

import type WebSocket from 'ws'
import { CloseCode, MessageType, PROTOCOL_VERSION, type HandshakeMessage, type Message } from '../core/codec/index.js'
import type { ServerConfig } from './config.js'
import { ServerConnection } from './connection.js'
import type { Logger } from './logger.js'
import type { RejectReason, ServerMetrics } from './metrics.js'
import type { RegionNode } from './region-node.js'
import { secretsEqual } from './secrets.js'
import { clientFrameBytes, TokenBucket } from './limits.js'
import { DEFAULT_MAX_BATCH_CHANGES } from '../core/mesh/index.js'
import type { Authenticator } from './auth/authenticator.js'
import { ExpiryTimer } from './auth/expiry-timer.js'
import { ANONYMOUS, type Principal } from './auth/principal.js'
import type { Authorizer } from './auth/authorizer.js'
import { syncRefusal } from './auth/sync-permissions.js'
import type { StrictHost } from './strict/strict-host.js'
import { isStrictMessage, routeStrict } from './strict/strict-routing.js'
import { closeWatches } from './strict/strict-watch.js'

/** How many writes a frame carries: each change of a batch, each strict write. */
function writeCount(message: Message): number {
  if (message.type === MessageType.ChangeBatch) return message.changes.length
  return message.type === MessageType.StrictWrite ? 1 : 0
}

/**
 * Frames a client may send while its credentials are being checked (they are replayed after); together
 * they may take at most one frame's worth of bytes (`limits.maxClientFrameBytes`).
 */
export const MAX_FRAMES_BEFORE_ACCEPT = 16

/** Which WebSocket endpoint a connection arrived on. */
export type Endpoint = 'peer' | 'client'

export type HandshakeVerdict =
  | { readonly ok: true; readonly identity: string }
  | { readonly ok: false; readonly code: CloseCode; readonly reason: RejectReason; readonly message: string }

/**
 * The listener's decision on a handshake (docs/protocol.md, Handshake): credentials first (wrong or
 * missing: UNAUTHORIZED), then whether those credentials may use this endpoint with this role and
 * identity (FORBIDDEN). Peers must present `peerSecret`, be configured neighbours, and have the smaller
 * nodeId of the pair (the dialler, docs/server.md); clients were authenticated already (Authenticator:
 * `clientToken`, `auth.jwt` or the application's callback) and may not take a member's node id.
 */
export function checkHandshake(endpoint: Endpoint, handshake: HandshakeMessage, config: ServerConfig): HandshakeVerdict {
  const deny = (code: CloseCode, reason: RejectReason, message: string): HandshakeVerdict => ({ ok: false, code, reason, message })
  if (endpoint === 'peer') {
    if (config.peerSecret === '' || !secretsEqual(handshake.credentials, config.peerSecret)) {
      return deny(CloseCode.UNAUTHORIZED, 'UNAUTHORIZED', 'wrong peer secret')
    }
    if (handshake.role !== 'peer') return deny(CloseCode.FORBIDDEN, 'FORBIDDEN', `role ${handshake.role} is not allowed on /peer`)
    if (!config.peers.some((peer) => peer.nodeId === handshake.identity)) {
      return deny(CloseCode.FORBIDDEN, 'FORBIDDEN', `${JSON.stringify(handshake.identity)} is not a configured peer of ${config.nodeId}`)
    }
    // Of two neighbours only the smaller nodeId dials; a second link in the other direction would only
    // replace the first, back and forth.
    if (config.nodeId < handshake.identity) {
      return deny(CloseCode.FORBIDDEN, 'FORBIDDEN', `${config.nodeId} dials ${handshake.identity} (the smaller nodeId dials), not the other way`)
    }
    return { ok: true, identity: handshake.identity }
  }
  // A client's credentials were checked before this, by the Authenticator (asynchronously).
  if (handshake.role !== 'client') return deny(CloseCode.FORBIDDEN, 'FORBIDDEN', `role ${handshake.role} is not allowed on /sync`)
  if (config.members.includes(handshake.identity) || handshake.identity === config.nodeId) {
    return deny(CloseCode.FORBIDDEN, 'FORBIDDEN', `client id ${JSON.stringify(handshake.identity)} is a node id`)
  }
  return { ok: true, identity: handshake.identity }
}

/**
 * Routes a frame of an established link: mesh messages to the node; a repeated handshake is a
 * protocol violation; errors are logged; `Replicated` only ever flows to clients, so it is ignored.
 */
export function routeEstablished(
  node: RegionNode,
  id: string,
  connection: ServerConnection,
  message: Message,
  logger: Logger,
  strict: StrictRoute,
): void {
  if (isStrictMessage(message)) {
    routeStrict(strict.host(), strict.config, strict.kind, id, connection, message, strict.onInvalidValue)
    return
  }
  switch (message.type) {
    case MessageType.Handshake:
    case MessageType.HandshakeAccept:
      connection.reject('BAD_FRAME', CloseCode.BAD_FRAME, 'handshake after the handshake')
      return
    case MessageType.Error:
      logger.warn(`${connection.label}: error from the other side: ${message.code} ${message.message}`)
      return
    case MessageType.Replicated:
      return
    default:
      node.receive(id, message)
  }
}

/** Where strict frames of a link go: the host (null when no strict collection is configured). */
export interface StrictRoute {
  readonly host: () => StrictHost | null
  readonly config: ServerConfig
  readonly kind: 'peer' | 'client'
  /** A client's strict write was refused INVALID_VALUE (counted in /metrics). */
  readonly onInvalidValue?: () => void
}

export interface SessionDeps {
  /** Who a client is, and what it may do (docs/security.md); peers use `peerSecret` instead. */
  readonly auth: Authenticator
  readonly authorizer: Authorizer
  /** The upgrade request's headers (lower-case names) and the address it came from. */
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly remoteAddress: string
  readonly strict: () => StrictHost | null
  readonly config: ServerConfig
  readonly node: RegionNode
  readonly metrics: ServerMetrics
  readonly logger: Logger
  /** A peer finished its handshake on /peer (bookkeeping of link state). */
  readonly onPeerUp: (peerId: string, connection: ServerConnection) => void
  readonly onPeerDown: (peerId: string, connection: ServerConnection) => void
  /** Every live connection, for shutdown. */
  readonly track: (connection: ServerConnection) => () => void
}

/**
 * Serves one accepted WebSocket on /sync or /peer: waits for the Handshake, answers HandshakeAccept or
 * refuses with the right close code, then attaches the link to the node's mesh under its identity.
 */
export function acceptSession(ws: WebSocket, endpoint: Endpoint, remote: string, deps: SessionDeps): ServerConnection {
  const { config, node, metrics, logger } = deps
  const connection = new ServerConnection({
    ws,
    kind: endpoint,
    label: `/${endpoint === 'peer' ? 'peer' : 'sync'} from ${remote}`,
    maxFrameBytes: endpoint === 'client' ? clientFrameBytes(config) : config.maxFrameBytes,
    maxSendBufferBytes: config.maxSendBufferBytes,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    metrics,
    logger,
  })
  const untrack = deps.track(connection)
  let identity: string | null = null
  /** Frames that arrived while the client's credentials were being checked, replayed in order after. */
  let waiting: Message[] | null = null
  let waitingBytes = 0
  let expiry: ExpiryTimer | null = null
  // [limits] A client's writes per second (docs/security.md, "Limits"); peers are not limited.
  const writes = endpoint === 'client' ? new TokenBucket(config.limits.maxWritesPerSecond, DEFAULT_MAX_BATCH_CHANGES) : null
  const established = (message: Message) => {
    // Limits first: a flood of forbidden writes is charged like any other.
    const maxDocuments = config.limits.maxDocumentsPerConnection
    if (writes !== null && maxDocuments > 0 && message.type === MessageType.Subscribe && message.documents.length > maxDocuments) {
      metrics.limitRefusals.inc({ limit: 'documentsPerConnection' })
      connection.reject('FORBIDDEN', CloseCode.FORBIDDEN, `a subscription to ${message.documents.length} documents; at most ${maxDocuments} per connection (limits.maxDocumentsPerConnection)`)
      return
    }
    if (writes !== null && !writes.take(writeCount(message), Date.now())) {
      metrics.limitRefusals.inc({ limit: 'writesPerSecond' })
      // Nothing of this frame is applied; the client's outbox keeps it and sends it again after reconnecting.
      connection.reject('OVERLOADED', CloseCode.OVERLOADED, `more than ${config.limits.maxWritesPerSecond} writes per second (limits.maxWritesPerSecond)`)
      return
    }
    // [permissions] Refused before anything of it is applied or forwarded (auth/sync-permissions.ts).
    const refusal = endpoint === 'client' && deps.authorizer.restricts ? syncRefusal(message, connection.principal ?? ANONYMOUS, deps.authorizer) : null
    if (refusal !== null) {
      const error = { code: 'FORBIDDEN', message: refusal.reason } as const
      if (refusal.action === 'close') connection.reject('FORBIDDEN', CloseCode.FORBIDDEN, refusal.reason)
      else if (message.type === MessageType.StrictWrite) connection.sendMessage({ type: MessageType.StrictWriteResult, requestId: message.requestId, reply: { status: 'rejected', error } })
      else if (message.type === MessageType.StrictRead) connection.sendMessage({ type: MessageType.StrictReadResult, requestId: message.requestId, reply: { status: 'rejected', error } })
      return
    }
    routeEstablished(node, identity as string, connection, message, logger, { host: deps.strict, config, kind: endpoint, onInvalidValue: () => metrics.invalidValues.inc({ surface: 'sync' }) })
  }
  connection.onMessage = (message, frameBytes) => {
    if (waiting !== null) {
      // Meridian's client sends nothing before HandshakeAccept; a few frames are kept, a flood is refused.
      waitingBytes += frameBytes
      if (waiting.length >= MAX_FRAMES_BEFORE_ACCEPT || waitingBytes > clientFrameBytes(config)) {
        connection.reject('BAD_FRAME', CloseCode.BAD_FRAME, `more than ${MAX_FRAMES_BEFORE_ACCEPT} frames or ${clientFrameBytes(config)} bytes before the handshake was answered`)
        return
      }
      waiting.push(message)
      return
    }
    if (identity !== null) {
      established(message)
      return
    }
    if (message.type !== MessageType.Handshake) {
      connection.reject('BAD_FRAME', CloseCode.BAD_FRAME, 'the first frame must be a Handshake')
      return
    }
    if (endpoint === 'peer') {
      complete(message, null)
      return
    }
    waiting = []
    void deps.auth.authenticate({ surface: 'sync', token: message.credentials === '' ? null : message.credentials, headers: deps.headers, remoteAddress: deps.remoteAddress }).then((result) => {
      if (!connection.isOpen) return
      if (!result.ok) {
        connection.reject(result.refusal.code, CloseCode[result.refusal.code], result.refusal.message)
        return
      }
      const queued = waiting ?? []
      waiting = null
      if (!complete(message, result.principal)) return
      for (const frame of queued) if (connection.isOpen) established(frame)
    })
  }
  /** Finishes a handshake whose credentials passed; false when the connection was refused instead. */
  const complete = (message: HandshakeMessage, principal: Principal | null): boolean => {
    const verdict = checkHandshake(endpoint, message, config)
    if (!verdict.ok) {
      connection.reject(verdict.reason, verdict.code, verdict.message)
      return false
    }
    if (principal !== null && deps.auth.expired(principal)) {
      connection.reject('TOKEN_EXPIRED', CloseCode.TOKEN_EXPIRED, 'the token has expired')
      return false
    }
    identity = verdict.identity
    connection.principal = principal
    // A session lasts as long as its credentials: at the token's expiry it ends with TOKEN_EXPIRED,
    // and the client comes back with a fresh one.
    if (principal?.expiresAtMs != null) {
      expiry = new ExpiryTimer(principal.expiresAtMs, () => connection.reject('TOKEN_EXPIRED', CloseCode.TOKEN_EXPIRED, 'the token expired; reconnect with a fresh one'))
    }
    connection.handshakeComplete()
    connection.sendMessage({
      type: MessageType.HandshakeAccept,
      protocolVersion: PROTOCOL_VERSION,
      identity: config.nodeId,
      region: config.region,
    })
    node.attach(identity, endpoint, connection)
    if (endpoint === 'peer') deps.onPeerUp(identity, connection)
    return true
  }
  connection.onClose = (code, reason) => {
    untrack()
    expiry?.cancel()
    closeWatches(connection)
    if (identity === null) return
    node.detach(identity, connection)
    if (endpoint === 'peer') deps.onPeerDown(identity, connection)
    else if (code !== 1000 && code !== 1001 && code !== 1005) logger.info(`client ${identity} closed: ${code} ${reason}`)
  }
  return connection
}

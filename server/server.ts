import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { getRequestListener } from '@hono/node-server'
import { WebSocketServer, type WebSocket } from 'ws'
import { CloseCode } from '../core/codec/index.js'
import type { StorageAdapter } from '../core/storage/index.js'
import type { StoredConflict } from '../core/crdt/index.js'
import { parseConfig, type ServerConfig, type ServerConfigInput, type StorageKind } from './config.js'
import type { ServerConnection } from './connection.js'
import { createHttpApp } from './http.js'
import { consoleLogger, type Logger } from './logger.js'
import { ServerMetrics } from './metrics.js'
import { PeerLinks } from './peer-links.js'
import { RegionNode } from './region-node.js'
import { acceptSession, type Endpoint } from './session.js'
import { YjsRooms } from './yjs-rooms.js'
import { AutomergePeers } from './automerge-peers.js'
import { closeSocket, FOREIGN_UNAVAILABLE } from './foreign-socket.js'

/** y-websocket's provider connects to `<serverUrl>/<room>`: `ws://host:port/yjs` as serverUrl. */
const YJS_PATH = '/yjs/'
import { peerMetrics } from './status.js'
import { Authenticator } from './auth/authenticator.js'
import { clientFrameBytes, ConnectionsPerIp } from './limits.js'
import { endForeignAtExpiry, FOREIGN_FORBIDDEN, foreignAuthCloseCode, foreignForbidden, foreignToken, headerRecord } from './auth/request-credentials.js'
import type { Authenticate } from './auth/principal.js'
import { Authorizer, type Authorize } from './auth/authorizer.js'
import { openStorage } from './storage-factory.js'
import { openStrictHost } from './strict/open-strict-host.js'
import type { StrictHost } from './strict/strict-host.js'

/** How long `close()` waits for sockets to finish their close handshake before destroying them. */
const SHUTDOWN_GRACE_MS = 500

/**
 * How often Node looks for requests past `httpHeadersTimeoutMs` / `httpRequestTimeoutMs`. It only
 * checks every `connectionsCheckingInterval` (default 30 s), so a client trickling a header would
 * otherwise hold its socket up to 30 s past the limit: a quarter of the header timeout, 10 ms to 1 s.
 */
export function httpCheckIntervalMs(config: Pick<ServerConfig, 'httpHeadersTimeoutMs'>): number {
  return Math.max(10, Math.min(1_000, Math.floor(config.httpHeadersTimeoutMs / 4)))
}

export interface CreateServerOptions {
  /** Defaults to console lines prefixed with the node id. */
  readonly logger?: Logger
  /** Use this storage instead of the one the config names (tests: a wrapped MemoryStorageAdapter). */
  readonly storage?: StorageAdapter
  /** Process metrics (CPU, heap, event loop) in /metrics; default true. */
  readonly defaultMetrics?: boolean
  /**
   * Called with each lww conflict record this node keeps while it serves (docs/server.md, "Conflicts"), once
   * the record is durable (with the change that produced it). `resolve(value)` writes `value` to the record's field as an
   * ordinary lww write of this region that wins over both sides, marks the record resolved and resolves
   * once that write is durable here; `resolve(undefined)` deletes the field. A hook that throws or
   * rejects is logged; the record stays unresolved (list it with `?unresolved=1`).
   */
  readonly onConflict?: ConflictHook
  /**
   * The application's own authentication (docs/security.md): called for every client connection and
   * REST request with its credential; answers a principal or a refusal. Replaces `auth.jwt` and
   * `clientToken`. A callback that throws refuses the client (and is logged).
   */
  readonly authenticate?: Authenticate
  /**
   * The application's own permissions (docs/security.md, "Permissions"): asked, synchronously, whether a
   * principal may read or write a document; replaces the collections' `permissions` rules.
   */
  readonly authorize?: Authorize
}

/** The embedding app's conflict resolver (`CreateServerOptions.onConflict`). */
export type ConflictHook = (
  record: StoredConflict,
  tools: { resolve(value: unknown): Promise<StoredConflict> },
) => void | Promise<void>

/** A running regional server. */
export interface MeridianServer {
  /** Where clients connect: `ws://host:port/sync`. */
  readonly url: string
  /** Where peers connect: `ws://host:port/peer`. */
  readonly peerUrl: string
  /** `http://host:port`: REST, /status, /metrics, dashboard. */
  readonly httpUrl: string
  /** The port actually listened on (config port 0 picks one). */
  readonly port: number
  readonly config: ServerConfig
  readonly node: RegionNode
  readonly peers: PeerLinks
  /** Strict mode's shell; null when no strict collection is configured. */
  readonly strict: StrictHost | null
  readonly metrics: ServerMetrics
  /**
   * Graceful shutdown: stop dialling, close every socket with SHUTTING_DOWN, make queued changes
   * durable, close storage and the HTTP server. Idempotent.
   */
  close(): Promise<void>
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

function refuseUpgrade(socket: Duplex, status: string): void {
  try {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  } catch {
    socket.destroy()
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/** Calls the app's hook outside the change's application; its failure is logged, never thrown. */
async function runConflictHook(hook: ConflictHook, node: RegionNode, record: StoredConflict, logger: Logger): Promise<void> {
  const resolve = async (value: unknown): Promise<StoredConflict> => {
    const resolution = value === undefined ? { deleted: true as const } : { value }
    return (await node.resolveConflict(record.collection, record.docId, record.cursor, resolution, 'local')).conflict
  }
  try {
    await hook(record, { resolve })
  } catch (err) {
    logger.warn(`onConflict hook failed for conflict ${record.cursor} (${record.collection}/${record.docId} ${JSON.stringify(record.field)}): ${String(err)}`)
  }
}

/**
 * Starts one regional node: HTTP (hono) and WebSockets (`/sync` for clients, `/peer` for nodes) on one
 * port, storage recovery, then peer links. Resolves once the log is recovered and the node serves.
 *
 * @example
 * ```ts
 * const server = await createServer({ nodeId: 'eu-1', region: 'eu', storage: 'memory', port: 0 })
 * await fetch(`${server.httpUrl}/v1/notes/n1`, { method: 'PUT', body: '{"title":"hi"}' })
 * await server.close()
 * ```
 */
export async function createServer(input: ServerConfigInput, options: CreateServerOptions = {}): Promise<MeridianServer> {
  const config = parseConfig(input)
  const logger = options.logger ?? consoleLogger(config.nodeId)
  const auth = await Authenticator.create(config, {
    ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }),
    onCallbackError: (err) => logger.error('the authenticate callback failed; the client was refused', err),
  })
  const metrics = new ServerMetrics({ defaultMetrics: options.defaultMetrics ?? true })
  const startedAt = Date.now()
  const connections = new Set<ServerConnection>()
  const track = (connection: ServerConnection) => {
    connections.add(connection)
    return () => void connections.delete(connection)
  }
  let node: RegionNode | null = null
  let yjsRooms: YjsRooms | null = null
  let automergePeers: AutomergePeers | null = null
  let links: PeerLinks | null = null
  let strict: StrictHost | null = null
  let storageKind: StorageKind = options.storage === undefined ? config.storage : 'memory'
  let closing: Promise<void> | null = null

  const authorizer = new Authorizer(config, options.authorize ?? null, (err) => logger.error('the authorize callback failed; the request was refused', err))
  const app = createHttpApp({
    auth,
    authorizer,
    config,
    node: () => node,
    links: () => links,
    strict: () => strict,
    metrics,
    logger,
    get storageKind() {
      return storageKind
    },
    startedAt,
  })
  // Slow clients [PF4]: a request's headers must arrive within httpHeadersTimeoutMs and the whole request
  // within httpRequestTimeoutMs (else 408 and the socket is closed); idle keep-alive sockets are closed
  // after httpKeepAliveTimeoutMs. Upgraded WebSockets leave Node's HTTP bookkeeping: these never apply.
  const http = createHttpServer(
    {
      headersTimeout: config.httpHeadersTimeoutMs,
      requestTimeout: config.httpRequestTimeoutMs,
      keepAliveTimeout: config.httpKeepAliveTimeoutMs,
      connectionsCheckingInterval: httpCheckIntervalMs(config),
    },
    getRequestListener(app.fetch),
  )
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes, perMessageDeflate: false })
  // [limits] Client sockets get the lower frame limit: ws refuses a frame from its header, and a message
  // split into fragments once their sum passes it, so a client never makes the region buffer more.
  const clientWss = new WebSocketServer({ noServer: true, maxPayload: clientFrameBytes(config), perMessageDeflate: false })
  /** Counts a client socket's frame refused by the limit (ws closes it 1009 and reports the error). */
  const countOversize = (ws: WebSocket): void =>
    void ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') metrics.limitRefusals.inc({ limit: 'clientFrameBytes' })
    })
  // [limits] Open client sockets per IP address (docs/security.md, "Limits"); peers are not counted.
  const perIp = new ConnectionsPerIp(config.limits.maxConnectionsPerIp)
  /** Counts a client socket from `ip` until it closes; false (counted in /metrics) when `ip` has its fill. */
  const admitClient = (ip: string): boolean => {
    if (perIp.admit(ip)) return true
    metrics.limitRefusals.inc({ limit: 'connectionsPerIp' })
    return false
  }
  const releaseOnClose = (ws: WebSocket, ip: string): void => void ws.once('close', () => perIp.release(ip))

  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    let endpoint: Endpoint | null = null
    let room: string | null = null
    let automerge = false
    try {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname
      endpoint = path === '/peer' ? 'peer' : path === '/sync' ? 'client' : null
      if (path.startsWith(YJS_PATH)) room = decodeURIComponent(path.slice(YJS_PATH.length))
      automerge = path === '/automerge'
    } catch {
      endpoint = null
      room = null
    }
    if (endpoint === null && room === null && !automerge) return refuseUpgrade(socket, '404 Not Found')
    const current = node
    if (current === null || !current.recovered || links === null || closing !== null) {
      // The other projects' clients take an HTTP 503 badly (automerge-repo's Node adapter throws it out of
      // its event handler, crashing the app): they get the connection, closed with "try again later".
      if (room !== null || automerge) return clientWss.handleUpgrade(request, socket, head, (ws) => closeSocket(ws, FOREIGN_UNAVAILABLE, 'the node is starting or shutting down'))
      return refuseUpgrade(socket, '503 Service Unavailable')
    }
    const ip = request.socket.remoteAddress ?? '?'
    if (endpoint !== 'peer' && !admitClient(ip)) {
      const why = `more than ${config.limits.maxConnectionsPerIp} connections from ${ip} (limits.maxConnectionsPerIp)`
      if (endpoint === 'client') return refuseUpgrade(socket, '429 Too Many Requests')
      return clientWss.handleUpgrade(request, socket, head, (ws) => closeSocket(ws, FOREIGN_UNAVAILABLE, why))
    }
    if (automerge || room !== null) {
      // The other projects' clients carry their credential in the URL (`?token=`, y-websocket's
      // `params`) or a header; it is checked before the upgrade, so none of their first frames is lost.
      const name = room
      const surface = automerge ? 'automerge' : 'yjs'
      void auth.authenticate({ surface, token: foreignToken(request), headers: headerRecord(request.headers), remoteAddress: request.socket.remoteAddress ?? '?' }).then((result) => {
        if (socket.destroyed) return perIp.release(ip)
        clientWss.handleUpgrade(request, socket, head, (ws) => {
          releaseOnClose(ws, ip)
          countOversize(ws)
          if (!result.ok) return closeSocket(ws, foreignAuthCloseCode(result.refusal.code), result.refusal.message)
          // [permissions] These protocols read and write a room or repo as a whole: both are needed.
          const forbidden = foreignForbidden(authorizer, result.principal, name === null ? config.automergeRepoCollection : config.yjsRoomCollection, name)
          if (forbidden !== null) return closeSocket(ws, FOREIGN_FORBIDDEN, forbidden)
          endForeignAtExpiry(ws, result.principal)
          if (name === null) automergePeers?.accept(ws)
          else yjsRooms?.accept(ws, name)
        })
      })
      return
    }
    if (endpoint === null) return refuseUpgrade(socket, '404 Not Found')
    const currentLinks = links
    const kind = endpoint
    const upgrader = kind === 'client' ? clientWss : wss
    upgrader.handleUpgrade(request, socket, head, (ws) => {
      if (kind === 'client') {
        releaseOnClose(ws, ip)
        countOversize(ws)
      }
      const remote = `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`
      acceptSession(ws, kind, remote, {
        auth,
        authorizer,
        headers: headerRecord(request.headers),
        remoteAddress: ip,
        config,
        node: current,
        metrics,
        logger,
        track,
        strict: () => strict,
        onPeerUp: (id, connection) => currentLinks.inboundUp(id, connection),
        onPeerDown: (id, connection) => currentLinks.inboundDown(id, connection),
      })
    })
  })

  const port = await listen(http, config.port, config.host)
  const host = urlHost(config.host)

  // Requests in flight (a write waiting for its flush) get a moment to answer; idle keep-alive
  // connections are closed at once.
  const closeHttp = (): Promise<void> =>
    new Promise((resolve) => {
      http.close(() => resolve())
      http.closeIdleConnections()
      setTimeout(() => http.closeAllConnections(), SHUTDOWN_GRACE_MS).unref()
    })

  let storage: StorageAdapter | null = null
  try {
    const opened = options.storage === undefined ? await openStorage(config) : { adapter: options.storage, kind: storageKind }
    storage = opened.adapter
    storageKind = opened.kind
    const regionNode = new RegionNode({ config, storage: opened.adapter, metrics, logger, authorizer })
    const { changes } = await regionNode.recover()
    const hook = options.onConflict
    if (hook !== undefined) regionNode.onConflict((record) => setImmediate(() => void runConflictHook(hook, regionNode, record, logger)))
    const peerLinks = new PeerLinks({ config, node: regionNode, metrics, logger, track, strict: () => strict })
    strict = await openStrictHost({ config, links: peerLinks, metrics, logger, storage: opened.adapter, commits: regionNode.commits, onDisk: storageKind === 'file' && options.storage === undefined })
    node = regionNode
    links = peerLinks
    yjsRooms = new YjsRooms({ config, node: regionNode, logger })
    automergePeers = new AutomergePeers({ config, node: regionNode, logger })
    const sources = { config, node: regionNode, links: peerLinks, storageKind, startedAt }
    metrics.setSource({
      meshStats: () => regionNode.mesh.stats,
      changes: () => regionNode.mesh.changeCount,
      clients: () => regionNode.clients,
      conflictsStored: () => regionNode.conflicts.size,
      peers: () => peerMetrics(sources),
      collections: () => [...regionNode.collectionDigests().collections].map(([collection, c]) => ({ collection, documents: c.documents, digestLow48: c.digestLow48 })),
    })
    if (changes > 0) logger.info(`recovered ${changes} changes from ${storageKind} storage`)
    peerLinks.start()
    strict?.start()
  } catch (err) {
    await strict?.close().catch(() => {})
    await storage?.close().catch(() => {})
    await closeHttp()
    metrics.registry.clear()
    throw err
  }
  const regionNode = node
  const peerLinks = links

  const close = (): Promise<void> => {
    closing ??= (async () => {
      peerLinks.stop()
      for (const connection of connections) connection.close(CloseCode.SHUTTING_DOWN, 'the node is shutting down')
      yjsRooms?.close()
      automergePeers?.close()
      const deadline = Date.now() + SHUTDOWN_GRACE_MS
      const open = () => wss.clients.size + clientWss.clients.size
      while (open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      for (const server of [wss, clientWss]) {
        for (const ws of server.clients) ws.terminate()
        server.close()
      }
      await strict?.close()
      await regionNode.close()
      await closeHttp()
      metrics.registry.clear()
    })()
    return closing
  }

  logger.info(`listening on http://${host}:${port} (ws /sync, /peer${config.yjsRoomCollection === null ? '' : ', /yjs/:room'}${config.automergeRepoCollection === null ? '' : ', /automerge'}) as ${config.nodeId} in ${config.region}`)
  return {
    url: `ws://${host}:${port}/sync`,
    peerUrl: `ws://${host}:${port}/peer`,
    httpUrl: `http://${host}:${port}`,
    port,
    config,
    node: regionNode,
    peers: peerLinks,
    strict,
    metrics,
    close,
  }
}

/** In-process servers and raw WebSocket clients for the server tests. */
import WebSocket from 'ws'
import { PROTOCOL_VERSION, decodeMessage, encodeMessage, MessageType, type Message, type Role } from '../../core/codec/index.js'
import type { StorageAdapter } from '../../core/storage/index.js'
import { silentLogger } from '../../server/logger.js'
import { createServer, type MeridianServer } from '../../server/server.js'
import type { ServerConfigInput } from '../../server/config.js'
import { clusterConfigs, freePort, waitFor, type Topology } from '../helpers/cluster.js'

export const NOTES = { notes: { mode: 'crdt', type: 'lww' } } as const
export const COLLECTIONS = {
  notes: { mode: 'crdt', type: 'lww' },
  docs: { mode: 'crdt', type: 'yjs' },
  accounts: { mode: 'strict' },
} as const

const { accounts: _strict, ...NON_STRICT } = COLLECTIONS

/** Fast strict timings so elections in tests take a few hundred ms. */
export const FAST_STRICT = {
  strict: { heartbeatIntervalMs: 30, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, semiSyncTimeoutMs: 150, writeTimeoutMs: 3000, readTimeoutMs: 1000 },
  adminToken: 'test-admin-token',
}

/** One in-process server with memory storage on a free port. */
export function startServer(config: Partial<ServerConfigInput> = {}, storage?: StorageAdapter): Promise<MeridianServer> {
  return createServer(
    { nodeId: 'solo', region: 'test', port: 0, storage: 'memory', collections: COLLECTIONS, ...config },
    { logger: silentLogger, defaultMetrics: false, ...(storage === undefined ? {} : { storage }) },
  )
}

export interface InProcessCluster {
  readonly servers: Map<string, MeridianServer>
  server(id: string): MeridianServer
  waitConnected(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/** Several in-process servers wired in a topology (every node lists every member). */
export async function startCluster(ids: readonly string[], topology: Topology, extra: Record<string, unknown> = {}): Promise<InProcessCluster> {
  const addresses = []
  for (const id of ids) addresses.push({ nodeId: id, region: `r-${id}`, port: await freePort() })
  const configs = clusterConfigs(addresses, topology, {
    storage: 'memory',
    // Strict replication needs a full mesh (config.ts refuses it otherwise).
    collections: topology === 'mesh' ? COLLECTIONS : NON_STRICT,
    heartbeatIntervalMs: 500,
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
    ...extra,
  })
  const servers = new Map<string, MeridianServer>()
  const all = await Promise.all(
    ids.map((id) => createServer(configs.get(id) as unknown as ServerConfigInput, { logger: silentLogger, defaultMetrics: false })),
  )
  all.forEach((server, i) => servers.set(ids[i] as string, server))
  const cluster: InProcessCluster = {
    servers,
    server(id) {
      const server = servers.get(id)
      if (server === undefined) throw new Error(`no server ${id}`)
      return server
    },
    async waitConnected(timeoutMs = 5_000) {
      await waitFor(
        () => [...servers.values()].every((s) => s.peers.snapshot().every((p) => p.state === 'connected')),
        timeoutMs,
        'all peer links connected',
      )
    },
    async close() {
      await Promise.all([...servers.values()].map((s) => s.close()))
    },
  }
  return cluster
}

export interface RawClient {
  readonly ws: WebSocket
  readonly messages: Message[]
  readonly closed: Promise<{ code: number; reason: string }>
  send(message: Message): void
  sendRaw(bytes: Uint8Array | string): void
  /** Resolves with the first received message matching `predicate`. */
  next(predicate: (message: Message) => boolean, timeoutMs?: number): Promise<Message>
}

/** A bare WebSocket speaking the codec, for handshake and protocol tests. */
export async function rawClient(url: string, options: WebSocket.ClientOptions = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options })
  const messages: Message[] = []
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  })
  ws.on('error', () => {})
  ws.on('message', (data) => {
    try {
      messages.push(decodeMessage(data as Buffer))
    } catch {
      // tests look at close codes for what the server refused
    }
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    messages,
    closed,
    send: (message) => ws.send(encodeMessage(message)),
    sendRaw: (bytes) => ws.send(bytes),
    async next(predicate, timeoutMs = 3_000) {
      let found: Message | undefined
      await waitFor(() => (found = messages.find(predicate)) !== undefined, timeoutMs, 'a matching message', 5)
      return found as Message
    },
  }
}

export function handshake(identity: string, role: Role, credentials = '', protocolVersion = PROTOCOL_VERSION): Message {
  return { type: MessageType.Handshake, protocolVersion, role, identity, region: role === 'peer' ? 'r' : '', credentials }
}

/** Connects, handshakes and waits for HandshakeAccept. */
export async function acceptedClient(url: string, identity: string, role: Role = 'client', credentials = ''): Promise<RawClient> {
  const client = await rawClient(url)
  client.send(handshake(identity, role, credentials))
  await client.next((m) => m.type === MessageType.HandshakeAccept)
  return client
}

export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ status: number; json: any; headers: Headers }> {
  const init: RequestInit = { method, ...(headers === undefined ? {} : { headers }), ...(signal === undefined ? {} : { signal }) }
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body)
  const response = await fetch(`${base}${path}`, init)
  const text = await response.text()
  let json: unknown = text
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON (metrics, static files)
  }
  return { status: response.status, json, headers: response.headers }
}

/** Waits until exactly one of `among` (default: every server) is the strict primary; its id. */
export async function primaryOf(cluster: InProcessCluster, among?: readonly string[]): Promise<string> {
  let primary = ''
  await waitFor(
    () => {
      const primaries = [...cluster.servers.entries()]
        .filter(([id]) => among === undefined || among.includes(id))
        .filter(([, s]) => s.strict?.node.currentRole === 'primary')
      primary = primaries[0]?.[0] ?? ''
      return primaries.length === 1
    },
    5_000,
    'one strict primary',
  )
  return primary
}

/**
 * Opens `path` (`/yjs/<room>`, `/automerge`) on the server whose `/sync` URL is `syncUrl`, with `?token=`
 * when given: the close code it gets, or 'open' when the socket is still open after 300 ms.
 */
export async function foreignSocketOutcome(syncUrl: string, path: string, token: string | null = null): Promise<number | 'open'> {
  const ws = new WebSocket(`${syncUrl.replace(/\/sync$/, '')}${path}${token === null ? '' : `?token=${encodeURIComponent(token)}`}`)
  ws.on('error', () => {})
  const outcome = await new Promise<number | 'open'>((resolve) => {
    ws.on('close', (code) => resolve(code))
    ws.on('open', () => setTimeout(() => resolve('open'), 300))
  })
  ws.terminate()
  return outcome
}

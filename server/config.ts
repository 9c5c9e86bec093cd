/**
 * The regional server's configuration (docs/server.md, "Config file"): types, validation
 * with JSON paths in every message, and defaults.
 */
import { readFile } from 'node:fs/promises'
import type { DocType } from '../core/types.js'
import { READ_PREFERENCES, type ReadPreference } from '../core/strict/requests.js'
import { replicateFromCycle } from '../core/strict/cascade.js'
import { DEFAULT_MAX_AUTHORS } from '../core/mesh/author-table.js'
import { permissionsProblems, toPermissions, type CollectionPermissions } from './auth/permissions.js'
import { DEFAULT_VALUE_LIMITS, type ValueLimits } from '../core/values/storable-value.js'

/** A neighbour in the topology. Of two neighbours, the one with the smaller nodeId dials. */
export interface PeerConfig {
  readonly nodeId: string
  readonly region: string
  /** Where the peer accepts `ws /peer`, e.g. `ws://127.0.0.1:4102/peer`. */
  readonly url: string
  /** The peer's HTTP base, for the dashboard, e.g. `http://127.0.0.1:4102`. */
  readonly httpUrl: string
}

export type CollectionConfig =
  | { readonly mode: 'crdt'; readonly type: DocType; readonly permissions?: CollectionPermissions }
  | {
      readonly mode: 'strict'
      /** Who may read and write it (docs/security.md, "Permissions"); absent: everyone who may connect. */
      readonly permissions?: CollectionPermissions
      /** Read preference of a REST GET without `?read=` (docs/server.md, "Strict read defaults"). Default `primary`. */
      readonly read?: ReadPreference
      /** [RD3] `maxStalenessMs` of a REST GET without `?maxStalenessMs=`. Default: no bound. */
      readonly maxStalenessMs?: number
      /**
       * `nearest` / `replica` reads of this collection, from any surface, are spread round-robin over the
       * members that qualify instead of being served by the node they reached (docs/client.md, "Read routing").
       */
      readonly spreadReads?: boolean
    }

/** The spec of collection `name`, or undefined: an own key only, so "constructor" or "__proto__" from a URL names nothing. */
export function collectionSpec(config: { readonly collections: Readonly<Record<string, CollectionConfig>> }, name: string): CollectionConfig | undefined {
  return Object.hasOwn(config.collections, name) ? config.collections[name] : undefined
}

export type StorageKind = 'file' | 'memory'

export interface ReconnectConfig {
  readonly minDelayMs: number
  readonly maxDelayMs: number
}

/**
 * A validated configuration with every default filled in.
 *
 * Beyond the keys of the contract, these optional keys exist (defaults in {@link CONFIG_DEFAULTS}):
 * - `members`: every nodeId of the cluster. Acks are gossiped between members so that each region
 *   learns every region's durable vector; `w=all` and `Replicated` wait for all of them. Defaults to
 *   this node plus its peers, which is right for a full mesh. In a chain or a star, list every node
 *   on every node.
 * - `ackTimeoutMs`: how long a `w=all` write waits before answering `indeterminate`.
 * - `maxBodyBytes`: REST request bodies above this get 413 `PAYLOAD_TOO_LARGE`.
 * - `maxSendBufferBytes`: a connection whose unsent bytes exceed this is closed with `OVERLOADED` [PF4].
 * - `resyncBudgetBytes`, `resyncWindowMs`: what one connection may make the node resend of what it already
 *   held or was sent (by announcing less than that), per window; beyond it the connection is closed with
 *   `RESYNC_LIMIT` [PF4]. Default 64 MiB (or 4 × `maxSendBufferBytes` if larger) per 60 s.
 * - `httpHeadersTimeoutMs`, `httpRequestTimeoutMs`, `httpKeepAliveTimeoutMs`: how long an HTTP client may
 *   take to send a request's headers, the whole request, and how long an idle keep-alive socket is kept.
 * - `maxConflictsPerDocument`, `maxConflicts`: bounds of the conflict records kept in memory.
 * - `snapshotEveryChanges`, `snapshotIntervalMs`: a crdt snapshot round (every changed document stored as
 *   state) runs after this many logged changes, or this long after the first change since the last round.
 * - `retainChanges`: the retention bound [SG3]: the log keeps at most this many changes that some member
 *   has not yet reported durable; past it they are dropped anyway (the stored state covers them) and
 *   that member catches up by state transfer.
 * - `maxAuthors`: the bound of the author table (core/mesh/author-table.ts): clients whose writes this node
 *   knows of, one entry per client id ever seen; past it, those with nothing pending are forgotten oldest
 *   first, which costs such a client only a resend of what it still holds when it comes back.
 *
 * @example
 * ```ts
 * const config = parseConfig({ nodeId: 'eu-1', region: 'eu', storage: 'memory', port: 0 })
 * config.heartbeatIntervalMs // 1000
 * ```
 */
export interface ServerConfig {
  readonly nodeId: string
  readonly region: string
  readonly host: string
  /** 0 picks a free port (tests); the server reports the one it got. */
  readonly port: number
  readonly dataDir: string
  readonly storage: StorageKind
  readonly peers: readonly PeerConfig[]
  readonly peerSecret: string
  readonly clientToken: string | null
  /** How clients prove who they are (docs/security.md); `clientToken` is the simpler shared secret. */
  readonly auth: AuthConfig
  /** What one client may take of a region (docs/security.md, "Limits"). */
  readonly limits: LimitsConfig
  readonly collections: Readonly<Record<string, CollectionConfig>>
  readonly heartbeatIntervalMs: number
  readonly maxFrameBytes: number
  readonly reconnect: ReconnectConfig
  readonly groupCommitMaxDelayMs: number
  readonly members: readonly string[]
  readonly ackTimeoutMs: number
  readonly maxBodyBytes: number
  readonly maxSendBufferBytes: number
  readonly resyncBudgetBytes: number
  readonly resyncWindowMs: number
  readonly httpHeadersTimeoutMs: number
  readonly httpRequestTimeoutMs: number
  readonly httpKeepAliveTimeoutMs: number
  readonly maxConflictsPerDocument: number
  readonly maxConflicts: number
  readonly snapshotEveryChanges: number
  readonly snapshotIntervalMs: number
  readonly retainChanges: number
  readonly maxAuthors: number
  readonly strict: StrictConfig
  /** Bearer token for `/admin/*`; null disables the admin API. Defaults to `MERIDIAN_ADMIN_TOKEN`. */
  readonly adminToken: string | null
  /**
   * What a document value may be (docs/server.md, "Value limits"): checked on every surface before
   * anything is logged. `maxDocumentBytes` may be at most a quarter of `maxFrameBytes`.
   */
  readonly values: ValueLimits
  /**
   * Where `/bundle/*` is served from: the browser bundles `npm run build` writes to `dist/browser`
   * (the default, under the package). A custom build, or the browser tests' own, can point elsewhere.
   */
  readonly browserBundleDir: string | null
  /**
   * The crdt yjs collection whose documents are the rooms of `ws /yjs/:room`, the endpoint y-websocket's
   * `WebsocketProvider` connects to (docs/server.md, "Yjs rooms"); null: the endpoint refuses every room.
   */
  readonly yjsRoomCollection: string | null
  /**
   * The crdt automerge collection whose documents automerge-repo peers sync over `ws /automerge`
   * (docs/server.md, "automerge-repo peers"); null: the endpoint refuses every peer.
   */
  readonly automergeRepoCollection: string | null
}

/** Client authentication beyond the shared `clientToken` (docs/security.md). */
export interface AuthConfig {
  /** Signed client tokens; null: none. */
  readonly jwt: JwtConfig | null
}

/**
 * Signed client tokens (JWT): HS256 with `secret`, ES256 with `publicKeys` (PEM, SPKI) or the keys of a
 * JWKS file. At least one of them. A token names its subject (`sub`) and, unless `requireExpiry` is
 * false, expires (`exp`).
 */
export interface JwtConfig {
  readonly secret: string | null
  readonly publicKeys: readonly string[]
  readonly jwksFile: string | null
  readonly issuer: string | null
  readonly audience: string | null
  /** Leeway for `exp` and `nbf`, in seconds. Default 5. */
  readonly clockToleranceS: number
  readonly requireExpiry: boolean
}

/** Per-client limits (docs/security.md, "Limits"); 0 turns one off. */
export interface LimitsConfig {
  /** Open client WebSockets (`/sync`, `/yjs`, `/automerge`) from one IP address; more are refused (HTTP 429 / close 4503). */
  readonly maxConnectionsPerIp: number
  /** Writes (crdt changes and strict writes) one `/sync` connection may send per second, with bursts of twice that; beyond, it is closed OVERLOADED. */
  readonly maxWritesPerSecond: number
  /** Single documents one `/sync` connection may subscribe to (its `Subscribe`); more close it FORBIDDEN. Whole collections are not counted. */
  readonly maxDocumentsPerConnection: number
  /**
   * Largest frame (a whole message, fragments counted together) a client may send on `/sync`, `/yjs`
   * and `/automerge`; refused from the frame header, TOO_LARGE (4009) / 4413. Default 8 MiB; from 4 MiB
   * (four times the ceiling of `values.maxDocumentBytes`) to `maxFrameBytes`, which peers keep; 0:
   * `maxFrameBytes`. `clientFrameBytes(config)` is the limit in force (docs/security.md, "Limits").
   */
  readonly maxClientFrameBytes: number
  /** Encoded bytes of one client's changes a region holds out of order (its gap buffer); more are dropped and resent later. */
  readonly maxClientGapBytes: number
  /** REST writes (every `/v1` request but GET, HEAD and OPTIONS) per second from one IP address, bursts of twice that; more get HTTP 429. */
  readonly maxRestWritesPerSecondPerIp: number
  /**
   * Size in bytes (encoded state) a client's crdt change may grow its document to; a change past it is
   * refused TOO_LARGE (docs/security.md, "Refused writes"). At most half of `maxFrameBytes`, so every
   * document still fits in the frame of a state transfer.
   */
  readonly maxDocumentBytes: number
}

/** HS256 secrets shorter than this are refused: the key must be as long as the hash (RFC 7518 §3.2). */
export const MIN_JWT_SECRET_BYTES = 32

/**
 * Strict mode's timing (docs/strict.md). Defaults aim at failover within about 2 s on a LAN: a replica
 * stands for election after 1000–1500 ms without hearing the primary, which heartbeats every 100 ms.
 */
export interface StrictConfig {
  readonly heartbeatIntervalMs: number
  readonly electionTimeoutMinMs: number
  readonly electionTimeoutMaxMs: number
  /** A `one` write no replica acknowledged within this falls back to `local` (reported as degraded). */
  readonly semiSyncTimeoutMs: number
  /** Default time after which a write's outcome is reported `indeterminate` [ST3]. */
  readonly writeTimeoutMs: number
  /** How long a read with `after=` waits for the token to be applied before NOT_YET. */
  readonly readTimeoutMs: number
  /** Log entries kept after a snapshot; a replica further behind bootstraps from the snapshot [ST6]. */
  readonly retainEntries: number
  /** Request keys (`idempotency-key`) the replicated state remembers for at-most-once writes; the same on every member. */
  readonly requestKeyRetention: number
  /**
   * [FO3] Failover controls (docs/strict-mode.md, "Failover controls"), the same on every member:
   * priority per member (missing: 1; higher stands first; 0: never primary) …
   */
  readonly priorities: Readonly<Record<string, number>>
  /** … members that never become primary (the same as priority 0) … */
  readonly noFailover: readonly string[]
  /** … and the most log entries a member's durable log may be behind the commit index it heard of and still stand; null: no limit. */
  readonly maxLagOnFailover: number | null
  /**
   * Cascading replicas (docs/strict-mode.md, "Cascading replicas"): member → the member it streams the
   * log from instead of the primary; no cycles. The same on every member.
   */
  readonly replicateFrom: Readonly<Record<string, string>>
  /**
   * The primary streams to a cascaded replica itself when none of its acknowledgements came through its
   * relay for this long; null: 3 heartbeats, at most halfway to the election timeout (300 ms by default).
   */
  readonly cascadeFallbackMs: number | null
}

/** [FO3] The keys of `strict` that are not plain positive integers. */
const STRICT_FAILOVER_KEYS: readonly string[] = ['priorities', 'noFailover', 'maxLagOnFailover', 'replicateFrom', 'cascadeFallbackMs']

/**
 * What a caller may pass to `createServer` or write in a config file: `nodeId` and `region` are
 * required, everything else has a default.
 */
export type ServerConfigInput = Partial<Omit<ServerConfig, 'nodeId' | 'region' | 'reconnect' | 'strict' | 'values' | 'auth' | 'limits'>> & {
  readonly limits?: Partial<LimitsConfig>
  readonly auth?: { readonly jwt?: Partial<JwtConfig> | null }
  readonly nodeId: string
  readonly region: string
  readonly reconnect?: Partial<ReconnectConfig>
  readonly strict?: Partial<StrictConfig>
  readonly values?: Partial<ValueLimits>
}

export const CONFIG_DEFAULTS = {
  host: '127.0.0.1',
  port: 4100,
  storage: 'file',
  clientToken: null,
  auth: { jwt: null } as AuthConfig,
  limits: { maxConnectionsPerIp: 1000, maxWritesPerSecond: 2000, maxDocumentsPerConnection: 10_000, maxClientFrameBytes: 8 * 1024 * 1024, maxClientGapBytes: 4 * 1024 * 1024, maxRestWritesPerSecondPerIp: 10_000, maxDocumentBytes: 4 * 1024 * 1024 } as LimitsConfig,
  heartbeatIntervalMs: 1000,
  maxFrameBytes: 16 * 1024 * 1024,
  reconnect: { minDelayMs: 100, maxDelayMs: 5000 },
  groupCommitMaxDelayMs: 0,
  ackTimeoutMs: 5000,
  maxBodyBytes: 1024 * 1024,
  maxSendBufferBytes: 8 * 1024 * 1024,
  /** Raised to 4 × `maxSendBufferBytes` when that is larger (what an honest link can have in flight). */
  resyncBudgetBytes: 64 * 1024 * 1024,
  resyncWindowMs: 60_000,
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
  httpKeepAliveTimeoutMs: 5_000,
  maxConflictsPerDocument: 100,
  maxConflicts: 10_000,
  snapshotEveryChanges: 10_000,
  snapshotIntervalMs: 5_000,
  retainChanges: 100_000,
  maxAuthors: DEFAULT_MAX_AUTHORS,
  strict: {
    heartbeatIntervalMs: 100,
    electionTimeoutMinMs: 1000,
    electionTimeoutMaxMs: 1500,
    semiSyncTimeoutMs: 500,
    writeTimeoutMs: 5000,
    readTimeoutMs: 2000,
    retainEntries: 50_000,
    requestKeyRetention: 100_000,
    priorities: {},
    noFailover: [],
    maxLagOnFailover: null,
    replicateFrom: {},
    cascadeFallbackMs: null,
  },
  values: DEFAULT_VALUE_LIMITS,
} as const

/** Thrown by {@link parseConfig}; `issues` lists every problem found, each starting with its JSON path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code = 'BAD_CONFIG' as const
  readonly issues: readonly string[]

  constructor(issues: readonly string[], source?: string) {
    const where = source === undefined ? '' : `${source}: `
    super(`${where}invalid configuration:\n  ${issues.join('\n  ')}`)
    this.issues = issues
  }
}

const TOP_KEYS = [
  'nodeId',
  'region',
  'host',
  'port',
  'dataDir',
  'storage',
  'peers',
  'peerSecret',
  'clientToken',
  'auth',
  'limits',
  'collections',
  'heartbeatIntervalMs',
  'maxFrameBytes',
  'reconnect',
  'groupCommitMaxDelayMs',
  'members',
  'ackTimeoutMs',
  'maxBodyBytes',
  'maxSendBufferBytes',
  'resyncBudgetBytes',
  'resyncWindowMs',
  'httpHeadersTimeoutMs',
  'httpRequestTimeoutMs',
  'httpKeepAliveTimeoutMs',
  'maxConflictsPerDocument',
  'maxConflicts',
  'snapshotEveryChanges',
  'snapshotIntervalMs',
  'retainChanges',
  'maxAuthors',
  'strict',
  'adminToken',
  'values',
  'browserBundleDir',
  'yjsRoomCollection',
  'automergeRepoCollection',
] as const

const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/

/** `config.peers[0].url`, `config.collections["my notes"]`. */
function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

/** Collects issues instead of stopping at the first, so one run shows everything to fix. */
class Checker {
  readonly issues: string[] = []

  fail(path: string, expected: string, value: unknown): undefined {
    this.issues.push(`${path}: expected ${expected}, got ${describe(value)}`)
    return undefined
  }

  object(path: string, value: unknown, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.fail(path, 'an object', value)
    const record = value as Record<string, unknown>
    for (const key of Object.keys(record)) {
      if (!allowed.includes(key)) this.issues.push(`${child(path, key)}: unknown key`)
    }
    return record
  }

  string(path: string, value: unknown, options: { identifier?: boolean } = {}): string | undefined {
    if (typeof value !== 'string' || value.length === 0) return this.fail(path, 'a non-empty string', value)
    if (options.identifier && !IDENTIFIER.test(value)) {
      return this.fail(path, 'an id of letters, digits, ".", "_", ":" or "-"', value)
    }
    return value
  }

  integer(path: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      return this.fail(path, `an integer from ${min} to ${max}`, value)
    }
    return value
  }

  url(path: string, value: unknown, protocols: readonly string[], label: string): string | undefined {
    if (typeof value !== 'string') return this.fail(path, `a ${label} URL`, value)
    let parsed: URL
    try {
      parsed = new URL(value)
    } catch {
      return this.fail(path, `a ${label} URL`, value)
    }
    if (!protocols.includes(parsed.protocol)) return this.fail(path, `a ${label} URL`, value)
    return value
  }
}

function optional<T>(record: Record<string, unknown>, key: string, fallback: T, read: (value: unknown) => T | undefined): T | undefined {
  return Object.hasOwn(record, key) ? read(record[key]) : fallback
}

const JWT_KEYS = ['secret', 'publicKeys', 'jwksFile', 'issuer', 'audience', 'clockToleranceS', 'requireExpiry'] as const

function jwtConfig(c: Checker, path: string, value: unknown): JwtConfig | undefined {
  const record = c.object(path, value, JWT_KEYS)
  if (!record) return undefined
  const text = (key: string, fallback: string | null): string | null | undefined =>
    optional<string | null>(record, key, fallback, (x) => (x === null ? null : c.string(child(path, key), x)))
  const secret = text('secret', process.env.MERIDIAN_JWT_SECRET || null)
  const jwksFile = text('jwksFile', null)
  const issuer = text('issuer', null)
  const audience = text('audience', null)
  const publicKeys = optional<string[]>(record, 'publicKeys', [], (x) => {
    if (!Array.isArray(x)) return c.fail(child(path, 'publicKeys'), 'an array of PEM public keys', x)
    return x.filter((pem, i) => c.string(child(child(path, 'publicKeys'), i), pem) !== undefined && (/-----BEGIN PUBLIC KEY-----/.test(pem as string) || (c.fail(child(child(path, 'publicKeys'), i), 'a PEM public key (-----BEGIN PUBLIC KEY-----)', '(not PEM)'), false))) as string[]
  })
  const clockToleranceS = optional<number>(record, 'clockToleranceS', 5, (x) => c.integer(child(path, 'clockToleranceS'), x, 0, 3600))
  const requireExpiry = optional<boolean>(record, 'requireExpiry', true, (x) => (typeof x === 'boolean' ? x : c.fail(child(path, 'requireExpiry'), 'true or false', x)))
  if (secret === undefined || jwksFile === undefined || issuer === undefined || audience === undefined || publicKeys === undefined || clockToleranceS === undefined || requireExpiry === undefined) return undefined
  if (secret !== null && Buffer.byteLength(secret) < MIN_JWT_SECRET_BYTES) c.issues.push(`${child(path, 'secret')}: an HS256 secret needs at least ${MIN_JWT_SECRET_BYTES} bytes`)
  if (secret === null && jwksFile === null && publicKeys.length === 0) c.issues.push(`${path}: needs a secret (HS256), publicKeys or a jwksFile (ES256)`)
  return { secret, publicKeys, jwksFile, issuer, audience, clockToleranceS, requireExpiry }
}

/** Per-collection read keys of a strict collection (docs/server.md, "Strict read defaults"). */
const STRICT_READ_KEYS = ['read', 'maxStalenessMs', 'spreadReads'] as const

function strictCollectionConfig(c: Checker, path: string, body: Record<string, unknown>): CollectionConfig {
  const out: { mode: 'strict'; read?: ReadPreference; maxStalenessMs?: number; spreadReads?: boolean } = { mode: 'strict' }
  if (Object.hasOwn(body, 'read')) {
    if ((READ_PREFERENCES as readonly unknown[]).includes(body.read)) out.read = body.read as ReadPreference
    else c.fail(child(path, 'read'), READ_PREFERENCES.map((p) => JSON.stringify(p)).join(', '), body.read)
  }
  if (Object.hasOwn(body, 'maxStalenessMs')) {
    const n = c.integer(child(path, 'maxStalenessMs'), body.maxStalenessMs, 0, 999_999_999)
    if (n !== undefined) out.maxStalenessMs = n
  }
  if (Object.hasOwn(body, 'spreadReads')) {
    if (typeof body.spreadReads === 'boolean') out.spreadReads = body.spreadReads
    else c.fail(child(path, 'spreadReads'), 'true or false', body.spreadReads)
  }
  return out
}

/**
 * Validates a parsed JSON configuration against the contract and fills in defaults. Unknown keys and
 * wrong types are errors; every message starts with the JSON path of the offending value.
 *
 * @throws ConfigError listing every problem
 * @example
 * ```ts
 * parseConfig({ nodeId: 'eu-1', region: 'eu', peers: [{ nodeId: 'us-1', url: 'http://x' }] })
 * // ConfigError: config.peers[0].url: expected a ws:// URL, got "http://x" …
 * ```
 */
export function parseConfig(input: unknown, source?: string): ServerConfig {
  const c = new Checker()
  const root = 'config'
  const raw = c.object(root, input, TOP_KEYS)
  if (!raw) throw new ConfigError(c.issues, source)
  const at = (key: string) => child(root, key)

  const nodeId = Object.hasOwn(raw, 'nodeId')
    ? c.string(at('nodeId'), raw.nodeId, { identifier: true })
    : (c.issues.push(`${at('nodeId')}: required`), undefined)
  const region = Object.hasOwn(raw, 'region')
    ? c.string(at('region'), raw.region)
    : (c.issues.push(`${at('region')}: required`), undefined)
  const host = optional(raw, 'host', CONFIG_DEFAULTS.host, (v) => c.string(at('host'), v))
  const port = optional(raw, 'port', CONFIG_DEFAULTS.port, (v) => c.integer(at('port'), v, 0, 65_535))
  const storage = optional<StorageKind>(raw, 'storage', CONFIG_DEFAULTS.storage, (v) =>
    v === 'file' || v === 'memory' ? v : c.fail(at('storage'), '"file" or "memory"', v),
  )
  const dataDir = optional(raw, 'dataDir', `.meridian/${nodeId ?? 'node'}`, (v) => c.string(at('dataDir'), v))
  const browserBundleDir = optional<string | null>(raw, 'browserBundleDir', null, (v) => (v === null ? null : c.string(at('browserBundleDir'), v)))

  const peers = optional<PeerConfig[]>(raw, 'peers', [], (v) => {
    if (!Array.isArray(v)) return c.fail(at('peers'), 'an array', v)
    const out: PeerConfig[] = []
    const seen = new Set<string>()
    v.forEach((item: unknown, i) => {
      const path = child(at('peers'), i)
      const peer = c.object(path, item, ['nodeId', 'region', 'url', 'httpUrl'])
      if (!peer) return
      const missing = ['nodeId', 'region', 'url', 'httpUrl'].filter((key) => !Object.hasOwn(peer, key))
      for (const key of missing) c.issues.push(`${child(path, key)}: required`)
      if (missing.length > 0) return
      const id = c.string(child(path, 'nodeId'), peer.nodeId, { identifier: true })
      const peerRegion = c.string(child(path, 'region'), peer.region)
      const url = c.url(child(path, 'url'), peer.url, ['ws:', 'wss:'], 'ws://')
      const httpUrl = c.url(child(path, 'httpUrl'), peer.httpUrl, ['http:', 'https:'], 'http://')
      if (id !== undefined && id === nodeId) c.issues.push(`${child(path, 'nodeId')}: a node cannot be its own peer`)
      if (id !== undefined && seen.has(id)) c.issues.push(`${child(path, 'nodeId')}: duplicate peer ${JSON.stringify(id)}`)
      if (id !== undefined) seen.add(id)
      if (id && peerRegion && url && httpUrl) out.push({ nodeId: id, region: peerRegion, url, httpUrl })
    })
    return out
  })

  const hasPeers = peers !== undefined && peers.length > 0
  const peerSecret = !Object.hasOwn(raw, 'peerSecret')
    ? hasPeers
      ? (c.issues.push(`${at('peerSecret')}: required when peers are configured`), undefined)
      : ''
    : raw.peerSecret === '' && !hasPeers
      ? ''
      : c.string(at('peerSecret'), raw.peerSecret)
  const clientToken = optional<string | null>(raw, 'clientToken', CONFIG_DEFAULTS.clientToken, (v) =>
    v === null ? null : c.string(at('clientToken'), v),
  )

  const auth = optional<AuthConfig>(raw, 'auth', CONFIG_DEFAULTS.auth, (v) => {
    const record = c.object(at('auth'), v, ['jwt'])
    if (!record) return undefined
    const jwt = optional<JwtConfig | null>(record, 'jwt', null, (x) => (x === null ? null : jwtConfig(c, child(at('auth'), 'jwt'), x)))
    if (jwt === undefined) return undefined
    if (jwt !== null && clientToken !== null && clientToken !== undefined) c.issues.push(`${at('auth')}: use either auth.jwt or clientToken, not both`)
    return { jwt }
  })

  const limits = optional<LimitsConfig>(raw, 'limits', CONFIG_DEFAULTS.limits, (v) => {
    const keys = Object.keys(CONFIG_DEFAULTS.limits) as (keyof LimitsConfig)[]
    const record = c.object(at('limits'), v, keys)
    if (!record) return undefined
    const out: Record<string, number> = {}
    for (const key of keys) {
      const value = optional<number>(record, key, CONFIG_DEFAULTS.limits[key], (x) => c.integer(child(at('limits'), key), x, 0))
      if (value === undefined) return undefined
      out[key] = value
    }
    return out as unknown as LimitsConfig
  })

  const collections = optional<Record<string, CollectionConfig>>(raw, 'collections', {}, (v) => {
    const record = c.object(at('collections'), v, Object.keys(v ?? {}))
    if (!record) return undefined
    const out: Record<string, CollectionConfig> = {}
    for (const [name, spec] of Object.entries(record)) {
      const path = child(at('collections'), name)
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
        c.issues.push(`${path}: collection names are letters, digits, ".", "_" or "-", not starting with "_" or "."`)
        continue
      }
      const body = c.object(path, spec, ['mode', 'type', 'permissions', ...STRICT_READ_KEYS])
      if (!body) continue
      const permissions = Object.hasOwn(body, 'permissions') ? body.permissions : undefined
      if (permissions !== undefined) c.issues.push(...permissionsProblems(permissions, child(path, 'permissions'), body.mode === 'strict'))
      const withPermissions = <T extends CollectionConfig>(spec: T): T => (permissions === undefined ? spec : { ...spec, permissions: toPermissions(permissions as { read?: unknown; write?: unknown }) })
      if (body.mode === 'strict') {
        if (Object.hasOwn(body, 'type')) c.issues.push(`${child(path, 'type')}: strict collections have no type`)
        else out[name] = withPermissions(strictCollectionConfig(c, path, body))
      } else if (body.mode === 'crdt') {
        for (const key of STRICT_READ_KEYS) {
          if (Object.hasOwn(body, key)) c.issues.push(`${child(path, key)}: only strict collections have read defaults`)
        }
        const type = body.type
        if (type === 'lww' || type === 'yjs' || type === 'automerge') out[name] = withPermissions({ mode: 'crdt', type })
        else c.fail(child(path, 'type'), '"lww", "yjs" or "automerge"', type)
      } else {
        c.fail(child(path, 'mode'), '"crdt" or "strict"', body.mode)
      }
    }
    return out
  })

  const ms = (key: string, fallback: number, min: number) =>
    optional(raw, key, fallback, (v) => c.integer(at(key), v, min))
  const heartbeatIntervalMs = ms('heartbeatIntervalMs', CONFIG_DEFAULTS.heartbeatIntervalMs, 1)
  const maxFrameBytes = ms('maxFrameBytes', CONFIG_DEFAULTS.maxFrameBytes, 1024)
  const groupCommitMaxDelayMs = ms('groupCommitMaxDelayMs', CONFIG_DEFAULTS.groupCommitMaxDelayMs, 0)
  const ackTimeoutMs = ms('ackTimeoutMs', CONFIG_DEFAULTS.ackTimeoutMs, 1)
  const maxBodyBytes = ms('maxBodyBytes', CONFIG_DEFAULTS.maxBodyBytes, 2)
  const maxSendBufferBytes = ms('maxSendBufferBytes', CONFIG_DEFAULTS.maxSendBufferBytes, 1024)
  // An honest link's announcement can make us resend what was in flight towards it, which the send
  // buffer bounds; the budget must cover that with room to spare.
  const sendBound = maxSendBufferBytes ?? CONFIG_DEFAULTS.maxSendBufferBytes
  const resyncBudgetBytes = ms('resyncBudgetBytes', Math.max(CONFIG_DEFAULTS.resyncBudgetBytes, 4 * sendBound), 1024)
  if (resyncBudgetBytes !== undefined && resyncBudgetBytes < sendBound) {
    c.issues.push(`${at('resyncBudgetBytes')}: must be >= maxSendBufferBytes (${sendBound}), got ${resyncBudgetBytes}`)
  }
  const resyncWindowMs = ms('resyncWindowMs', CONFIG_DEFAULTS.resyncWindowMs, 1)
  const httpHeadersTimeoutMs = ms('httpHeadersTimeoutMs', CONFIG_DEFAULTS.httpHeadersTimeoutMs, 1)
  const httpRequestTimeoutMs = ms('httpRequestTimeoutMs', CONFIG_DEFAULTS.httpRequestTimeoutMs, 1)
  if (httpHeadersTimeoutMs !== undefined && httpRequestTimeoutMs !== undefined && httpRequestTimeoutMs < httpHeadersTimeoutMs) {
    c.issues.push(`${at('httpRequestTimeoutMs')}: must be >= httpHeadersTimeoutMs (${httpHeadersTimeoutMs}), got ${httpRequestTimeoutMs}`)
  }
  const httpKeepAliveTimeoutMs = ms('httpKeepAliveTimeoutMs', CONFIG_DEFAULTS.httpKeepAliveTimeoutMs, 1)
  const maxConflictsPerDocument = ms('maxConflictsPerDocument', CONFIG_DEFAULTS.maxConflictsPerDocument, 1)
  const maxConflicts = ms('maxConflicts', CONFIG_DEFAULTS.maxConflicts, 1)
  const snapshotEveryChanges = ms('snapshotEveryChanges', CONFIG_DEFAULTS.snapshotEveryChanges, 1)
  const snapshotIntervalMs = ms('snapshotIntervalMs', CONFIG_DEFAULTS.snapshotIntervalMs, 1)
  const retainChanges = ms('retainChanges', CONFIG_DEFAULTS.retainChanges, 0)
  const maxAuthors = ms('maxAuthors', CONFIG_DEFAULTS.maxAuthors, 1)

  // [limits] Meridian's client checks writes against the ceiling of values.maxDocumentBytes (a region
  // may only tighten it, and refuses a larger write after reading it) and batches at most 1 MiB of
  // changes; but one lww change carries a stamp (~30 bytes) per field it overwrites or deletes, so a put
  // replacing a 1 MiB document of 150,000 small fields encodes to about 5 MB. Under four times that
  // ceiling a client frame limit would refuse ordinary frames; the default, 8 MiB, leaves room for the
  // many-field case. Above maxFrameBytes, which peers keep, it means nothing; the default follows a
  // smaller maxFrameBytes (clientFrameBytes).
  const clientFrame = limits?.maxClientFrameBytes ?? 0
  const clientFrameFloor = 4 * CONFIG_DEFAULTS.values.maxDocumentBytes
  const clientFrameGiven = (raw['limits'] as Record<string, unknown> | undefined)?.['maxClientFrameBytes'] !== undefined
  if (clientFrameGiven && clientFrame !== 0 && (clientFrame < clientFrameFloor || clientFrame > (maxFrameBytes ?? CONFIG_DEFAULTS.maxFrameBytes))) {
    c.issues.push(`${child(at('limits'), 'maxClientFrameBytes')}: must be 0 or from ${clientFrameFloor} (four times the ceiling of values.maxDocumentBytes) to maxFrameBytes (${maxFrameBytes ?? CONFIG_DEFAULTS.maxFrameBytes}), got ${clientFrame}`)
  }
  // maxDocumentBytes defaults to a quarter of maxFrameBytes when frames are configured that small, so
  // every write and document fits in a frame (appends carry a quarter of a frame).
  const frameQuarter = Math.floor((maxFrameBytes ?? CONFIG_DEFAULTS.maxFrameBytes) / 4)
  const defaultValues: ValueLimits = { ...CONFIG_DEFAULTS.values, maxDocumentBytes: Math.min(CONFIG_DEFAULTS.values.maxDocumentBytes, frameQuarter) }
  const values = optional<ValueLimits>(raw, 'values', defaultValues, (v) => {
    const path = at('values')
    const record = c.object(path, v, ['maxDepth', 'maxKeyBytes', 'maxStringBytes', 'maxDocumentBytes'])
    if (!record) return undefined
    // The defaults are also the ceilings: clients check values against them before anything is
    // queued, so a region may tighten a limit but never loosen it.
    const limit = (key: keyof ValueLimits, min: number) =>
      optional(record, key, defaultValues[key], (x) => c.integer(child(path, key), x, min, CONFIG_DEFAULTS.values[key]))
    const maxDepth = limit('maxDepth', 1)
    const maxKeyBytes = limit('maxKeyBytes', 1)
    const maxStringBytes = limit('maxStringBytes', 1)
    const maxDocumentBytes = limit('maxDocumentBytes', 16)
    if (maxDepth === undefined || maxKeyBytes === undefined || maxStringBytes === undefined || maxDocumentBytes === undefined) return undefined
    if (maxDocumentBytes > frameQuarter) {
      c.issues.push(`${child(path, 'maxDocumentBytes')}: must be at most a quarter of maxFrameBytes (${frameQuarter}), so every write and document fits in a frame`)
      return undefined
    }
    return { maxDepth, maxKeyBytes, maxStringBytes, maxDocumentBytes }
  })

  // A crdt document must fit, whole, in the frame of a state transfer (or of a Rejected answer).
  const frameHalf = Math.floor((maxFrameBytes ?? CONFIG_DEFAULTS.maxFrameBytes) / 2)
  const documentLimitGiven = (raw['limits'] as Record<string, unknown> | undefined)?.['maxDocumentBytes'] !== undefined
  if (limits !== undefined && documentLimitGiven && limits.maxDocumentBytes > frameHalf) {
    c.issues.push(`${child(at('limits'), 'maxDocumentBytes')}: must be at most half of maxFrameBytes (${frameHalf}), so every document fits in a state transfer's frame`)
  }
  const documentLimit = limits === undefined ? undefined : documentLimitGiven ? limits.maxDocumentBytes : Math.min(limits.maxDocumentBytes, frameHalf)

  const reconnect = optional<ReconnectConfig>(raw, 'reconnect', CONFIG_DEFAULTS.reconnect, (v) => {
    const path = at('reconnect')
    const record = c.object(path, v, ['minDelayMs', 'maxDelayMs'])
    if (!record) return undefined
    const minDelayMs = optional(record, 'minDelayMs', CONFIG_DEFAULTS.reconnect.minDelayMs, (x) =>
      c.integer(child(path, 'minDelayMs'), x, 1),
    )
    const maxDelayMs = optional(record, 'maxDelayMs', CONFIG_DEFAULTS.reconnect.maxDelayMs, (x) =>
      c.integer(child(path, 'maxDelayMs'), x, 1),
    )
    if (minDelayMs === undefined || maxDelayMs === undefined) return undefined
    if (maxDelayMs < minDelayMs) {
      c.issues.push(`${child(path, 'maxDelayMs')}: must be >= minDelayMs (${minDelayMs}), got ${maxDelayMs}`)
      return undefined
    }
    return { minDelayMs, maxDelayMs }
  })

  const members = optional<string[] | null>(raw, 'members', null, (v) => {
    const path = at('members')
    if (!Array.isArray(v)) return c.fail(path, 'an array of node ids', v)
    const out: string[] = []
    v.forEach((item: unknown, i) => {
      const id = c.string(child(path, i), item, { identifier: true })
      if (id === undefined) return
      if (out.includes(id)) c.issues.push(`${child(path, i)}: duplicate member ${JSON.stringify(id)}`)
      else out.push(id)
    })
    if (nodeId !== undefined && !out.includes(nodeId)) c.issues.push(`${path}: must include this node (${JSON.stringify(nodeId)})`)
    for (const peer of peers ?? []) {
      if (!out.includes(peer.nodeId)) c.issues.push(`${path}: must include every peer; ${JSON.stringify(peer.nodeId)} is missing`)
    }
    return out
  })

  const strict = optional<StrictConfig>(raw, 'strict', CONFIG_DEFAULTS.strict, (v) => {
    const path = at('strict')
    const keys = Object.keys(CONFIG_DEFAULTS.strict) as (keyof StrictConfig)[]
    const record = c.object(path, v, keys)
    if (!record) return undefined
    const timings = keys.filter((key) => !STRICT_FAILOVER_KEYS.includes(key))
    const values = timings.map((key) => [key, optional<number>(record, key, CONFIG_DEFAULTS.strict[key] as number, (x) => c.integer(child(path, key), x, 1))] as const)
    if (values.some(([, x]) => x === undefined)) return undefined
    // [FO3] Failover controls name members: checked against `members` (or this node and its peers).
    const everyone = members ?? (nodeId === undefined ? null : [nodeId, ...(peers ?? []).map((peer) => peer.nodeId)])
    const isMember = (key: string, name: string): boolean =>
      everyone === null || everyone.includes(name) || (c.issues.push(`${key}: ${JSON.stringify(name)} is not a member`), false)
    const priorities = optional<Record<string, number>>(record, 'priorities', {}, (x) => {
      const map = c.object(child(path, 'priorities'), x, Object.keys(x ?? {}))
      if (!map) return undefined
      const out: Record<string, number> = {}
      for (const [name, p] of Object.entries(map)) {
        const n = c.integer(child(child(path, 'priorities'), name), p, 0)
        if (n !== undefined && isMember(child(path, 'priorities'), name)) out[name] = n
      }
      return out
    })
    const noFailover = optional<string[]>(record, 'noFailover', [], (x) => {
      if (!Array.isArray(x)) return c.fail(child(path, 'noFailover'), 'an array of member ids', x)
      return x.filter((name, i) => c.string(child(child(path, 'noFailover'), i), name) !== undefined && isMember(child(path, 'noFailover'), name as string)) as string[]
    })
    const maxLagOnFailover = optional<number | null>(record, 'maxLagOnFailover', null, (x) => (x === null ? null : c.integer(child(path, 'maxLagOnFailover'), x, 0)))
    const replicateFrom = optional<Record<string, string>>(record, 'replicateFrom', {}, (x) => {
      const key = child(path, 'replicateFrom')
      const map = c.object(key, x, Object.keys(x ?? {}))
      if (!map) return undefined
      const out: Record<string, string> = {}
      for (const [name, upstream] of Object.entries(map)) {
        const value = c.string(child(key, name), upstream)
        if (value === undefined || !isMember(key, name) || !isMember(child(key, name), value)) continue
        if (value === name) c.issues.push(`${child(key, name)}: a member cannot stream from itself`)
        else out[name] = value
      }
      const cycle = replicateFromCycle(out)
      if (cycle !== null) c.issues.push(`${key}: a cycle ${cycle.join(' → ')} (some member must stream from the primary)`)
      return out
    })
    const cascadeFallbackMs = optional<number | null>(record, 'cascadeFallbackMs', null, (x) => (x === null ? null : c.integer(child(path, 'cascadeFallbackMs'), x, 1)))
    if (priorities === undefined || noFailover === undefined || maxLagOnFailover === undefined || replicateFrom === undefined || cascadeFallbackMs === undefined) return undefined
    if (everyone !== null && everyone.every((member) => noFailover.includes(member) || priorities[member] === 0)) {
      c.issues.push(`${path}: every member is noFailover or priority 0, so none could ever become primary`)
    }
    const parsed = { ...Object.fromEntries(values), priorities, noFailover, maxLagOnFailover, replicateFrom, cascadeFallbackMs } as unknown as StrictConfig
    if (cascadeFallbackMs !== null && cascadeFallbackMs >= parsed.electionTimeoutMinMs) {
      c.issues.push(`${child(path, 'cascadeFallbackMs')}: must be below electionTimeoutMinMs (${parsed.electionTimeoutMinMs}), or a replica whose relay died is fed again only after it could have stood for election`)
    }
    if (parsed.electionTimeoutMaxMs < parsed.electionTimeoutMinMs) {
      c.issues.push(`${child(path, 'electionTimeoutMaxMs')}: must be >= electionTimeoutMinMs (${parsed.electionTimeoutMinMs})`)
    }
    if (parsed.heartbeatIntervalMs * 2 > parsed.electionTimeoutMinMs) {
      c.issues.push(`${child(path, 'heartbeatIntervalMs')}: must be at most half of electionTimeoutMinMs, or replicas stand for election while the primary is healthy`)
    }
    return parsed
  })
  const adminToken = optional<string | null>(raw, 'adminToken', process.env.MERIDIAN_ADMIN_TOKEN || null, (v) =>
    v === null ? null : c.string(at('adminToken'), v),
  )

  /** A key naming a crdt collection of one document type, or null. */
  const collectionOfType = (key: string, type: 'yjs' | 'automerge'): string | null | undefined =>
    optional<string | null>(raw, key, null, (v) => {
      if (v === null) return null
      const name = c.string(at(key), v)
      if (name === undefined || collections === undefined) return name
      const spec = collectionSpec({ collections }, name)
      if (spec === undefined || spec.mode !== 'crdt' || spec.type !== type) {
        c.issues.push(`${at(key)}: ${JSON.stringify(name)} must name a crdt collection of type ${type}`)
      }
      return name
    })
  const yjsRoomCollection = collectionOfType('yjsRoomCollection', 'yjs')
  const automergeRepoCollection = collectionOfType('automergeRepoCollection', 'automerge')

  const hasStrict = Object.values(collections ?? {}).some((spec) => spec.mode === 'strict')
  if (hasStrict && members) {
    // Strict replication talks to every member directly (votes and log shipping are not relayed).
    for (const member of members) {
      if (member !== nodeId && !(peers ?? []).some((peer) => peer.nodeId === member)) {
        c.issues.push(`${at('members')}: strict collections need a full mesh; member ${JSON.stringify(member)} is not a peer of this node`)
      }
    }
  }

  if (c.issues.length > 0) throw new ConfigError(c.issues, source)
  // Every value is defined here: each undefined above pushed an issue.
  const self = nodeId as string
  const peerList = peers as PeerConfig[]
  return {
    nodeId: self,
    region: region as string,
    host: host as string,
    port: port as number,
    dataDir: dataDir as string,
    browserBundleDir: browserBundleDir as string | null,
    yjsRoomCollection: yjsRoomCollection as string | null,
    automergeRepoCollection: automergeRepoCollection as string | null,
    storage: storage as StorageKind,
    peers: peerList,
    peerSecret: peerSecret as string,
    clientToken: clientToken as string | null,
    auth: auth as AuthConfig,
    limits: { ...(limits as LimitsConfig), maxDocumentBytes: documentLimit as number },
    collections: collections as Record<string, CollectionConfig>,
    heartbeatIntervalMs: heartbeatIntervalMs as number,
    maxFrameBytes: maxFrameBytes as number,
    reconnect: reconnect as ReconnectConfig,
    groupCommitMaxDelayMs: groupCommitMaxDelayMs as number,
    members: members ?? [self, ...peerList.map((peer) => peer.nodeId)],
    ackTimeoutMs: ackTimeoutMs as number,
    maxBodyBytes: maxBodyBytes as number,
    maxSendBufferBytes: maxSendBufferBytes as number,
    resyncBudgetBytes: resyncBudgetBytes as number,
    resyncWindowMs: resyncWindowMs as number,
    httpHeadersTimeoutMs: httpHeadersTimeoutMs as number,
    httpRequestTimeoutMs: httpRequestTimeoutMs as number,
    httpKeepAliveTimeoutMs: httpKeepAliveTimeoutMs as number,
    maxConflictsPerDocument: maxConflictsPerDocument as number,
    maxConflicts: maxConflicts as number,
    snapshotEveryChanges: snapshotEveryChanges as number,
    snapshotIntervalMs: snapshotIntervalMs as number,
    retainChanges: retainChanges as number,
    maxAuthors: maxAuthors as number,
    strict: strict as StrictConfig,
    adminToken: adminToken ?? null,
    values: values as ValueLimits,
  }
}

/**
 * Reads and validates a JSON config file.
 *
 * @throws ConfigError when the file is missing, is not JSON, or fails {@link parseConfig}
 * @example
 * ```ts
 * const config = await loadConfigFile('cluster/eu-1.json')
 * ```
 */
export async function loadConfigFile(path: string): Promise<ServerConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(err)
    throw new ConfigError([`config: cannot read ${path}: ${reason}`], path)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError([`config: not valid JSON: ${(err as Error).message}`], path)
  }
  return parseConfig(json, path)
}

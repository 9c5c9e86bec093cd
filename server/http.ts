import { join } from 'node:path'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { collectionSpec, type ServerConfig, type StorageKind } from './config.js'
import { InvalidValueError } from '../core/values/storable-value.js'
import { jsonResponse } from './json-response.js'
import type { Logger } from './logger.js'
import type { ServerMetrics } from './metrics.js'
import { packageRoot } from './package-root.js'
import type { PeerLinks } from './peer-links.js'
import { WriteError, type CrdtRestConcern, type CrdtRestOp, type RegionNode, type WriteErrorCode } from './region-node.js'
import { parseVectorToken } from './region/types.js'
import { registerHealthEndpoints } from './health-endpoints.js'
import { DASHBOARD_PLACEHOLDER, readStatic } from './static.js'
import { buildStatus } from './status.js'
import { registerAdminRest } from './strict/admin-rest.js'
import type { StrictHost } from './strict/strict-host.js'
import { registerStrictRest } from './strict/strict-rest.js'
import type { Authenticator } from './auth/authenticator.js'
import { registerRestAuth } from './auth/rest-auth.js'
import type { Authorizer } from './auth/authorizer.js'
import { registerRestPermissions } from './auth/rest-permissions.js'
import { registerRestRateLimit } from './rest-rate-limit.js'

/** The longest a crdt read may wait for its `after` token: a parked request holds a socket meanwhile. */
const MAX_READ_WAIT_MS = 60_000

export type ErrorCode = WriteErrorCode | 'PAYLOAD_TOO_LARGE' | 'INTERNAL'

const STATUS_OF: Readonly<Record<ErrorCode, 400 | 404 | 413 | 500 | 503 | 504>> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  UNKNOWN_COLLECTION: 404,
  UNSUPPORTED_FOR_TYPE: 400,
  PAYLOAD_TOO_LARGE: 413,
  TOO_LARGE: 413,
  UNAVAILABLE: 503,
  NOT_YET: 504,
  INTERNAL: 500,
}


export interface HttpDeps {
  readonly config: ServerConfig
  /** Null until the node has recovered its log (the HTTP server answers health checks meanwhile). */
  readonly node: () => RegionNode | null
  readonly links: () => PeerLinks | null
  readonly strict: () => StrictHost | null
  readonly metrics: ServerMetrics
  readonly logger: Logger
  readonly storageKind: StorageKind
  readonly startedAt: number
  /** Who a REST caller is, and what it may do (docs/security.md). */
  readonly auth: Authenticator
  readonly authorizer: Authorizer
}

/** `crdt` on a node without strict collections; otherwise its strict role (`primary`, `replica`, `candidate`). */
function strictRoleName(strict: StrictHost | null): string {
  if (strict === null) return 'crdt'
  const role = strict.node.currentRole
  return role === 'follower' ? 'replica' : role
}

function json(c: Context, body: unknown, status: 200 | 400 | 404 | 413 | 500 | 503 | 504 = 200): Response {
  return jsonResponse(c, body, status)
}

function errorResponse(c: Context, code: ErrorCode, message: string): Response {
  return json(c, { error: { code, message } }, STATUS_OF[code])
}

function parseConcern(value: string | undefined): CrdtRestConcern {
  if (value === undefined || value === 'local') return 'local'
  if (value === 'all') return 'all'
  throw new WriteError('BAD_REQUEST', `w must be "local" or "all", got ${JSON.stringify(value)}`)
}

/** Conflict records listed per page when `limit` is not given, and the most one page may ask for. */
const DEFAULT_CONFLICT_PAGE = 100
const MAX_CONFLICT_PAGE = 1_000

/** A conflict cursor: a whole number (0 = before the first record). */
function parseConflictCursor(value: string, what: string): number {
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new WriteError('BAD_REQUEST', `${what} must be a conflict cursor (a whole number a listing returned, 0 for the start), got ${JSON.stringify(value)}`)
  }
  return Number(value)
}

function parseConflictLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_CONFLICT_PAGE
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > MAX_CONFLICT_PAGE) {
    throw new WriteError('BAD_REQUEST', `limit must be a whole number from 1 to ${MAX_CONFLICT_PAGE}, got ${JSON.stringify(value)}`)
  }
  return Number(value)
}

function parseFlag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '0' || value === 'false') return false
  if (value === '' || value === '1' || value === 'true') return true
  throw new WriteError('BAD_REQUEST', `${name} must be 1, true, 0 or false, got ${JSON.stringify(value)}`)
}

/** A resolve body: `{ "value": <json> }` sets the field to exactly that value, `{ "deleted": true }` deletes it. */
function parseResolution(body: Record<string, unknown>): { value: unknown } | { deleted: true } {
  const keys = Object.keys(body)
  if (keys.length === 1 && keys[0] === 'value') return { value: body.value }
  if (keys.length === 1 && keys[0] === 'deleted' && body.deleted === true) return { deleted: true }
  throw new WriteError('BAD_REQUEST', 'body must be { "value": <the resolved value> } or { "deleted": true }')
}

async function readObjectBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (err) {
    throw new WriteError('BAD_REQUEST', `body is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new WriteError('BAD_REQUEST', 'body must be a JSON object')
  }
  return body as Record<string, unknown>
}

/**
 * The HTTP surfaces of one node (docs/server.md): health, readiness, status (CORS *),
 * Prometheus metrics, REST on lww collections, conflict records, and the static dashboard, example
 * app and browser bundle.
 *
 * @example
 * ```ts
 * const app = createHttpApp(deps)
 * const server = http.createServer(getRequestListener(app.fetch))
 * ```
 */
export function createHttpApp(deps: HttpDeps): Hono {
  const { config, metrics, logger } = deps
  const app = new Hono()
  const root = packageRoot()

  const serving = (): RegionNode => {
    const node = deps.node()
    if (node === null || !node.recovered) throw new WriteError('UNAVAILABLE', 'the node is still recovering its log')
    return node
  }

  app.onError((err, c) => {
    if (err instanceof WriteError) return errorResponse(c, err.code, err.message)
    if (err instanceof InvalidValueError) {
      metrics.invalidValues.inc({ surface: 'rest' })
      return json(c, { error: err.toJSON() }, 400)
    }
    logger.error(`${c.req.method} ${c.req.path} failed`, err)
    return errorResponse(c, 'INTERNAL', 'internal error')
  })
  app.notFound((c) => errorResponse(c, 'NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`))

  app.get('/healthz', (c) =>
    json(c, {
      ok: true,
      nodeId: config.nodeId,
      region: config.region,
      role: strictRoleName(deps.strict()),
      pid: process.pid,
      uptimeMs: Date.now() - deps.startedAt,
    }),
  )

  app.get('/readyz', (c) => {
    const node = deps.node()
    const links = deps.links()
    const peers: Record<string, string> = {}
    for (const link of links?.snapshot() ?? []) peers[link.peer.nodeId] = link.state
    const storageRecovered = node?.recovered ?? false
    const storageFailed = (node !== null && node.storageFailure !== null) || (deps.strict()?.storageFailed ?? null) !== null
    const ready = storageRecovered && !storageFailed
    return json(c, { ready, storageRecovered, ...(storageFailed ? { storageFailed: true } : {}), peers }, ready ? 200 : 503)
  })

  registerHealthEndpoints(app, { node: deps.node, strict: deps.strict })

  app.use('/status', cors({ origin: '*', allowMethods: ['GET', 'OPTIONS'] }))
  app.get('/status', (c) => {
    const node = serving()
    const links = deps.links()
    if (links === null) throw new WriteError('UNAVAILABLE', 'the node is starting')
    return json(c, buildStatus({ config, node, links, strict: deps.strict(), storageKind: deps.storageKind, startedAt: deps.startedAt }))
  })

  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  )

  // ---- REST --------------------------------------------------------------------------------------
  const tooLarge = (c: Context) => errorResponse(c, 'PAYLOAD_TOO_LARGE', `request bodies are limited to ${config.maxBodyBytes} bytes`)
  const streamingLimit = bodyLimit({ maxSize: config.maxBodyBytes, onError: tooLarge })
  // A declared Content-Length is checked from the header alone: hono's bodyLimit reads `raw.body`, which
  // makes the node adapter build a full fetch Request per call (a tenth of a strict write's CPU).
  // Chunked bodies (no length) still go through bodyLimit, which counts as it streams.
  const limit = async (c: Context, next: () => Promise<void>) => {
    const declared = c.req.header('content-length')
    if (declared === undefined) return streamingLimit(c, next)
    if (Number(declared) > config.maxBodyBytes) return tooLarge(c)
    await next()
  }

  registerAdminRest(app, { config, strict: deps.strict })
  // [limits] Before authentication: a flood of writes with bad credentials is charged too.
  registerRestRateLimit(app, config.limits.maxRestWritesPerSecondPerIp, metrics)
  registerRestAuth(app, deps.auth)
  // Strict collections first; their handlers pass other collections on to the crdt routes below.
  app.use('/v1/:collection/*', async (c, next) => (['PUT', 'PATCH', 'POST'].includes(c.req.method) ? limit(c, next) : next()))
  registerRestPermissions(app, deps.authorizer)
  registerStrictRest(app, { config, strict: deps.strict, metrics })

  // Conflict records (docs/server.md, "Conflicts"): before the document routes, which would read
  // `_conflicts` as a document id.
  app.get('/v1/:collection/_conflicts', (c) => {
    const node = serving()
    const after = parseConflictCursor(c.req.query('after') ?? '0', 'after')
    const limit = parseConflictLimit(c.req.query('limit'))
    const unresolved = parseFlag(c.req.query('unresolved'), 'unresolved')
    const page = node.listConflicts(c.req.param('collection'), after, limit, unresolved)
    return json(c, { node: config.nodeId, ...page })
  })
  app.get('/v1/:collection/:id/_conflicts', (c) => {
    const node = serving()
    const unresolved = parseFlag(c.req.query('unresolved'), 'unresolved')
    const conflicts = node.conflictsOf(c.req.param('collection'), c.req.param('id')).filter((record) => !unresolved || !record.resolved)
    return json(c, { conflicts })
  })
  app.post('/v1/:collection/:id/_conflicts/:cursor/resolve', async (c) => {
    const node = serving()
    const cursor = parseConflictCursor(c.req.param('cursor'), 'the cursor')
    const w = parseConcern(c.req.query('w'))
    const resolution = parseResolution(await readObjectBody(c))
    const result = await node.resolveConflict(c.req.param('collection'), c.req.param('id'), cursor, resolution, w)
    return jsonResponse(c, result, 200, crdtHeaders(node, result.token))
  })

  /**
   * What every crdt REST answer carries (docs/server.md, "Tokens and lag"): the token of what this region
   * held when it answered, which region answered, and how stale that region may be.
   */
  const crdtHeaders = (node: RegionNode, token: string): Record<string, string> => {
    const lag = node.stalenessMs()
    return { 'x-meridian-token': token, 'x-meridian-node': config.nodeId, 'x-meridian-lag-ms': lag === null ? 'unknown' : String(lag) }
  }

  app.get('/v1/:collection/:id', async (c) => {
    const node = serving()
    const collection = c.req.param('collection')
    const id = c.req.param('id')
    const afterParam = c.req.query('after')
    const timeoutParam = c.req.query('timeoutMs')
    if (timeoutParam !== undefined && (!/^\d{1,9}$/.test(timeoutParam) || Number(timeoutParam) > MAX_READ_WAIT_MS)) {
      throw new WriteError('BAD_REQUEST', `timeoutMs must be a whole number of milliseconds up to ${MAX_READ_WAIT_MS}, got ${JSON.stringify(timeoutParam)}`)
    }
    let result
    if (afterParam === undefined || afterParam === '') result = node.read(collection, id)
    else {
      const after = parseVectorToken(afterParam)
      if (after === null) throw new WriteError('BAD_REQUEST', 'after must be a token this API returned (x-meridian-token of a crdt write or read)')
      result = await node.readAfter(collection, id, after, timeoutParam === undefined ? config.strict.readTimeoutMs : Number(timeoutParam))
    }
    return jsonResponse(c, result, 200, crdtHeaders(node, result.token))
  })

  const write = (op: CrdtRestOp) => async (c: Context) => {
    const node = serving()
    const w = parseConcern(c.req.query('w'))
    const body = op === 'delete' ? null : await readObjectBody(c)
    const result = await node.write(op, c.req.param('collection') ?? '', c.req.param('id') ?? '', body, w)
    return jsonResponse(c, result, 200, crdtHeaders(node, result.token))
  }
  app.put('/v1/:collection/:id', write('put'))
  app.patch('/v1/:collection/:id', write('patch'))
  app.delete('/v1/:collection/:id', write('delete'))

  app.post('/v1/:collection/_batch', (c) => {
    const collection = c.req.param('collection')
    const spec = collectionSpec(config, collection)
    if (spec === undefined) return errorResponse(c, 'UNKNOWN_COLLECTION', `no collection ${JSON.stringify(collection)}`)
    return errorResponse(c, 'UNSUPPORTED_FOR_TYPE', 'atomic batches are a strict-mode feature')
  })

  // ---- static: dashboard, example app, browser bundle --------------------------------------------
  const noCache = { 'cache-control': 'no-cache' }
  app.get('/', async (c) => {
    const file = await readStatic(join(root, 'server', 'dashboard'), 'index.html')
    if (file === null) return c.html(DASHBOARD_PLACEHOLDER, 200, noCache)
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': file.contentType, ...noCache })
  })
  app.get('/dashboard.js', async (c) => {
    const file = await readStatic(join(root, 'server', 'dashboard'), 'dashboard.js')
    if (file === null) return c.text('// the dashboard is not built: server/dashboard/dashboard.js is missing\n', 404)
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': file.contentType, ...noCache })
  })
  app.get('/app', (c) => c.redirect('/app/', 301))
  app.get('/app/*', async (c) => {
    const file = await readStatic(join(root, 'examples', 'todo'), c.req.path.slice('/app/'.length))
    if (file === null) return c.text(`not found: ${c.req.path} (the example app lives in examples/todo/)\n`, 404)
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': file.contentType, ...noCache })
  })
  // The other examples' browser pages (docs/examples.md): /examples/text/, /examples/kanban/.
  app.get('/examples/*', async (c) => {
    const file = await readStatic(join(root, 'examples'), c.req.path.slice('/examples/'.length))
    if (file === null) return c.text(`not found: ${c.req.path} (the examples live in examples/)\n`, 404)
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': file.contentType, ...noCache })
  })
  // The browser bundles (docs/client.md, Bundles): entries, their shared chunks/ and automerge.wasm.
  const bundleDir = config.browserBundleDir ?? join(root, 'dist', 'browser')
  app.get('/bundle/*', async (c) => {
    const name = c.req.path.slice('/bundle/'.length)
    const file = await readStatic(bundleDir, name)
    if (file === null) {
      const hint = config.browserBundleDir === null ? 'run npm run build' : `browserBundleDir is ${config.browserBundleDir}`
      return c.text(`${name} is not among the browser bundles (${hint})\n`, 404, { 'content-type': 'text/plain; charset=utf-8' })
    }
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': file.contentType, ...noCache })
  })

  return app
}

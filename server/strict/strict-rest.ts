import type { Context, Hono, MiddlewareHandler } from 'hono'
import {
  READ_PREFERENCES,
  WRITE_CONCERNS,
  MAX_REQUEST_KEY_LENGTH,
  entrySizeProblem,
  type DocumentOp,
  type JsonValue,
  formatPosition,
  parsePosition,
  type LogPosition,
  type Precondition,
  type ReadPreference,
  type StrictReadReply,
  type StrictWriteReply,
  type WriteConcern,
  type WriteOp,
  writeOpValueProblem,
} from '../../core/strict/index.js'
import { collectionSpec, type ServerConfig } from '../config.js'
import { jsonResponse } from '../json-response.js'
import type { ServerMetrics } from '../metrics.js'
import type { StrictHost } from './strict-host.js'
import { strictOpProblem } from './strict-routing.js'


/** A malformed REST request: 400 with a stable code. */
class BadRequest extends Error {}

type Status = 200 | 202 | 400 | 401 | 403 | 404 | 409 | 410 | 503 | 504

const respond = (c: Context, body: unknown, status: Status, headers: Record<string, string> = {}): Response => jsonResponse(c, body, status, headers)

function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } }
}

/** `epoch:lsn` → position; BadRequest otherwise. */
function parseToken(value: string, name = 'after'): LogPosition {
  const position = parsePosition(value)
  if (position === null) throw new BadRequest(`${name} must be a token "epoch:lsn" as returned by a write, got ${JSON.stringify(value)}`)
  return position
}

function parseConcern(value: string | undefined): WriteConcern {
  if (value === undefined) return 'majority'
  if ((WRITE_CONCERNS as readonly string[]).includes(value)) return value as WriteConcern
  throw new BadRequest(`w must be one of ${WRITE_CONCERNS.join(', ')}; got ${JSON.stringify(value)}`)
}

function parseReadPreference(value: string | undefined, fallback: ReadPreference): ReadPreference {
  if (value === undefined) return fallback
  if ((READ_PREFERENCES as readonly string[]).includes(value)) return value as ReadPreference
  throw new BadRequest(`read must be one of ${READ_PREFERENCES.join(', ')}; got ${JSON.stringify(value)}`)
}

function parseMs(value: string | undefined, name: string): number | null {
  if (value === undefined) return null
  if (!/^\d{1,9}$/.test(value)) throw new BadRequest(`${name} must be a whole number of milliseconds, got ${JSON.stringify(value)}`)
  return Number(value)
}

function parsePrecondition(source: { expectVersion?: unknown; exists?: unknown }, where: string): Precondition | undefined {
  const out: { expectVersion?: number; exists?: boolean } = {}
  const { expectVersion, exists } = source
  if (expectVersion !== undefined) {
    const n = typeof expectVersion === 'string' && /^\d{1,15}$/.test(expectVersion) ? Number(expectVersion) : expectVersion
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new BadRequest(`${where}expectVersion must be a version number (0 = must not exist), got ${JSON.stringify(expectVersion)}`)
    out.expectVersion = n
  }
  if (exists !== undefined) {
    const b = exists === 'true' ? true : exists === 'false' ? false : exists
    if (typeof b !== 'boolean') throw new BadRequest(`${where}exists must be true or false, got ${JSON.stringify(exists)}`)
    out.exists = b
  }
  return Object.keys(out).length > 0 ? out : undefined
}

function withPrecondition<T extends DocumentOp>(op: T, precondition: Precondition | undefined): T {
  return precondition === undefined ? op : { ...op, precondition }
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text()
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new BadRequest(`body is not valid JSON: ${(err as Error).message}`)
  }
}

function isPlainObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** One op of a `_batch` body: `{ op: 'put'|'patch'|'delete', id, collection?, value?, fields?, expectVersion?, exists? }`. */
function parseBatchOp(raw: unknown, index: number, collection: string): DocumentOp {
  const where = `ops[${index}].`
  if (!isPlainObject(raw)) throw new BadRequest(`${where.slice(0, -1)} must be an object`)
  const id = raw.id
  if (typeof id !== 'string' || id === '') throw new BadRequest(`${where}id must be a non-empty string`)
  const target = raw.collection === undefined ? collection : raw.collection
  if (typeof target !== 'string' || target === '') throw new BadRequest(`${where}collection must be a non-empty string`)
  const precondition = parsePrecondition(raw as { expectVersion?: unknown; exists?: unknown }, where)
  switch (raw.op) {
    case 'put':
      if (!Object.hasOwn(raw, 'value')) throw new BadRequest(`${where}value is required for put`)
      return withPrecondition({ kind: 'put', collection: target, id, value: raw.value as JsonValue }, precondition)
    case 'patch':
      if (!isPlainObject(raw.fields)) throw new BadRequest(`${where}fields must be an object for patch`)
      return withPrecondition({ kind: 'patch', collection: target, id, fields: raw.fields }, precondition)
    case 'delete':
      return withPrecondition({ kind: 'delete', collection: target, id }, precondition)
    default:
      throw new BadRequest(`${where}op must be "put", "patch" or "delete", got ${JSON.stringify(raw.op)}`)
  }
}

/** Longest `idempotency-key` accepted: keys are kept in the replicated state and its snapshots. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = MAX_REQUEST_KEY_LENGTH

/** The `idempotency-key` header → the write's request key (null without one). */
function parseIdempotencyKey(value: string | undefined): string | null {
  if (value === undefined) return null
  if (value === '' || value.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new BadRequest(`idempotency-key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, got ${value.length}`)
  }
  return value
}

/** The node that answered and how stale its state may be ([RD3]; 0 on the primary), as on reads. */
function answeredBy(host: StrictHost): Record<string, string> {
  const staleness = host.node.status().stalenessMs
  return { 'x-meridian-node': host.nodeId, 'x-meridian-lag-ms': staleness === null ? 'unknown' : String(Math.round(staleness)) }
}

function writeResponse(c: Context, reply: StrictWriteReply, host: StrictHost): Response {
  if (reply.status === 'acknowledged') {
    const body = { status: 'acknowledged', token: formatPosition(reply.token), requested: reply.requested, level: reply.level, degraded: reply.degraded }
    return respond(c, reply.duplicate === true ? { ...body, duplicate: true } : body, 200, {
      'x-meridian-token': formatPosition(reply.token),
      ...answeredBy(host),
    })
  }
  if (reply.status === 'indeterminate') {
    // [ST3] Not a failure: the write may yet survive. 202 says "accepted, outcome unknown".
    return respond(c, { status: 'indeterminate', token: reply.token === null ? null : formatPosition(reply.token), requested: reply.requested, reason: reply.reason, reached: reply.reached }, 202)
  }
  const error = reply.error
  switch (error.code) {
    case 'PRECONDITION_FAILED':
      return respond(c, errorBody(error.code, `precondition failed on ${error.key} (op ${error.opIndex}): version is ${error.actualVersion}`, { key: error.key, opIndex: error.opIndex, expected: error.expected, actualVersion: error.actualVersion }), 409)
    case 'INVALID_OP':
      return respond(c, errorBody(error.code, error.message), 400)
    case 'INVALID_VALUE':
      return respond(c, errorBody(error.code, error.message, { path: error.path, rule: error.rule, limit: error.limit }), 400)
    case 'NOT_PRIMARY':
      return respond(c, errorBody(error.code, `not the primary (epoch ${error.epoch}); nothing was written`, { epoch: error.epoch, primaryHint: error.primaryHint }), 503)
    case 'UNAVAILABLE':
      return respond(c, errorBody(error.code, error.message), 503)
    case 'FORBIDDEN':
      return respond(c, errorBody(error.code, error.message), 403)
  }
}

const READ_ERROR_STATUS: Readonly<Record<string, Status>> = {
  TOKEN_ROLLED_BACK: 410,
  NOT_YET: 504,
  TOO_STALE: 503,
  UNAVAILABLE: 503,
  INVALID_REQUEST: 400,
}

function readResponse(c: Context, collection: string, id: string, reply: StrictReadReply): Response {
  if (reply.status === 'rejected') return respond(c, errorBody(reply.error.code, reply.error.message), READ_ERROR_STATUS[reply.error.code] ?? 503)
  const headers: Record<string, string> = {
    'x-meridian-token': formatPosition({ epoch: reply.appliedEpoch, lsn: reply.appliedLsn }),
    'x-meridian-node': reply.node,
    // [RD3] how stale the serving node was; "unknown" when it never heard from a primary.
    'x-meridian-lag-ms': reply.lagMs === null ? 'unknown' : String(reply.lagMs),
  }
  if (reply.document === null) return respond(c, errorBody('NOT_FOUND', `no document ${collection}/${id}`), 404, headers)
  return respond(c, { id, value: reply.document.value, version: reply.document.version, token: headers['x-meridian-token'], node: reply.node, lagMs: reply.lagMs }, 200, headers)
}

export interface StrictRestDeps {
  readonly config: ServerConfig
  readonly strict: () => StrictHost | null
  readonly metrics: ServerMetrics
}

/**
 * REST on strict collections (docs/strict.md): `PUT|PATCH|DELETE /v1/:collection/:id?w=&timeoutMs=&expectVersion=&exists=`,
 * `POST /v1/:collection/_batch` (writes take an optional `idempotency-key` header: at most once), `GET /v1/:collection/:id?read=&after=&maxStalenessMs=&timeoutMs=`.
 * Registered before the crdt routes; requests for other collections pass through.
 */
export function registerStrictRest(app: Hono, deps: StrictRestDeps): void {
  const { config } = deps
  const isStrict = (collection: string | undefined) =>
    collection !== undefined && collectionSpec(config, collection)?.mode === 'strict'

  const guard = (handler: (c: Context, host: StrictHost) => Promise<Response>): MiddlewareHandler => async (c, next) => {
    if (!isStrict(c.req.param('collection'))) return next()
    const host = deps.strict()
    if (host === null) return respond(c, errorBody('UNAVAILABLE', 'strict mode is starting'), 503)
    try {
      return await handler(c, host)
    } catch (err) {
      if (err instanceof BadRequest) return respond(c, errorBody('BAD_REQUEST', err.message), 400)
      throw err
    }
  }

  const submit = async (c: Context, host: StrictHost, op: WriteOp, body?: Record<string, unknown>) => {
    const problem = strictOpProblem(op, config)
    if (problem !== null) throw new BadRequest(problem)
    // Refused here, on whichever node the request reached, before it is forwarded or logged.
    const invalidValue = writeOpValueProblem(op, config.values)
    if (invalidValue !== null) {
      deps.metrics.invalidValues.inc({ surface: 'rest' })
      return writeResponse(c, { status: 'rejected', error: invalidValue }, host)
    }
    const concern = parseConcern(c.req.query('w') ?? (typeof body?.w === 'string' ? body.w : undefined))
    const timeoutMs = parseMs(c.req.query('timeoutMs') ?? (body?.timeoutMs === undefined ? undefined : String(body.timeoutMs)), 'timeoutMs')
    const requestKey = parseIdempotencyKey(c.req.header('idempotency-key'))
    // A body within maxBodyBytes may still make an entry too large to replicate (many ops, long ids) [IN3].
    const tooLarge = entrySizeProblem(op, requestKey, host.node.maxEntryBytes)
    if (tooLarge !== null) return writeResponse(c, { status: 'rejected', error: { code: 'INVALID_OP', message: tooLarge } }, host)
    return writeResponse(c, await host.write({ op, concern, timeoutMs, requestKey }), host)
  }

  app.post('/v1/:collection/_batch', guard(async (c, host) => {
    const body = await readJson(c)
    if (!isPlainObject(body) || !Array.isArray(body.ops)) throw new BadRequest('body must be { "ops": [ … ] }')
    if (body.ops.length === 0) throw new BadRequest('ops must hold at least one op')
    const collection = c.req.param('collection') ?? ''
    const ops = body.ops.map((raw, i) => parseBatchOp(raw, i, collection))
    return submit(c, host, { kind: 'batch', ops }, body)
  }))

  app.get('/v1/:collection/_conflicts', guard(async () => {
    throw new BadRequest('strict collections have no conflicts: one primary orders every write')
  }))
  app.get('/v1/:collection/:id/_conflicts', guard(async () => {
    throw new BadRequest('strict collections have no conflicts: one primary orders every write')
  }))

  app.get('/v1/:collection/:id', guard(async (c, host) => {
    const collection = c.req.param('collection') ?? ''
    const id = c.req.param('id') ?? ''
    const after = c.req.query('after')
    // The collection's configured defaults apply when the query does not say (docs/server.md, "Strict read defaults").
    const spec = collectionSpec(config, collection)
    const defaults = spec?.mode === 'strict' ? spec : undefined
    const maxStalenessMs = parseMs(c.req.query('maxStalenessMs'), 'maxStalenessMs')
    const reply = await host.read({
      collection,
      id,
      after: after === undefined || after === '' ? null : parseToken(after),
      read: parseReadPreference(c.req.query('read'), defaults?.read ?? 'primary'),
      maxStalenessMs: maxStalenessMs ?? defaults?.maxStalenessMs ?? null,
      timeoutMs: parseMs(c.req.query('timeoutMs'), 'timeoutMs'),
    })
    return readResponse(c, collection, id, reply)
  }))

  const precondition = (c: Context) => parsePrecondition({ expectVersion: c.req.query('expectVersion'), exists: c.req.query('exists') }, '')
  app.put('/v1/:collection/:id', guard(async (c, host) => {
    const value = (await readJson(c)) as JsonValue
    return submit(c, host, withPrecondition({ kind: 'put', collection: c.req.param('collection') ?? '', id: c.req.param('id') ?? '', value }, precondition(c)))
  }))
  app.patch('/v1/:collection/:id', guard(async (c, host) => {
    const fields = await readJson(c)
    if (!isPlainObject(fields)) throw new BadRequest('a patch body must be a JSON object of fields (null deletes a field)')
    return submit(c, host, withPrecondition({ kind: 'patch', collection: c.req.param('collection') ?? '', id: c.req.param('id') ?? '', fields }, precondition(c)))
  }))
  app.delete('/v1/:collection/:id', guard(async (c, host) =>
    submit(c, host, withPrecondition({ kind: 'delete', collection: c.req.param('collection') ?? '', id: c.req.param('id') ?? '' }, precondition(c))),
  ))
}

export { BadRequest as StrictBadRequest }

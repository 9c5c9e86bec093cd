import type { Context, Hono } from 'hono'
import type { ServerConfig } from '../config.js'
import { jsonResponse } from '../json-response.js'
import { secretsEqual } from '../secrets.js'
import type { StrictHost } from './strict-host.js'

/** Rollback records per page of `GET /admin/rollbacks` (and the largest `limit`). */
const ROLLBACK_PAGE = 1000

/** A positive integer query parameter; `fallback` when absent, null when malformed. */
function pageParam(value: string | undefined, fallback: number): number | null {
  if (value === undefined) return fallback
  const n = Number(value)
  return /^[0-9]{1,15}$/.test(value) && n >= 1 ? n : null
}

const respond = (c: Context, body: unknown, status: 200 | 400 | 401 | 403 | 404 | 409 | 503 | 504): Response => jsonResponse(c, body, status)

/** [FO3] How long a switchover waits for its target by default, and how often it looks. */
const DEFAULT_SWITCHOVER_TIMEOUT_MS = 10_000
const MAX_SWITCHOVER_TIMEOUT_MS = 120_000
const SWITCHOVER_POLL_MS = 5

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** `{ "to": "<nodeId>", "timeoutMs"?: n }`, or what is wrong with it. */
async function readSwitchoverBody(c: Context): Promise<{ to: string; timeoutMs?: number } | string> {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    return 'the body must be JSON: { "to": "<nodeId>", "timeoutMs"?: n }'
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be an object: { "to": "<nodeId>", "timeoutMs"?: n }'
  const { to, timeoutMs, ...rest } = body as Record<string, unknown>
  if (Object.keys(rest).length > 0) return `unknown field ${JSON.stringify(Object.keys(rest)[0])}`
  if (typeof to !== 'string' || to === '') return '`to` must be a node id'
  if (timeoutMs === undefined) return { to }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_SWITCHOVER_TIMEOUT_MS) {
    return `\`timeoutMs\` must be an integer from 1 to ${MAX_SWITCHOVER_TIMEOUT_MS}`
  }
  return { to, timeoutMs }
}

export interface AdminRestDeps {
  readonly config: ServerConfig
  readonly strict: () => StrictHost | null
}

/**
 * Operator actions [FO2]: `POST /admin/promote` (stand for election now; the vote rule still
 * decides) and `POST /admin/stepdown` (hand over to the most caught-up replica); and `GET
 * /admin/rollbacks?from=&limit=`, the entries this node rolled back [ST5], oldest first, up to 1,000 per
 * page (`next` names the next page's `from`). All need
 * `Authorization: Bearer <adminToken>` (MERIDIAN_ADMIN_TOKEN); without a configured token the admin API
 * is off. They obey the same fencing as any election: a promoted node with a stale log loses.
 */
export function registerAdminRest(app: Hono, deps: AdminRestDeps): void {
  const authorize = (c: Context): Response | StrictHost => {
    const token = deps.config.adminToken
    if (token === null) return respond(c, { error: { code: 'ADMIN_DISABLED', message: 'the admin API is off: set MERIDIAN_ADMIN_TOKEN (or adminToken in the config)' } }, 403)
    const header = c.req.header('authorization') ?? ''
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : ''
    if (given === '' || !secretsEqual(given, token)) return respond(c, { error: { code: 'UNAUTHORIZED', message: 'missing or wrong admin token (Authorization: Bearer …)' } }, 401)
    const host = deps.strict()
    if (host === null) return respond(c, { error: { code: 'NO_STRICT', message: 'this node has no strict collections' } }, 400)
    return host
  }
  const summary = (host: StrictHost) => {
    const status = host.node.status()
    return { nodeId: host.nodeId, role: status.role === 'follower' ? 'replica' : status.role, epoch: status.epoch, primary: status.role === 'primary' ? host.nodeId : status.primaryHint }
  }

  app.post('/admin/promote', async (c) => {
    const host = authorize(c)
    if (host instanceof Response) return host
    if (host.node.currentRole === 'primary') return respond(c, { promoted: true, ...summary(host) }, 200)
    if (!host.promote('admin API').stood) {
      return respond(c, { error: { code: 'NO_FAILOVER', message: `${host.nodeId} is configured never to become primary (strict.noFailover or priority 0)`, ...summary(host) } }, 409)
    }
    // An election takes a round trip; wait up to two election timeouts for its result.
    const deadline = performance.now() + 2 * deps.config.strict.electionTimeoutMaxMs
    const isPrimary = (): boolean => host.node.currentRole === 'primary'
    while (!isPrimary() && performance.now() < deadline) await host.waitForRoleChange(deadline - performance.now())
    const promoted = isPrimary()
    return respond(c, { promoted, ...summary(host), ...(promoted ? {} : { message: 'the election was not won (a node with a more up-to-date log or a newer epoch exists, or no majority is reachable)' }) }, promoted ? 200 : 409)
  })

  app.get('/admin/rollbacks', async (c) => {
    const host = authorize(c)
    if (host instanceof Response) return host
    const from = pageParam(c.req.query('from'), 1)
    const limit = pageParam(c.req.query('limit'), ROLLBACK_PAGE)
    if (from === null || limit === null) {
      return respond(c, { error: { code: 'INVALID_REQUEST', message: '`from` and `limit` must be positive integers' } }, 400)
    }
    const page = await host.rollbacks(from, Math.min(limit, ROLLBACK_PAGE))
    return respond(c, { nodeId: host.nodeId, rollbacks: page.records, next: page.next }, 200)
  })

  app.post('/admin/switchover', async (c) => {
    const host = authorize(c)
    if (host instanceof Response) return host
    const body = await readSwitchoverBody(c)
    if (typeof body === 'string') return respond(c, { error: { code: 'INVALID_REQUEST', message: body } }, 400)
    const started = performance.now()
    const elapsedMs = (): number => Math.round(performance.now() - started)
    if (body.to === host.nodeId && host.node.currentRole === 'primary') return respond(c, { primary: host.nodeId, elapsedMs: 0 }, 200)
    const timeoutMs = body.timeoutMs ?? DEFAULT_SWITCHOVER_TIMEOUT_MS
    const outcome = host.switchover('admin API', body.to, timeoutMs)
    if (outcome === 'unknown-member') return respond(c, { error: { code: 'UNKNOWN_NODE', message: `${JSON.stringify(body.to)} is not a member of this cluster` } }, 404)
    if (outcome === 'no-failover') return respond(c, { error: { code: 'TARGET_NO_FAILOVER', message: `${body.to} is configured never to become primary (strict.noFailover or priority 0)` } }, 409)
    if (outcome === 'not-primary') return respond(c, { error: { code: 'NOT_PRIMARY', message: `${host.nodeId} is not the primary`, ...summary(host) } }, 409)
    // Done once this node hears the target as primary of a newer epoch. The core ends the switchover
    // at its deadline (writes resume here); a little slack lets the target's first append arrive.
    const deadline = performance.now() + timeoutMs + 2 * deps.config.strict.heartbeatIntervalMs
    const tookOver = (): boolean => host.node.currentRole !== 'primary' && host.node.status().primaryHint === body.to
    while (!tookOver() && performance.now() < deadline && !host.isClosed) {
      if (host.node.currentRole === 'primary' && host.node.switchoverTarget === null) break
      await sleep(SWITCHOVER_POLL_MS)
    }
    if (tookOver()) return respond(c, { primary: body.to, elapsedMs: elapsedMs() }, 200)
    const still = host.node.currentRole === 'primary'
    return respond(c, {
      error: {
        code: 'SWITCHOVER_TIMEOUT',
        message: still
          ? `${body.to} did not catch up and take over within ${timeoutMs} ms; ${host.nodeId} takes writes again`
          : `${body.to} did not take over within ${timeoutMs} ms; ${host.nodeId} is no longer primary`,
        ...summary(host),
        elapsedMs: elapsedMs(),
      },
    }, 504)
  })

  app.post('/admin/stepdown', async (c) => {
    const host = authorize(c)
    if (host instanceof Response) return host
    if (!host.stepDown('admin API')) return respond(c, { error: { code: 'NOT_PRIMARY', message: `${host.nodeId} is not the primary`, ...summary(host) } }, 409)
    return respond(c, { steppedDown: true, ...summary(host) }, 200)
  })
}

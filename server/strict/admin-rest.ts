import type { Context, Hono } from 'hono'
import type { ServerConfig } from '../config.js'
import { jsonResponse } from '../json-response.js'
import { secretsEqual } from '../session.js'
import type { StrictHost } from './strict-host.js'

/** Rollback records per page of `GET /admin/rollbacks` (and the largest `limit`). */
const ROLLBACK_PAGE = 1000

/** A positive integer query parameter; `fallback` when absent, null when malformed. */
function pageParam(value: string | undefined, fallback: number): number | null {
  if (value === undefined) return fallback
  const n = Number(value)
  return /^[0-9]{1,15}$/.test(value) && n >= 1 ? n : null
}

const respond = (c: Context, body: unknown, status: 200 | 400 | 401 | 403 | 409 | 503): Response => jsonResponse(c, body, status)

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
    host.promote('admin API')
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

  app.post('/admin/stepdown', async (c) => {
    const host = authorize(c)
    if (host instanceof Response) return host
    if (!host.stepDown('admin API')) return respond(c, { error: { code: 'NOT_PRIMARY', message: `${host.nodeId} is not the primary`, ...summary(host) } }, 409)
    return respond(c, { steppedDown: true, ...summary(host) }, 200)
  })
}

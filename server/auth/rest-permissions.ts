import type { Context, Hono } from 'hono'
import type { Authorizer } from './authorizer.js'
import type { WriteOpKind } from './permissions.js'
import { ANONYMOUS, type Principal } from './principal.js'
import { principalOf } from './rest-auth.js'

const OP_OF_METHOD: Readonly<Record<string, WriteOpKind>> = { PUT: 'put', PATCH: 'patch', DELETE: 'delete' }

function forbidden(c: Context, principal: Principal, what: string): Response {
  return c.json({ error: { code: 'FORBIDDEN', message: `${principal.id} may not ${what}` } }, 403)
}

/**
 * Permissions on REST (docs/security.md, "Permissions"), for crdt and strict collections alike, before
 * any handler runs: a document read needs `read`, a write `write` (per operation on strict
 * collections), a batch `write` on every document it touches, the collection-wide conflict list `read`
 * of the whole collection. Refusals are 403 `FORBIDDEN`; nothing is read or written. Registered after
 * authentication and the body limit.
 */
export function registerRestPermissions(app: Hono, authorizer: Authorizer): void {
  if (!authorizer.restricts) return
  app.use('/v1/:collection/*', async (c, next) => {
    const principal = principalOf(c) ?? ANONYMOUS
    const collection = c.req.param('collection') ?? ''
    // /v1/<collection>/<id>[/_conflicts[/<cursor>/resolve]]; the id decoded once, as the router decodes it.
    const rest = c.req.path.split('/').slice(3)
    const id = rest[0] === undefined ? '' : safeDecode(rest[0])
    const method = c.req.method
    if (rest.length === 1 && id === '_conflicts') {
      if (!authorizer.mayRead(principal, collection, null)) return forbidden(c, principal, `list the conflicts of all of ${collection}`)
    } else if (rest.length === 1 && id === '_batch' && method === 'POST') {
      for (const target of await batchTargets(c, collection)) {
        if (!authorizer.mayWrite(principal, target.collection, target.id, target.op)) return forbidden(c, principal, `${target.op} ${target.collection}/${target.id}`)
      }
    } else if (rest[1] === '_conflicts' && rest.length > 2) {
      if (!authorizer.mayWrite(principal, collection, id)) return forbidden(c, principal, `resolve conflicts of ${collection}/${id}`)
    } else if (method === 'GET' || method === 'HEAD') {
      if (!authorizer.mayRead(principal, collection, id)) return forbidden(c, principal, `read ${collection}/${id}`)
    } else {
      const op = OP_OF_METHOD[method]
      if (op !== undefined && !authorizer.mayWrite(principal, collection, id, op)) return forbidden(c, principal, `${op} ${collection}/${id}`)
    }
    await next()
    return undefined
  })
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** The documents a `_batch` body writes; malformed ops are left to the handler, which refuses the whole batch. */
async function batchTargets(c: Context, collection: string): Promise<{ collection: string; id: string; op: WriteOpKind }[]> {
  let body: unknown
  try {
    body = JSON.parse(await c.req.text())
  } catch {
    return []
  }
  const ops = (body as { ops?: unknown } | null)?.ops
  if (!Array.isArray(ops)) return []
  const targets: { collection: string; id: string; op: WriteOpKind }[] = []
  for (const raw of ops) {
    const op = (raw as { op?: unknown } | null)?.op
    const id = (raw as { id?: unknown } | null)?.id
    const target = (raw as { collection?: unknown } | null)?.collection ?? collection
    if ((op === 'put' || op === 'patch' || op === 'delete') && typeof id === 'string' && typeof target === 'string') targets.push({ collection: target, id, op })
  }
  return targets
}

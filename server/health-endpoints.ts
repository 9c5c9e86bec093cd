import type { Context, Hono } from 'hono'
import { jsonResponse } from './json-response.js'
import type { RegionNode } from './region-node.js'
import type { StrictHost } from './strict/strict-host.js'

/**
 * Health checks for load balancers, as Patroni gives HAProxy (docs/server.md, "Health checks for load
 * balancers"): the status code alone says whether this node should get the traffic, so that HAProxy's
 * `option httpchk` (or any balancer's HTTP check) routes writes to the primary and reads to replicas.
 *
 * - `GET /primary`: 200 only on the strict primary;
 * - `GET /replica[?lag=<ms>]`: 200 only on a strict replica, and with `lag` only when its reads are at
 *   most that stale ([RD3]: the time since it last had applied everything the primary reported committed);
 * - `GET /read-only`: 200 on a node that serves reads: the primary, a replica, or a node without strict
 *   collections (crdt only: every region serves reads and writes).
 * Anything else, 503, with a JSON body that says why. A node still recovering its storage, or whose
 * storage failed, answers 503 everywhere. `lag` that is not a number ≥ 0 is 400 `INVALID_REQUEST`.
 */
export interface HealthDeps {
  readonly node: () => RegionNode | null
  readonly strict: () => StrictHost | null
}

interface Health {
  readonly role: 'primary' | 'replica' | 'candidate' | 'crdt' | 'starting'
  readonly ready: boolean
  readonly epoch: number | null
  readonly primary: string | null
  readonly stalenessMs: number | null
  readonly reason?: string
}

function health(deps: HealthDeps): Health {
  const node = deps.node()
  const strict = deps.strict()
  const ready = node !== null && node.recovered && node.storageFailure === null && (strict?.storageFailed ?? null) === null
  if (node === null) return { role: 'starting', ready: false, epoch: null, primary: null, stalenessMs: null }
  if (strict === null) return { role: 'crdt', ready, epoch: null, primary: null, stalenessMs: null }
  const status = strict.node.status()
  return {
    role: status.role === 'follower' ? 'replica' : status.role,
    ready,
    epoch: status.epoch,
    primary: status.role === 'primary' ? status.id : status.primaryHint,
    stalenessMs: status.stalenessMs === null ? null : Math.round(status.stalenessMs),
  }
}

function answer(c: Context, state: Health, ok: boolean, reason: string): Response {
  return jsonResponse(c, ok ? state : { ...state, reason }, ok ? 200 : 503)
}

export function registerHealthEndpoints(app: Hono, deps: HealthDeps): void {
  app.get('/primary', (c) => {
    const state = health(deps)
    const ok = state.ready && state.role === 'primary'
    return answer(c, state, ok, state.ready ? `this node is ${state.role === 'crdt' ? 'not in a strict cluster' : `a ${state.role}`}` : 'storage is not ready')
  })

  app.get('/replica', (c) => {
    const raw = c.req.query('lag')
    const maxLag = raw === undefined ? null : Number(raw)
    if (raw !== undefined && (raw.trim() === '' || !Number.isFinite(maxLag) || (maxLag as number) < 0)) {
      return jsonResponse(c, { error: { code: 'INVALID_REQUEST', message: `lag must be a number of milliseconds >= 0, got ${JSON.stringify(raw)}` } }, 400)
    }
    const state = health(deps)
    if (!state.ready || state.role !== 'replica') {
      return answer(c, state, false, state.ready ? `this node is ${state.role === 'crdt' ? 'not in a strict cluster' : `a ${state.role}`}` : 'storage is not ready')
    }
    // A replica that never caught up has no staleness to show: too stale for any bound.
    const withinLag = maxLag === null || (state.stalenessMs !== null && state.stalenessMs <= maxLag)
    return answer(c, state, withinLag, `its reads are ${state.stalenessMs === null ? 'of unknown staleness' : `${state.stalenessMs} ms stale`}, above lag=${maxLag} ms`)
  })

  app.get('/read-only', (c) => {
    const state = health(deps)
    const ok = state.ready && (state.role === 'primary' || state.role === 'replica' || state.role === 'crdt')
    return answer(c, state, ok, state.ready ? 'a candidate in an election serves no reads' : 'storage is not ready')
  })
}

// Where the Node examples find the `npm start` cluster (scripts/start.mjs): three regions on 127.0.0.1,
// ports 4101-4103. Override with MERIDIAN_BASE_PORT (as for `npm start`) or MERIDIAN_HOST.

const HOST = process.env.MERIDIAN_HOST || '127.0.0.1'
const BASE_PORT = Number(process.env.MERIDIAN_BASE_PORT || 4101)
const NODE_IDS = ['eu-1', 'us-1', 'ap-1']

/** The three regions: `{ nodeId, http, ws }` (`ws` is what a client's `urls` takes). */
export const REGIONS = NODE_IDS.map((nodeId, i) => ({
  nodeId,
  http: `http://${HOST}:${BASE_PORT + i}`,
  ws: `ws://${HOST}:${BASE_PORT + i}`,
}))

/** `/healthz` of one region (`{ ok, nodeId, pid, … }`), or null when it does not answer. */
export async function health(region) {
  try {
    const res = await fetch(`${region.http}/healthz`, { signal: AbortSignal.timeout(1000) })
    return res.ok ? await res.json() : null
  } catch {
    return null
  }
}

/** The regions that answer /healthz; exits with a clear message when fewer than `atLeast` do. */
export async function requireCluster(atLeast = REGIONS.length) {
  const up = []
  for (const region of REGIONS) if ((await health(region))?.ok) up.push(region)
  if (up.length < atLeast) {
    const down = REGIONS.filter((r) => !up.includes(r)).map((r) => `${r.nodeId} (${r.http})`)
    fail(
      `${up.length === 0 ? 'the cluster is not running' : `only ${up.length} of ${REGIONS.length} regions answer`}: ` +
        `no answer from ${down.join(', ')}.\nStart it in another terminal with \`npm start\` ` +
        '(or point MERIDIAN_BASE_PORT at the ports it uses), then run this example again.',
    )
  }
  return up
}

/** Resolves once `check()` is true; rejects after `timeoutMs` saying what it waited for. */
export async function waitUntil(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A short id for this run, so that every run writes documents of its own. */
export const RUN = Date.now().toString(36).slice(-5)

export function fail(message) {
  process.stderr.write(`example: ${message}\n`)
  process.exit(1)
}

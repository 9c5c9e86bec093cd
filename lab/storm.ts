/**
 * `npm run storm`: the reconnect storm of lab/storm-run.ts with sizes from the environment; prints the
 * figures, exits 1 when the region went down or not every client synced in time. Needs dist/ (`npm run build`).
 *
 *   STORM_CLIENTS (10000)       clients connected to the region
 *   STORM_WORKERS (4)           processes the clients are spread over
 *   STORM_RAMP_PER_S (1000)     clients created per second before the storm
 *   STORM_MIN_DELAY_MS (100)    the clients' reconnect backoff (minDelayMs / maxDelayMs, jittered c/2..c)
 *   STORM_MAX_DELAY_MS (5000)
 *   STORM_TIMEOUT_S (600)       the run gives up after this
 */
import { envNumber, needBuild } from './regions.js'
import { runStorm, STORM_DEFAULTS } from './storm-run.js'

needBuild('storm')
const result = await runStorm({
  clients: envNumber('STORM_CLIENTS', STORM_DEFAULTS.clients),
  workers: Math.max(1, envNumber('STORM_WORKERS', STORM_DEFAULTS.workers)),
  rampPerS: envNumber('STORM_RAMP_PER_S', STORM_DEFAULTS.rampPerS),
  minDelayMs: envNumber('STORM_MIN_DELAY_MS', STORM_DEFAULTS.minDelayMs),
  maxDelayMs: envNumber('STORM_MAX_DELAY_MS', STORM_DEFAULTS.maxDelayMs),
  timeoutS: envNumber('STORM_TIMEOUT_S', STORM_DEFAULTS.timeoutS),
})
console.log(JSON.stringify(result, (_, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(1)) : v), 2))
console.log(`storm ${result.ok ? 'passed' : 'FAILED'}`)
process.exit(result.ok ? 0 : 1)

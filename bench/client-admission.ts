/**
 * What admitting clients' crdt changes one by one costs a region (docs/security.md, "Refused writes"):
 * N lww patches from one client, decoded and logged by a region's MeshNode in frames of 256, three ways
 * in one run, interleaved over rounds (the median of each is printed, and its ratio to the first):
 *   - none: no `admitClientChange` (what the mesh did before refusals existed);
 *   - checks: the server's admission with no permission rules (value checks, document size);
 *   - rules: the same with a per-document write rule (`docId startsWith {sub}/`).
 * Run: `npm run bench:admission [changes]` (default 50 000).
 */
import { HlcClock } from '../core/clock/hlc.js'
import { decodeMessage, encodeMessage } from '../core/codec/index.js'
import { MessageType } from '../core/codec/messages.js'
import { createReplica, lwwPatchPayload, type LwwReplica } from '../core/crdt/index.js'
import { MeshNode, type MeshNodeOptions } from '../core/mesh/index.js'
import type { Change } from '../core/types.js'
import { Authorizer } from '../server/auth/authorizer.js'
import { parseConfig } from '../server/config.js'
import { ServerMetrics } from '../server/metrics.js'
import { clientAdmission } from '../server/region/client-admission.js'

const N = Number(process.argv[2] ?? 50_000)
const ROUNDS = 7
let wall = 1_700_000_000_000
const wallClock = (): number => wall++
const random = (): number => 0.5
const MEMBERS = new Set(['r1'])

function node(id: string, extra: Partial<MeshNodeOptions> = {}): MeshNode {
  return new MeshNode({ id, clock: new HlcClock({ node: id, wallClock }), random, createReplica, send: () => {}, ackGossipMembers: MEMBERS, ...extra })
}

/** N patches by client `alice` to 100 documents of her own (`alice/0` …), as the frames she would send. */
function clientFrames(): Uint8Array[] {
  const client = node('alice', { ownChangesOnly: true, sendsStateTransfers: false })
  const changes: Change[] = []
  for (let i = 0; i < N; i++) {
    const docId = `alice/${i % 100}`
    changes.push(client.commit('notes', docId, 'lww', lwwPatchPayload(client.replica('notes', docId, 'lww') as LwwReplica, { title: `t${i}`, n: i })))
  }
  const frames: Uint8Array[] = []
  for (let i = 0; i < changes.length; i += 256) frames.push(encodeMessage({ type: MessageType.ChangeBatch, changes: changes.slice(i, i + 256) }))
  return frames
}

const metrics = new ServerMetrics({ defaultMetrics: false })
const open = parseConfig({ nodeId: 'r1', region: 'r', collections: { notes: { mode: 'crdt', type: 'lww' } } })
const ruled = parseConfig({
  nodeId: 'r1',
  region: 'r',
  collections: { notes: { mode: 'crdt', type: 'lww', permissions: { read: true, write: { docId: { startsWith: '{sub}/' } } } } },
})
const alice = { id: 'alice', claims: { sub: 'alice' }, expiresAtMs: null }
const variants: Record<string, Partial<MeshNodeOptions>> = {
  none: {},
  checks: { admitClientChange: clientAdmission(open, new Authorizer(open), () => alice, metrics) },
  rules: { admitClientChange: clientAdmission(ruled, new Authorizer(ruled), () => alice, metrics) },
}

/** Milliseconds for a fresh region to decode and log every frame of the client. */
function run(frames: readonly Uint8Array[], extra: Partial<MeshNodeOptions>): number {
  const region = node('r1', extra)
  region.connect('alice')
  region.receive('alice', { type: MessageType.VersionVector, vector: new Map() })
  const start = performance.now()
  for (const frame of frames) region.receive('alice', decodeMessage(frame))
  const ms = performance.now() - start
  if (region.acceptedFrom('alice') !== N || region.stats.refusedChanges !== 0) throw new Error('the region did not log every change')
  return ms
}

const frames = clientFrames()
const times = new Map<string, number[]>(Object.keys(variants).map((name) => [name, []]))
for (let round = 0; round < ROUNDS; round++) for (const [name, extra] of Object.entries(variants)) times.get(name)?.push(run(frames, extra))
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
const base = median(times.get('none') ?? [])
console.log(`client changes admitted by a region, ${N.toLocaleString('en')} lww patches in frames of 256, median of ${ROUNDS} rounds (node ${process.version})`)
for (const [name, values] of times) {
  const ms = median(values)
  console.log(`${name.padEnd(7)} ${ms.toFixed(1).padStart(8)} ms  ${Math.round((N / ms) * 1000).toLocaleString('en').padStart(10)} changes/s  ×${(ms / base).toFixed(2)}`)
}

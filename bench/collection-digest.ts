/**
 * The divergence digest's costs (docs/crdt.md "Divergence digest"), printed, never asserted:
 *   - `touched` per applied change (the only work on the apply path), against streaming lww and Yjs
 *     changes through MeshNode with and without the hook (medians of alternating runs);
 *   - reading digests: rehashing the touched documents, a read with nothing touched, a full rescan.
 * Run: `node --import tsx bench/collection-digest.ts [changes] [documents] [rescanDocuments]`
 * (defaults 50 000, 1 000, 100 000).
 */
import { HlcClock } from '../core/clock/hlc.js'
import { decodeMessage, encodeMessage } from '../core/codec/index.js'
import { MessageType } from '../core/codec/messages.js'
import { CollectionDigests, createReplica, documentHash, LwwReplica, lwwPatchPayload, lwwPutPayload, yjsEdit, type DocumentReplica, type YjsReplica } from '../core/crdt/index.js'
import { MeshNode } from '../core/mesh/index.js'
import type { Change, DocType } from '../core/types.js'

const N = Number(process.argv[2] ?? 50_000)
const DOCS = Number(process.argv[3] ?? 1000)
const RESCAN_DOCS = Number(process.argv[4] ?? 100_000)
let seed = 1
const random = (): number => ((seed = (seed * 16807) % 2147483647), seed / 2147483647)
let wall = 1_700_000_000_000
const wallClock = (): number => wall++
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

function makeChanges(docType: DocType): Change[] {
  const writer = new MeshNode({ id: 'writer', clock: new HlcClock({ node: 'writer', wallClock }), random, createReplica, send: () => {} })
  const out: Change[] = []
  for (let i = 0; i < N; i++) {
    const docId = `d${i % DOCS}`
    const r = writer.replica('bench', docId, docType)
    const payload = docType === 'lww' ? lwwPatchPayload(r as LwwReplica, { title: `t${i}`, n: i }) : yjsEdit(r as YjsReplica, (doc) => doc.getText('text').insert(0, 'x'))
    out.push(writer.commit('bench', docId, docType, payload))
  }
  return out
}

function stream(changes: Change[], withDigest: boolean): { ms: number; mesh: MeshNode; digests: CollectionDigests } {
  const frames: Uint8Array[] = []
  for (let i = 0; i < changes.length; i += 256) frames.push(encodeMessage({ type: MessageType.ChangeBatch, changes: changes.slice(i, i + 256) }))
  const mesh: MeshNode = new MeshNode({
    id: 'replica',
    clock: new HlcClock({ node: 'replica', wallClock }),
    random,
    createReplica,
    send: () => {},
    onApplied: withDigest ? (change) => digests.touched(change.collection, change.docId) : () => {},
  })
  const digests = new CollectionDigests({ existingReplica: (c, d) => mesh.existingReplica(c, d), documentIds: () => mesh.documentIds() })
  digests.reports() // past the initial rescan: from now on `touched` records
  mesh.connect('writer')
  mesh.receive('writer', { type: MessageType.VersionVector, vector: new Map() })
  const start = performance.now()
  for (const frame of frames) mesh.receive('writer', decodeMessage(frame))
  return { ms: performance.now() - start, mesh, digests }
}

{
  const d = new CollectionDigests({ existingReplica: () => undefined, documentIds: () => [] })
  d.reports()
  const ids = Array.from({ length: DOCS }, (_, i) => `d${i}`)
  const runs: number[] = []
  for (let r = 0; r < 5; r++) {
    const calls = 2_000_000
    const start = performance.now()
    for (let i = 0; i < calls; i++) d.touched('bench', ids[i % DOCS] as string)
    runs.push(((performance.now() - start) * 1e6) / calls)
    d.reports()
  }
  console.log(`touched(): ${median(runs).toFixed(1)} ns per call`)
}

for (const docType of ['lww', 'yjs'] as const) {
  const changes = makeChanges(docType)
  const runs: Record<'off' | 'on', number[]> = { off: [], on: [] }
  for (let round = 0; round < 7; round++) {
    for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) runs[mode].push(stream(changes, mode === 'on').ms)
  }
  const off = median(runs.off)
  const on = median(runs.on)
  console.log(`${docType}: ${N} changes to ${DOCS} documents through MeshNode: ${((off * 1000) / N).toFixed(2)} µs/change without the hook, ${((on * 1000) / N).toFixed(2)} with (${(((on - off) / off) * 100).toFixed(1)} %)`)
  const { digests } = stream(changes, true)
  let start = performance.now()
  digests.reports(['bench'])
  console.log(`  first read: ${DOCS} touched documents rehashed in ${(performance.now() - start).toFixed(1)} ms`)
  start = performance.now()
  digests.reports(['bench'])
  console.log(`  read with nothing touched: ${((performance.now() - start) * 1000).toFixed(1)} µs`)
}

{
  const docs = new Map<string, DocumentReplica>()
  for (let i = 0; i < RESCAN_DOCS; i++) {
    const r = new LwwReplica({ collection: 'c', docId: `d${i}` })
    r.apply({ origin: 'w', seq: i + 1, hlc: { wallMs: 1, counter: i, node: 'w' }, collection: 'c', docId: `d${i}`, docType: 'lww', payload: lwwPutPayload(r, { title: `note ${i}`, done: i % 2 === 0, n: i }) })
    r.view()
    docs.set(`d${i}`, r)
  }
  const one = docs.get('d1') as DocumentReplica
  let start = performance.now()
  for (let i = 0; i < 200_000; i++) documentHash('d1', one)
  console.log(`documentHash of a 3-field lww document: ${(((performance.now() - start) * 1000) / 200_000).toFixed(2)} µs`)
  const d = new CollectionDigests({ existingReplica: (_c, id) => docs.get(id), documentIds: () => [...docs.keys()].map((id) => ['c', id] as const) })
  const runs: number[] = []
  for (let k = 0; k < 3; k++) {
    d.rescan()
    start = performance.now()
    d.reports()
    runs.push(performance.now() - start)
  }
  console.log(`rescan (restart) of ${RESCAN_DOCS} such documents: ${median(runs).toFixed(0)} ms`)
}

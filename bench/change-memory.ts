/**
 * Memory and time of held crdt changes on the recovery path (RegionNode.recover), against anchors
 * measured in the same run [PF5]:
 *   - decode: `decodeChange` of N stored LWW records, read as storage returns them (4096 records
 *     per shared buffer, each record a view), against the anchor of one bare object + one view per
 *     record (the least any decode that keeps the bytes must allocate);
 *   - memory after decode (after gc): heapUsed + arrayBuffers per change, against the record bytes;
 *   - restore: `MeshNode.restore` chunk by chunk (1000 documents), against the anchor of applying
 *     the same changes straight to bare LWW replicas; memory per change after restore.
 * Run: `node --expose-gc --import tsx bench/change-memory.ts [N]` (default 1 000 000).
 */
import { HlcClock } from '../core/clock/hlc.js'
import { decodeChange, encodeChange } from '../core/codec/index.js'
import { createReplica, LwwReplica } from '../core/crdt/index.js'
import { LwwFill } from './lww-fill.js'
import { MeshNode } from '../core/mesh/index.js'
import type { Change } from '../core/types.js'

const N = Number(process.argv[2] ?? 1_000_000)
const DOCS = 1000
const CHUNK = 4096
const NODE = 'c'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')

function settle(): { heap: number; arrayBuffers: number; total: number } {
  for (let i = 0; i < 4; i++) gc!()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers, total: m.heapUsed + m.arrayBuffers }
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** N encoded LWW records (origin `c`, DOCS documents, two fields with a base), as storage chunks. */
function buildChunks(): { chunks: Uint8Array[][]; recordBytes: number } {
  const fill = new LwwFill(NODE, DOCS, 1_700_000_000_000)
  const chunks: Uint8Array[][] = []
  let recordBytes = 0
  for (let from = 0; from < N; from += CHUNK) {
    const encoded: Uint8Array[] = []
    for (let i = from; i < Math.min(N, from + CHUNK); i++) {
      const change = fill.change(i, i + 1)
      encoded.push(encodeChange(change))
    }
    // Like FileStorage.readRange: one buffer of its own per read, records are views into it.
    const size = encoded.reduce((s, e) => s + e.length, 0)
    const buffer = new Uint8Array(new ArrayBuffer(size))
    const records: Uint8Array[] = []
    let pos = 0
    for (const e of encoded) {
      buffer.set(e, pos)
      records.push(buffer.subarray(pos, pos + e.length))
      pos += e.length
    }
    recordBytes += size
    chunks.push(records)
  }
  return { chunks, recordBytes }
}

function time(run: () => void): number {
  const start = performance.now()
  run()
  return performance.now() - start
}

const { chunks, recordBytes } = buildChunks()
console.log(`change-memory: ${fmt(N)} LWW changes, ${DOCS} documents, ${CHUNK} records per buffer, node ${process.version}`)
console.log(`record bytes: ${fmt(recordBytes / N, 1)} B per change`)

/** Anchor for decode: one object and one view per record (run last: it must not skew the memory figures). */
function anchorDecode(): void {
  const base = settle()
  let held: { bytes: Uint8Array; n: number }[][] = []
  const ms = time(() => {
    held = chunks.map((records) => records.map((r, i) => ({ bytes: r.subarray(0, r.length), n: i })))
  })
  const after = settle()
  console.log(
    `anchor decode (object + view): ${fmt(ms)} ms, ${fmt((after.total - base.total) / N, 1)} B per change (held ${held.length})`,
  )
  held = []
}

const base = settle()
let decoded: Change[][] = []
const decodeMs = time(() => {
  decoded = chunks.map((records) => records.map((r) => decodeChange(r)))
})
const afterDecode = settle()
const decodeBytes = (afterDecode.total - base.total) / N

// Restore as RegionNode.recover does it: one restore call per chunk.
const mesh = new MeshNode({
  id: NODE,
  clock: new HlcClock({ node: NODE, wallClock: () => 1_800_000_000_000 }),
  random: Math.random,
  createReplica,
  send: () => {},
})
const restoreMs = time(() => {
  for (const changes of decoded) mesh.restore(changes)
})
decoded = []
const afterRestore = settle()
const restoreBytes = (afterRestore.total - base.total) / N
if (mesh.changeCount !== N || mesh.stats.applied !== N) throw new Error(`restore held ${mesh.changeCount}, applied ${mesh.stats.applied}`)

// Anchor for restore: the same changes applied straight to bare replicas (no log, no mesh).
let anchorRestoreMs = 0
{
  const changes = [...mesh.changes()]
  const replicas = new Map<string, LwwReplica>()
  anchorRestoreMs = time(() => {
    for (const c of changes) {
      let r = replicas.get(c.docId)
      if (!r) replicas.set(c.docId, (r = new LwwReplica({ collection: c.collection, docId: c.docId })))
      r.apply(c)
    }
  })
}

anchorDecode()
console.log(`decode: ${fmt(decodeMs)} ms (${fmt((decodeMs * 1e6) / N)} ns per change)`)
console.log(
  `  after decode: ${fmt(decodeBytes, 1)} B per change (heap ${fmt((afterDecode.heap - base.heap) / N, 1)}, arrayBuffers ${fmt((afterDecode.arrayBuffers - base.arrayBuffers) / N, 1)}); records themselves ${fmt(recordBytes / N, 1)} B, held before decode`,
)
console.log(
  `restore: ${fmt(restoreMs)} ms (${fmt((restoreMs * 1e6) / N)} ns per change); anchor bare LwwReplica.apply ${fmt(anchorRestoreMs)} ms, ${fmt(restoreMs / anchorRestoreMs, 2)}×`,
)
console.log(
  `  after restore: ${fmt(restoreBytes, 1)} B per change (heap ${fmt((afterRestore.heap - base.heap) / N, 1)}); with records ${fmt(restoreBytes + recordBytes / N, 1)} B`,
)
console.log(`decode + restore: ${fmt(decodeMs + restoreMs)} ms`)

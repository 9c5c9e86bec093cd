/**
 * Live memory per write of one region (docs/design.md §6, [SG4]): an in-process RegionNode with file storage
 * in a temp dir takes ROUNDS × WRITES lww REST puts over DOCS documents (awaited 500 at a time, acknowledged
 * `local`), and after each round (plus a settle for its snapshot round) the V8 heap is measured after forced
 * garbage collection. A node that keeps state, not history, stays flat; RSS (bench:storage) also moves with
 * the allocator and heap sizing, which this leaves out.
 *
 * Run: `node --expose-gc --import tsx bench/heap-per-write.ts [writes per round] [rounds] [docs]`
 * (defaults 100 000, 3, 100).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../server/config.js'
import { silentLogger } from '../server/logger.js'
import { ServerMetrics } from '../server/metrics.js'
import { RegionNode } from '../server/region-node.js'
import { openFileStorage } from '../server/storage/file-adapter.js'
import { LOG_SEGMENT_BYTES } from '../server/storage-factory.js'

const WRITES = Number(process.argv[2] ?? 100_000)
const ROUNDS = Number(process.argv[3] ?? 3)
const DOCS = Number(process.argv[4] ?? 100)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

const dir = mkdtempSync(join(tmpdir(), 'meridian-heap-'))
const storage = await openFileStorage(dir, { segmentBytes: LOG_SEGMENT_BYTES })
const config = parseConfig({ nodeId: 'a', region: 'bench', storage: 'memory', collections: { notes: { mode: 'crdt', type: 'lww' } }, snapshotIntervalMs: 1000 })
const node = new RegionNode({ config, storage, metrics: new ServerMetrics({ defaultMetrics: false }), logger: silentLogger })
await node.recover()

const heapUsed = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

console.log(`heap per write: ${ROUNDS} rounds × ${WRITES.toLocaleString('en')} lww puts over ${DOCS} documents, file storage (node ${process.version})`)
let previous = heapUsed()
console.log(`before: heap ${mib(previous)}`)
for (let round = 1; round <= ROUNDS; round++) {
  const started = performance.now()
  for (let i = 0; i < WRITES; i += 500) {
    const batch = []
    for (let k = 0; k < 500 && i + k < WRITES; k++) {
      const n = (round - 1) * WRITES + i + k
      batch.push(node.write('put', 'notes', `d${n % DOCS}`, { title: `note ${n}`, n }, 'local'))
    }
    await Promise.all(batch)
  }
  const ms = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 2 * config.snapshotIntervalMs))
  const heap = heapUsed()
  console.log(
    `round ${round}: ${Math.round(WRITES / (ms / 1000)).toLocaleString('en')} puts/s; heap ${mib(heap)} ` +
      `(${((heap - previous) / WRITES).toFixed(1)} B per write); log tail ${node.mesh.changeCount} changes, ${node.logRecords} records on disk`,
  )
  previous = heap
}
await node.close()
rmSync(dir, { recursive: true, force: true })

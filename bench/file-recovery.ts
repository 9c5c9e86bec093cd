/**
 * The file storage adapter (server/storage/file-adapter.ts), measured against raw file-system anchors
 * in the same run [PF5]:
 *   a. append throughput, group commit with a flush per batch of 1000 records, vs the raw anchor:
 *      the same framed bytes written with fs.writeSync + fdatasyncSync per 1000 records;
 *   b. group commit under concurrency [PF2]: 100 appenders each awaiting its own flush, counting
 *      flush calls vs sync rounds vs fdatasyncs, vs the anchor of one appender doing the same;
 *   c. recovery: openFileStorage on the whole log (scan + checksum every record), vs the anchor of
 *      reading the same segment files sequentially;
 *   d. readLog of everything (one call, and in pages of 10 000) vs the same raw read anchor.
 * Records are real crdt changes (encodeChange of an LWW write, ~100 bytes), 4096 distinct ones cycled.
 * Run: `node --import tsx bench/file-recovery.ts [N]` (default 1 000 000).
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeChange } from '../core/codec/index.js'
import { encodeLwwPayload } from '../core/crdt/index.js'
import { encodeRecords } from '../server/storage/record-format.js'
import { openFileStorage } from '../server/storage/file-adapter.js'

const N = Number(process.argv[2] ?? 1_000_000)
if (!Number.isSafeInteger(N) || N < 1000) throw new Error('N must be an integer >= 1000')
const BATCH = 1000
const APPENDERS = 100
const CONCURRENT_RECORDS = Math.min(100_000, N / 5)

// ---------------------------------------------------------------------------------------------
// records

const POOL = 4096
const pool: Uint8Array[] = []
for (let i = 0; i < POOL; i++) {
  const payload = encodeLwwPayload({
    kind: 'write',
    writes: [
      { field: 'title', deleted: false, value: `buy milk #${i}`, base: null },
      { field: 'done', deleted: false, value: i % 3 === 0, base: { hlc: { wallMs: 1_700_000_000_000 + i, counter: 0, node: 'eu-1' }, origin: 'c-7f3a' } },
    ],
  })
  pool.push(
    encodeChange({
      origin: 'c-7f3a9d',
      seq: i + 1,
      hlc: { wallMs: 1_700_000_000_000 + i * 17, counter: i % 4, node: 'eu-1' },
      collection: 'notes',
      docId: `note-${(i * 7919) % 10_000}`,
      docType: 'lww',
      payload,
    }),
  )
}
const recordAt = (i: number): Uint8Array => pool[i % POOL] as Uint8Array
const avgRecordBytes = pool.reduce((n, r) => n + r.length, 0) / POOL

// ---------------------------------------------------------------------------------------------
// helpers

const root = mkdtempSync(join(tmpdir(), 'meridian-bench-file-'))
const mib = (bytes: number): number => bytes / (1024 * 1024)
const fmt = (n: number, digits = 0): string => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })

function dirBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  }
  return total
}

function segmentPaths(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.seg')) out.push(join(entry.parentPath, entry.name))
  }
  return out.sort()
}

interface Row {
  readonly what: string
  readonly value: string
  readonly anchor: string
  readonly ratio: string
}
const rows: Row[] = []
const row = (what: string, value: string, anchor = '', ratio = ''): void => {
  rows.push({ what, value, anchor, ratio })
}

// ---------------------------------------------------------------------------------------------
// a. append throughput with a flush per batch

const dir = join(root, 'store')
const storage = await openFileStorage(dir)
const batches: Uint8Array[][] = []
for (let i = 0; i < N; i += BATCH) {
  const batch: Uint8Array[] = []
  for (let k = i; k < Math.min(N, i + BATCH); k++) batch.push(recordAt(k))
  batches.push(batch)
}
// Anchor: the same framed bytes, raw, one write + fdatasync per batch. fsync latency on a shared
// machine drifts by several times within seconds, so the two run interleaved, a tenth at a time.
const rawPath = join(root, 'raw.seg')
const fd = openSync(rawPath, 'w')
const framed = batches.map((b) => encodeRecords(b, b.reduce((n, r) => n + 8 + r.length, 0)))
const SLICES = 10
const perSlice = Math.ceil(batches.length / SLICES)
// Second anchor: the same, through the async FileHandle API (two thread-pool hops per batch, as
// the adapter has), to tell adapter overhead from the cost of not blocking the event loop.
const asyncPath = join(root, 'raw-async.seg')
const asyncHandle = await open(asyncPath, 'w')
let asyncPosition = 0
let appendMs = 0
let rawAppendMs = 0
let asyncAppendMs = 0
let started = 0
for (let slice = 0; slice < SLICES; slice++) {
  const from = slice * perSlice
  const to = Math.min(batches.length, from + perSlice)
  started = performance.now()
  for (let b = from; b < to; b++) {
    await storage.append('log', batches[b] as Uint8Array[])
    await storage.flush()
  }
  appendMs += performance.now() - started
  started = performance.now()
  for (let b = from; b < to; b++) {
    writeSync(fd, framed[b] as Uint8Array)
    fdatasyncSync(fd)
  }
  rawAppendMs += performance.now() - started
  started = performance.now()
  for (let b = from; b < to; b++) {
    const buf = framed[b] as Buffer
    await asyncHandle.write(buf, 0, buf.length, asyncPosition)
    asyncPosition += buf.length
    await asyncHandle.datasync()
  }
  asyncAppendMs += performance.now() - started
}
closeSync(fd)
rmSync(rawPath)
await asyncHandle.close()
rmSync(asyncPath)
const logBytes = dirBytes(join(dir, 'logs'))
const appendSyncs = storage.syncStats

row(
  `a. append ${fmt(N)} × ~${fmt(avgRecordBytes)} B, flush per ${BATCH}`,
  `${fmt(N / (appendMs / 1000))} rec/s, ${fmt(mib(logBytes) / (appendMs / 1000), 1)} MiB/s`,
  `${fmt(N / (rawAppendMs / 1000))} rec/s raw`,
  `${fmt(rawAppendMs / appendMs, 2)}×`,
)
row(
  '   vs raw async (FileHandle write + datasync)',
  '',
  `${fmt(N / (asyncAppendMs / 1000))} rec/s raw async`,
  `${fmt(asyncAppendMs / appendMs, 2)}×`,
)
row('   fdatasync calls / flushes', `${fmt(appendSyncs.fileSyncs)} / ${fmt(appendSyncs.flushCalls)}`)

// ---------------------------------------------------------------------------------------------
// b. group commit under concurrency

async function concurrentAppenders(appenders: number, total: number): Promise<{ ms: number; flushes: number; rounds: number; fileSyncs: number }> {
  const store = await openFileStorage(join(root, `concurrent-${appenders}`))
  const before = store.syncStats
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (next < total) {
        const record = recordAt(next++)
        await store.append('log', [record])
        await store.flush()
      }
    }),
  )
  const ms = performance.now() - start
  const after = store.syncStats
  await store.close()
  return {
    ms,
    flushes: after.flushCalls - before.flushCalls,
    rounds: after.syncRounds - before.syncRounds,
    fileSyncs: after.fileSyncs - before.fileSyncs,
  }
}
const lone = await concurrentAppenders(1, Math.min(5000, CONCURRENT_RECORDS))
const shared = await concurrentAppenders(APPENDERS, CONCURRENT_RECORDS)
row(
  `b. ${APPENDERS} appenders, each append+flush, ${fmt(CONCURRENT_RECORDS)} rec`,
  `${fmt(shared.flushes / (shared.ms / 1000))} acked writes/s`,
  `${fmt(lone.flushes / (lone.ms / 1000))} /s, 1 appender`,
  `${fmt(shared.flushes / shared.ms / (lone.flushes / lone.ms), 1)}×`,
)
row(
  '   flushes / sync rounds / fdatasyncs',
  `${fmt(shared.flushes)} / ${fmt(shared.rounds)} / ${fmt(shared.fileSyncs)}`,
  `${fmt(lone.flushes)} / ${fmt(lone.rounds)} / ${fmt(lone.fileSyncs)}`,
  `${fmt(shared.flushes / shared.fileSyncs, 1)} flushes per fdatasync`,
)

// ---------------------------------------------------------------------------------------------
// c. recovery, d. readLog

await storage.close()
const segments = segmentPaths(dir)
// Anchor: read every segment file front to back (warm page cache, like the recovery that follows).
started = performance.now()
let rawRead = 0
for (const path of segments) rawRead += readFileSync(path).length
const rawReadMs = performance.now() - started

started = performance.now()
const reopened = await openFileStorage(dir)
const openMs = performance.now() - started
const stats = reopened.recoveryStats
row(
  `c. recovery: open ${fmt(stats.records)} records, ${segments.length} segments`,
  `${fmt(openMs)} ms (${fmt(stats.records / (openMs / 1000))} rec/s, ${fmt(mib(rawRead) / (openMs / 1000))} MiB/s)`,
  `${fmt(rawReadMs)} ms raw read`,
  `${fmt(openMs / rawReadMs, 1)}× raw`,
)

started = performance.now()
const all = await reopened.readLog('log', 1)
const readAllMs = performance.now() - started
if (all.length !== N) throw new Error(`readLog returned ${all.length} records, expected ${N}`)
for (let i = 0; i < N; i += 9973) {
  const want = recordAt(i)
  const got = all[i] as Uint8Array
  if (got.length !== want.length || got.some((b, k) => b !== want[k])) throw new Error(`record ${i + 1} differs`)
}
row(
  'd. readLog(1, N) in one call',
  `${fmt(readAllMs)} ms (${fmt(N / (readAllMs / 1000))} rec/s)`,
  `${fmt(rawReadMs)} ms raw read`,
  `${fmt(readAllMs / rawReadMs, 1)}× raw`,
)
started = performance.now()
let paged = 0
for (let from = 1; from <= N; from += 10_000) paged += (await reopened.readLog('log', from, from + 9_999)).length
const pagedMs = performance.now() - started
row(
  '   readLog in pages of 10 000',
  `${fmt(pagedMs)} ms (${fmt(paged / (pagedMs / 1000))} rec/s)`,
  `${fmt(rawReadMs)} ms raw read`,
  `${fmt(pagedMs / rawReadMs, 1)}× raw`,
)
await reopened.close()
rmSync(root, { recursive: true, force: true })

// ---------------------------------------------------------------------------------------------

const header: Row = { what: 'measure', value: 'file adapter', anchor: 'anchor', ratio: 'ratio' }
const widths = (['what', 'value', 'anchor', 'ratio'] as const).map((k) => Math.max(...[header, ...rows].map((r) => r[k].length)))
const line = (r: Row): string =>
  [r.what, r.value, r.anchor, r.ratio].map((cell, i) => cell.padEnd(widths[i] as number)).join('  ')
console.log(
  `file storage, ${fmt(N)} records (~${fmt(avgRecordBytes)} B encodeChange/LWW), log ${fmt(mib(logBytes), 1)} MiB on disk, ` +
    `node ${process.version}`,
)
console.log(line(header))
for (const r of rows) console.log(line(r))

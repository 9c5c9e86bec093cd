/**
 * [PF3] What a one-field PATCH costs on a large lww document: a document of F fields (default 40 000)
 * is written once with a direct PUT, then N single-field patches (default 300) go
 *   a. straight to `RegionNode.write('patch', …)`: the synchronous part of the call (payload, commit,
 *      response data: everything the event loop is blocked for before the write waits for its flush);
 *   b. through the HTTP app (`app.request`, hono, no socket): event-loop active time per request
 *      (`performance.eventLoopUtilization`, so the wait for storage is not counted) and the size of
 *      the answer.
 * The two kinds alternate patch by patch, so load from other processes drifts over both alike. The
 * anchor, measured in the same run, is the same PATCH on a one-field document: what a patch costs
 * when the document is as small as the change.
 * Storage is memory, or file storage in a temp dir with `--file` (the fsync is then not on the loop).
 * Run: `node --import tsx bench/lww-patch.ts [F] [N] [--file]`.
 */
import { Authorizer } from '../server/auth/authorizer.js'
import { Authenticator } from '../server/auth/authenticator.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { MemoryStorageAdapter } from '../core/storage/index.js'
import { parseConfig } from '../server/config.js'
import { createHttpApp } from '../server/http.js'
import { silentLogger } from '../server/logger.js'
import { ServerMetrics } from '../server/metrics.js'
import { RegionNode } from '../server/region-node.js'
import { openFileStorage } from '../server/storage/file-adapter.js'

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const FILE = process.argv.includes('--file')
const F = Number(args[0] ?? 40_000)
const N = Number(args[1] ?? 300)
if (!Number.isSafeInteger(F) || F < 1 || !Number.isSafeInteger(N) || N < 10) throw new Error('usage: bench/lww-patch.ts [fields>=1] [patches>=10] [--file]')

const field = (i: number): string => `f${String(i).padStart(6, '0')}`

async function main(): Promise<void> {
  const dir = FILE ? mkdtempSync(join(tmpdir(), 'meridian-lww-patch-')) : null
  const config = parseConfig({
    nodeId: 'bench',
    region: 'r',
    port: 0,
    storage: FILE ? 'file' : 'memory',
    ...(dir === null ? {} : { dataDir: dir }),
    collections: { notes: { mode: 'crdt', type: 'lww' } },
  })
  const storage = dir === null ? new MemoryStorageAdapter() : await openFileStorage(dir)
  const metrics = new ServerMetrics({ defaultMetrics: false })
  const node = new RegionNode({ config, storage, metrics, logger: silentLogger })
  await node.recover()
  const app = createHttpApp({
    auth: await Authenticator.create(config), authorizer: new Authorizer(config),
    config,
    node: () => node,
    links: () => null,
    strict: () => null,
    metrics,
    logger: silentLogger,
    storageKind: FILE ? 'file' : 'memory',
    startedAt: Date.now(),
  })

  const big: Record<string, unknown> = {}
  for (let i = 0; i < F; i++) big[field(i)] = `value ${i}`
  await node.write('put', 'notes', 'big', big, 'local')
  await node.write('put', 'notes', 'small', { [field(0)]: 'value 0' }, 'local')

  const direct = { big: [] as number[], small: [] as number[] }
  const rest = { big: [] as number[], small: [] as number[] }
  const answerBytes = { big: 0, small: 0 }

  const patchDirect = async (id: 'big' | 'small', i: number): Promise<void> => {
    const body = { [field(id === 'big' ? (i * 7919) % F : 0)]: `patched ${i}` }
    const started = performance.now()
    const pending = node.write('patch', 'notes', id, body, 'local')
    direct[id].push(performance.now() - started)
    await pending
  }
  const patchRest = async (id: 'big' | 'small', i: number): Promise<void> => {
    const body = JSON.stringify({ [field(id === 'big' ? (i * 7907) % F : 0)]: `rest ${i}` })
    const before = performance.eventLoopUtilization()
    const response = await app.request(`/v1/notes/${id}`, { method: 'PATCH', body, headers: { 'content-type': 'application/json' } })
    const text = await response.text()
    rest[id].push(performance.eventLoopUtilization(before).active)
    if (response.status !== 200) throw new Error(`PATCH answered ${response.status}: ${text.slice(0, 200)}`)
    answerBytes[id] = text.length
  }

  // Warm-up (JIT, first-use allocations), not counted.
  for (let i = 0; i < 20; i++) {
    await patchDirect('big', i)
    await patchRest('big', i)
    await patchDirect('small', i)
    await patchRest('small', i)
  }
  for (const list of [direct.big, direct.small, rest.big, rest.small]) list.length = 0
  for (let i = 0; i < N; i++) {
    await patchDirect('big', i)
    await patchRest('big', i)
    await patchDirect('small', i)
    await patchRest('small', i)
  }

  const pct = (xs: number[], p: number): number => {
    const sorted = [...xs].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
  }
  const row = (name: string, xs: number[]): string =>
    `| ${name.padEnd(44)} | ${pct(xs, 50).toFixed(3).padStart(8)} | ${pct(xs, 99).toFixed(3).padStart(8)} | ${Math.max(...xs).toFixed(3).padStart(8)} |`
  const cpus = (await import('node:os')).cpus()
  console.log(`node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? '?'}, ${FILE ? 'file' : 'memory'} storage, load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' / ')}`)
  console.log(`one-field PATCH, ${N} of each, ms (event loop blocked)\n`)
  console.log(`| ${'path'.padEnd(44)} |      p50 |      p99 |      max |`)
  console.log(`|${'-'.repeat(46)}|---------:|---------:|---------:|`)
  console.log(row(`direct RegionNode.write, ${F.toLocaleString('en-US')} fields`, direct.big))
  console.log(row('direct RegionNode.write, 1 field (anchor)', direct.small))
  console.log(row(`HTTP app.request, ${F.toLocaleString('en-US')} fields`, rest.big))
  console.log(row('HTTP app.request, 1 field (anchor)', rest.small))
  console.log(`\nanswer bytes: ${answerBytes.big.toLocaleString('en-US')} (${F.toLocaleString('en-US')} fields), ${answerBytes.small} (1 field)`)
  console.log(`ratio big / anchor at p50: direct ${(pct(direct.big, 50) / pct(direct.small, 50)).toFixed(1)}×, HTTP ${(pct(rest.big, 50) / pct(rest.small, 50)).toFixed(1)}×`)

  await node.close()
  if (dir !== null) rmSync(dir, { recursive: true, force: true })
}

await main()

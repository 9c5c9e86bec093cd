/**
 * What the process benchmarks read from a running region: its memory from /proc, its data on disk,
 * its /status, and when it holds a change. Shared by bench/replication.ts and bench/storage.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createNodeClient, type MeridianClient } from '../client/node.js'
import { sleep, waitFor, type ClusterNode } from '../test/helpers/cluster.js'

/** VmRSS and VmHWM (peak RSS) in KiB from /proc/<pid>/status; NaN when the process is gone. */
export function memoryKib(pid: number | undefined): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') }
  } catch {
    return { rss: NaN, hwm: NaN }
  }
}

/** Bytes of every file below `dir`; NaN when it cannot be read. */
export function dirBytes(dir: string): number {
  let total = 0
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
    }
  } catch {
    return NaN
  }
  return total
}

export interface RegionStatus {
  vector: Record<string, number>
  /** Changes in the log's tail, and documents held as state. */
  changes: number
  documents: number
  storage: { logRecords: number; snapshotRounds: number; compactedChanges: number; stateTransfersSent: number; stateTransfersReceived: number }
  peers: { nodeId: string; state: string }[]
}

export async function regionStatus(node: ClusterNode): Promise<RegionStatus> {
  return (await (await fetch(`${node.httpUrl}/status`)).json()) as RegionStatus
}

/** Polls /status of `node` every `intervalMs` until vector[origin] >= seq; resolves with performance.now(). */
export async function whenHolds(node: ClusterNode, origin: string, seq: number, timeoutMs: number, intervalMs = 10): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const held = (await regionStatus(node)).vector[origin] ?? 0
    if (held >= seq) return performance.now()
    if (performance.now() > deadline) throw new Error(`${node.nodeId} holds ${origin}:${held} of ${seq} after ${timeoutMs} ms`)
    await sleep(intervalMs)
  }
}

/** A Node client connected to `node` (fast reconnects for benchmarks). */
export async function connectedClient(node: ClusterNode, options: Partial<Parameters<typeof createNodeClient>[0]> = {}, timeoutMs = 20_000): Promise<MeridianClient> {
  const client = createNodeClient({ urls: [node.url], minDelayMs: 50, maxDelayMs: 500, ...options })
  await waitFor(() => client.status === 'connected', timeoutMs, `client connected to ${node.nodeId}`)
  return client
}

/** V8 heap in use (bytes) from the node's /metrics (prom-client's default `nodejs_heap_size_used_bytes`). */
export async function heapUsedBytes(node: ClusterNode): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('meridian_nodejs_heap_size_used_bytes '))
  return line === undefined ? NaN : Number(line.split(' ')[1])
}

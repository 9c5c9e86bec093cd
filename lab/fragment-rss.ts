/**
 * What a client's unfinished fragmented message costs a region (docs/security.md, "Limits"): starts a
 * region in a child process with a client frame limit, opens N client sockets that each handshake and
 * send one message in 256 KiB fragments up to just under the limit without ever finishing it, and
 * reports the region's RSS growth per socket. Run: node --import tsx lab/fragment-rss.ts [limitMiB=8] [sockets=50]
 * (limit 16 is what every client had before limits.maxClientFrameBytes: maxFrameBytes).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'
import { encodeMessage, MessageType, PROTOCOL_VERSION } from '../core/codec/index.js'

const MiB = 1024 * 1024
const FRAGMENT = 256 * 1024

async function serve(limitBytes: number): Promise<void> {
  const { createServer } = await import('../server/server.js')
  const { silentLogger } = await import('../server/logger.js')
  const server = await createServer(
    { nodeId: 'rss', region: 'lab', port: 0, storage: 'memory', collections: { notes: { mode: 'crdt', type: 'lww' } }, limits: { maxClientFrameBytes: limitBytes, maxConnectionsPerIp: 0 } },
    { logger: silentLogger, defaultMetrics: false },
  )
  process.stdout.write(`${server.url}\n`)
}

const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Handshakes, then sends fragments of one message up to `bytes`, never the last: resolves once they are written. */
async function unfinishedMessage(url: string, id: string, bytes: number): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.on('error', () => {})
  await new Promise((resolve) => ws.once('open', resolve))
  ws.send(encodeMessage({ type: MessageType.Handshake, protocolVersion: PROTOCOL_VERSION, role: 'client', identity: id, region: '', credentials: '' }))
  await new Promise((resolve) => ws.once('message', resolve))
  const chunk = new Uint8Array(FRAGMENT).fill(7)
  for (let sent = 0; sent + FRAGMENT <= bytes; sent += FRAGMENT) await new Promise<void>((resolve) => ws.send(chunk, { binary: true, fin: false }, () => resolve()))
  return ws
}

async function main(): Promise<void> {
  if (process.argv[2] === '--serve') return serve(Number(process.argv[3]))
  const limitMiB = Number(process.argv[2] ?? 8)
  const sockets = Number(process.argv[3] ?? 50)
  const limit = limitMiB * MiB
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', String(limit)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())))
  const pid = child.pid as number
  await sleep(1000)
  const before = rssBytes(pid)
  const open: WebSocket[] = []
  for (let i = 0; i < sockets; i++) open.push(await unfinishedMessage(url, `c-rss-${i}`, limit - FRAGMENT))
  await sleep(1500)
  const after = rssBytes(pid)
  const alive = open.filter((ws) => ws.readyState === WebSocket.OPEN).length
  const mb = (n: number) => (n / 1e6).toFixed(1)
  console.log(`limit ${limitMiB} MiB, ${sockets} sockets each ${mb(limit - FRAGMENT)} MB into an unfinished message (${alive} still open)`)
  console.log(`region RSS ${mb(before)} MB -> ${mb(after)} MB: +${mb(after - before)} MB, +${mb((after - before) / sockets)} MB per socket`)
  for (const ws of open) ws.terminate()
  child.kill()
}

void main()

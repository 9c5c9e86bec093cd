/**
 * Partial replication (docs/design.md §3, [PS1] [PS2]): what a client is sent when it syncs a part of
 * the cluster, against a client that syncs everything, over the same writes, in one run.
 *
 * One in-process region (memory storage). A writer puts WRITES lww changes spread over COLLECTIONS
 * collections and writes YJS_DOCS Yjs documents. Then three readers connect, each counting the bytes
 * its socket receives until its position equals the region's:
 *   all      uses every lww collection and opens every Yjs document;
 *   one      uses one lww collection;
 *   one-doc  uses no lww collection, then opens one Yjs document (a fetch of its state).
 *
 * Run: `node --import tsx bench/partial-sync.ts` (PARTIAL_WRITES, PARTIAL_COLLECTIONS, PARTIAL_YJS_DOCS).
 */
import { createNodeClient, nodeWebSocket, type MeridianClient } from '../client/node.js'
import type { WebSocketConstructor } from '../client/websocket.js'
import { createServer, silentLogger } from '../server/index.js'
import { freePort } from '../test/helpers/cluster.js'

const WRITES = Number(process.env['PARTIAL_WRITES'] ?? 20_000)
const COLLECTIONS = Number(process.env['PARTIAL_COLLECTIONS'] ?? 10)
const YJS_DOCS = Number(process.env['PARTIAL_YJS_DOCS'] ?? 200)

const collectionName = (i: number): string => `c${i}`

async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A WebSocket class that adds every received frame's size to `counter.bytes`. */
function countingWebSocket(counter: { bytes: number }): WebSocketConstructor {
  const Base = nodeWebSocket() as unknown as new (url: string) => { addEventListener(type: string, fn: (event: { data: unknown }) => void): void }
  return class extends Base {
    constructor(url: string) {
      super(url)
      this.addEventListener('message', (event) => {
        const data = event.data
        counter.bytes += data instanceof ArrayBuffer ? data.byteLength : ArrayBuffer.isView(data) ? data.byteLength : 0
      })
    }
  } as unknown as WebSocketConstructor
}

async function main(): Promise<void> {
  const port = await freePort()
  const collections: Record<string, { mode: 'crdt'; type: 'lww' | 'yjs' }> = { docs: { mode: 'crdt', type: 'yjs' } }
  for (let i = 0; i < COLLECTIONS; i++) collections[collectionName(i)] = { mode: 'crdt', type: 'lww' }
  const server = await createServer({ nodeId: 'solo', region: 's', host: '127.0.0.1', port, storage: 'memory', collections, members: ['solo'], peers: [] }, { logger: silentLogger })
  const url = `ws://127.0.0.1:${port}`
  const clients: MeridianClient[] = []
  try {
    const writer = createNodeClient({ urls: [url] })
    clients.push(writer)
    let last = null
    for (let i = 0; i < WRITES; i++) last = writer.lww<{ i: number; text: string }>(collectionName(i % COLLECTIONS)).put(`d${i % 500}`, { i, text: 'x'.repeat(64) })
    for (let d = 0; d < YJS_DOCS; d++) writer.yjs('docs').edit(`y${d}`, (doc) => doc.getText('text').insert(0, 'y'.repeat(200)))
    await last?.durable
    const head = (): number => server.node.mesh.vector.get('solo') ?? 0
    await until(() => writer.outboxSize === 0, 'the writer\'s changes logged')

    const measure = async (name: string, use: (client: MeridianClient) => void, after?: (client: MeridianClient) => Promise<void>): Promise<void> => {
      const counter = { bytes: 0 }
      const started = performance.now()
      const reader = createNodeClient({ urls: [url], WebSocket: countingWebSocket(counter) })
      clients.push(reader)
      use(reader)
      await until(() => (reader.vector.get('solo') ?? 0) >= head(), `${name} caught up`)
      if (after) await after(reader)
      const ms = performance.now() - started
      console.log(`${name.padEnd(8)} ${String(counter.bytes).padStart(12)} B received  ${reader.stats.applied} changes applied  ${ms.toFixed(0)} ms`)
    }
    console.log(`one region, ${WRITES} lww writes over ${COLLECTIONS} collections (500 documents each), ${YJS_DOCS} Yjs documents; ${head()} changes logged`)
    await measure('all', (c) => {
      for (let i = 0; i < COLLECTIONS; i++) c.lww(collectionName(i))
      for (let d = 0; d < YJS_DOCS; d++) c.yjs('docs').open(`y${d}`)
    })
    await measure('one', (c) => void c.lww(collectionName(0)))
    await measure('one-doc', () => {}, async (c) => {
      const { doc } = c.yjs('docs').open('y7')
      await until(() => doc.getText('text').length === 200, 'y7 fetched')
    })
  } finally {
    for (const c of clients) await c.close()
    await server.close()
  }
}

await main()

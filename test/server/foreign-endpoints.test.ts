import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryStorageAdapter } from '../../core/storage/memory.js'
import { createServer, silentLogger, type MeridianServer } from '../../server/index.js'
import { freePort } from '../helpers/cluster.js'

/**
 * What `/yjs/:room` and `/automerge` refuse before any client library is involved (docs/server.md, "Yjs
 * rooms", "automerge-repo peers"): frames above maxFrameBytes (4413, so that clients stop retrying),
 * endpoints without a configured collection (4404), and malformed input (4400). The unmodified client
 * libraries are tested in test/integration/yjs-websocket.test.ts and automerge-repo.test.ts.
 */

const MAX_FRAME_BYTES = 1 << 20
let served: MeridianServer
let unserved: MeridianServer

beforeAll(async () => {
  const base = { region: 'test', host: '127.0.0.1', port: 0, storage: 'memory' as const, maxFrameBytes: MAX_FRAME_BYTES }
  served = await createServer(
    { ...base, nodeId: 'f-1', collections: { rooms: { mode: 'crdt', type: 'yjs' }, boards: { mode: 'crdt', type: 'automerge' } }, yjsRoomCollection: 'rooms', automergeRepoCollection: 'boards' },
    { logger: silentLogger, defaultMetrics: false },
  )
  unserved = await createServer({ ...base, nodeId: 'f-2', collections: {} }, { logger: silentLogger, defaultMetrics: false })
})

afterAll(async () => {
  await served?.close()
  await unserved?.close()
})

function closeCode(server: MeridianServer, path: string, frame?: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${server.httpUrl.replace('http', 'ws')}${path}`)
    ws.on('open', () => frame && ws.send(frame))
    ws.on('close', (code) => resolve(code))
    ws.on('error', () => undefined)
  })
}

describe('the y-websocket and automerge-repo endpoints refuse what they cannot take', () => {
  it('a frame above maxFrameBytes closes with 4413, which y-websocket does not retry', async () => {
    const big = new Uint8Array(MAX_FRAME_BYTES + 1)
    expect(await closeCode(served, '/yjs/room', big)).toBe(4413)
    expect(await closeCode(served, '/automerge', big)).toBe(4413)
  })

  it('without a configured collection both endpoints close with 4404', async () => {
    expect(await closeCode(unserved, '/yjs/room')).toBe(4404)
    expect(await closeCode(unserved, '/automerge')).toBe(4404)
  })

  it('while the node recovers, they accept and close with 4503 (automerge-repo\'s Node adapter throws an HTTP 503 out of its handler); /sync keeps its 503', async () => {
    // Storage whose log reads wait: the server listens, and stays recovering until they are let go.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    class SlowStorage extends MemoryStorageAdapter {
      override async logBounds(log: string): ReturnType<MemoryStorageAdapter['logBounds']> {
        await held
        return super.logBounds(log)
      }
    }
    const port = await freePort()
    const starting = createServer(
      { nodeId: 'f-3', region: 'test', host: '127.0.0.1', port, storage: 'memory', collections: { rooms: { mode: 'crdt', type: 'yjs' }, boards: { mode: 'crdt', type: 'automerge' } }, yjsRoomCollection: 'rooms', automergeRepoCollection: 'boards' },
      { logger: silentLogger, defaultMetrics: false, storage: new SlowStorage() },
    )
    const recovering = { httpUrl: `http://127.0.0.1:${port}` } as MeridianServer
    // The listener is up before recovery: wait until it answers.
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`${recovering.httpUrl}/healthz`).then(() => true, () => false)
      if (up) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(await closeCode(recovering, '/automerge')).toBe(4503)
    expect(await closeCode(recovering, '/yjs/room')).toBe(4503)
    const sync = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/sync`)
      ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
      ws.on('error', () => undefined)
    })
    expect(sync).toBe(503)
    release()
    await (await starting).close()
  })

  it('malformed input closes with 4400, and the server goes on', async () => {
    expect(await closeCode(served, '/yjs/room', new Uint8Array([9]))).toBe(4400)
    expect(await closeCode(served, '/automerge', new Uint8Array([0xff, 0x13]))).toBe(4400)
    expect((await fetch(`${served.httpUrl}/healthz`)).status).toBe(200)
  })
})

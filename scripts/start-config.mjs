// Configuration of the `npm start` cluster: three regions on loopback, full mesh, file storage.
// The config shape is the server's (docs/server.md); the server rejects unknown keys.
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const REGIONS = [
  { nodeId: 'eu-1', region: 'eu' },
  { nodeId: 'us-1', region: 'us' },
  { nodeId: 'ap-1', region: 'ap' },
]

export const COLLECTIONS = {
  notes: { mode: 'crdt', type: 'lww' },
  docs: { mode: 'crdt', type: 'yjs' },
  boards: { mode: 'crdt', type: 'automerge' },
  accounts: { mode: 'strict' },
  // One record per bank transfer, written in the same atomic batch as its two balances (examples/bank).
  transfers: { mode: 'strict' },
}

/**
 * One node per region on ports basePort, basePort+1, basePort+2; every node lists the other two as peers.
 * @param {{ home: string, host: string, basePort: number, secret: string }} options `home` absolute
 * @returns {{ nodeId: string, region: string, port: number, file: string, config: object }[]}
 */
export function clusterConfigs({ home, host, basePort, secret }) {
  const nodes = REGIONS.map((r, i) => ({ ...r, port: basePort + i }))
  return nodes.map((node) => ({
    nodeId: node.nodeId,
    region: node.region,
    port: node.port,
    file: join(home, 'config', `${node.nodeId}.json`),
    config: {
      nodeId: node.nodeId,
      region: node.region,
      host,
      port: node.port,
      dataDir: join(home, node.nodeId),
      storage: 'file',
      peers: nodes
        .filter((p) => p.nodeId !== node.nodeId)
        .map((p) => ({
          nodeId: p.nodeId,
          region: p.region,
          url: `ws://${host}:${p.port}/peer`,
          httpUrl: `http://${host}:${p.port}`,
        })),
      peerSecret: secret,
      clientToken: null,
      collections: COLLECTIONS,
      // y-websocket's WebsocketProvider: new WebsocketProvider('ws://127.0.0.1:4101/yjs', room, doc)
      yjsRoomCollection: 'docs',
      // automerge-repo: new Repo({ network: [new WebSocketClientAdapter('ws://127.0.0.1:4101/automerge')] })
      automergeRepoCollection: 'boards',
      heartbeatIntervalMs: 1000,
      maxFrameBytes: 16 * 1024 * 1024,
      reconnect: { minDelayMs: 100, maxDelayMs: 5000 },
      groupCommitMaxDelayMs: 2,
    },
  }))
}

/** The cluster's peer secret: generated once, then kept in `<home>/secret` (mode 600). */
export function loadOrCreateSecret(home) {
  const file = join(home, 'secret')
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim()
    if (secret.length >= 16) return secret
  }
  mkdirSync(home, { recursive: true })
  const secret = randomBytes(24).toString('base64url')
  writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return secret
}

/** Writes `<home>/config/<nodeId>.json` for every region (rewritten at every start) and creates data dirs. */
export function writeClusterConfigs({ home, host, basePort }) {
  const secret = loadOrCreateSecret(home)
  const nodes = clusterConfigs({ home, host, basePort, secret })
  mkdirSync(join(home, 'config'), { recursive: true })
  for (const node of nodes) {
    mkdirSync(node.config.dataDir, { recursive: true })
    writeFileSync(node.file, `${JSON.stringify(node.config, null, 2)}\n`, { mode: 0o600 })
  }
  return nodes
}

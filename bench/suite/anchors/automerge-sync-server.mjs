// automerge-repo's own sync server, as automerge-repo-sync-server runs it: a Repo with the Node
// WebSocket server adapter and the file-system storage adapter (so it persists, as Meridian does), that
// shares nothing on its own initiative and answers every request. Data directory: argv[2].
import { Repo } from '@automerge/automerge-repo'
import { NodeWSServerAdapter } from '@automerge/automerge-repo-network-websocket'
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs'
import { WebSocketServer } from 'ws'

const wss = new WebSocketServer({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT) })
new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(process.argv[2]),
  peerId: `sync-server-${process.pid}`,
  sharePolicy: async () => false,
})

// `npm run example:embedded` — a Meridian server and a client in one Node process: the server is started
// from code (meridian/server) instead of the CLI, on a free port with memory storage, and a client in
// the same process writes and reads through it; then both close and the process exits.
// Needs no cluster. EMBEDDED_PORT=<n> picks the port (default: any free one).
import { createServer, consoleLogger } from 'meridian/server'
import { createNodeClient } from 'meridian/client/node'

// 1. The server: one region, the same config keys as a config file (docs/server.md), validated the same way.
const server = await createServer(
  {
    nodeId: 'solo-1',
    region: 'solo',
    host: '127.0.0.1',
    port: Number(process.env.EMBEDDED_PORT ?? 0), // 0: any free port; server.port says which
    storage: 'memory', // 'file' with dataDir to keep the data across restarts
    collections: {
      notes: { mode: 'crdt', type: 'lww' },
      accounts: { mode: 'strict' },
    },
  },
  { logger: consoleLogger('server'), defaultMetrics: false },
)
console.log(`server: ${server.httpUrl} (clients: ${server.url})`)

// 2. A client in the same process, over a real WebSocket to that port.
const client = createNodeClient({ urls: [`ws://127.0.0.1:${server.port}`] })

// An lww document: applied locally at once, then durable at the server.
const notes = client.lww('notes')
const write = notes.put('hello', { title: 'Hello from an embedded server', done: false })
await write.durable
console.log(`client: wrote notes/hello, durable at the server; read back: ${JSON.stringify(notes.get('hello'))}`)

// A strict document: the single node is its own primary; the answer comes from it.
const accounts = client.strict('accounts')
const put = await accounts.put('alice', { balance: 100 }, { w: 'majority' })
const alice = await accounts.get('alice')
console.log(`client: accounts/alice ${put.status} at ${put.token}; read at the primary: ${JSON.stringify(alice.value)} (version ${alice.version}, served by ${alice.node})`)

// The server's side of the same data, without a client: its REST API.
const rest = await (await fetch(`${server.httpUrl}/v1/notes/hello`)).json()
console.log(`REST:   GET /v1/notes/hello -> ${JSON.stringify(rest.doc)}`)

// 3. Close the client, then the server (graceful: queued changes made durable, sockets closed). Nothing
// is left running, so the process exits by itself.
await client.close()
await server.close()
console.log('closed the client and the server; exiting')

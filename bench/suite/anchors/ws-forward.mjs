// The raw forwarding ceiling of W3: a `ws` server that relays every binary frame arriving on a
// connection to /in, unread, to every connection on /out. No decoding, no log, no storage: what moving
// a change through one Node process costs at the least.
import { WebSocketServer } from 'ws'

const wss = new WebSocketServer({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT) })
const outs = new Set()
wss.on('connection', (ws, request) => {
  if (request.url === '/out') {
    outs.add(ws)
    ws.on('close', () => outs.delete(ws))
    return
  }
  ws.on('message', (data) => {
    for (const out of outs) out.send(data, { binary: true })
  })
})

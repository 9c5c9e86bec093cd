// Hocuspocus 3.x as its README starts it, nothing persisted (its default), on $HOST:$PORT.
import { Server } from '@hocuspocus/server'

const server = new Server({ address: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT), quiet: true })
await server.listen()

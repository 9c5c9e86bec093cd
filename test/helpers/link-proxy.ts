/**
 * A tiny TCP proxy for one directed network link, so a test can partition in-process nodes.
 *
 * Point a node's `peers[].url` at `ws://127.0.0.1:<proxy.port>/peer` instead of at the peer itself;
 * the proxy pipes every connection to `127.0.0.1:<targetPort>` until `cut()`, which destroys every
 * connection it carries and refuses (or black-holes) new ones until `heal()`.
 *
 * @example
 * ```ts
 * const proxy = await LinkProxy.start(serverPort)
 * // … config: peers: [{ nodeId: 'b', url: `ws://127.0.0.1:${proxy.port}/peer`, … }]
 * proxy.cut()   // the link is down, and stays down
 * proxy.heal()  // the next dial gets through
 * await proxy.close()
 * ```
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * What a cut link does with a new connection: `refuse` closes it at once with a reset (like a
 * closed port); `blackhole` accepts it and never answers (like a dropped route; the dialler's own
 * timeout has to notice), and destroys it on `heal()`.
 */
export type CutMode = 'refuse' | 'blackhole'

export interface LinkProxyStats {
  /** Connections piped through to the target. */
  readonly forwarded: number
  /** Connections that arrived while the link was cut. */
  readonly dropped: number
  /** Connections destroyed by `cut()`. */
  readonly severed: number
}

export class LinkProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>()
  private readonly held = new Set<Socket>()
  private cutMode: CutMode | null = null
  private closed = false
  private counts = { forwarded: 0, dropped: 0, severed: 0 }

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly targetPort: number,
    readonly targetHost: string,
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to `targetHost:targetPort`. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<LinkProxy> {
    let proxy: LinkProxy | null = null
    const server = createServer({ pauseOnConnect: true }, (socket) => {
      if (proxy === null) socket.destroy()
      else proxy.accept(socket)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    proxy = new LinkProxy(server, port, targetPort, targetHost)
    return proxy
  }

  /** True between `cut()` and `heal()`. */
  get isCut(): boolean {
    return this.cutMode !== null
  }

  /** Connections open through the proxy right now. */
  get openConnections(): number {
    return this.pairs.size
  }

  get stats(): LinkProxyStats {
    return { ...this.counts }
  }

  /** Destroys every connection the proxy carries; new ones are refused or black-holed until `heal()`. */
  cut(mode: CutMode = 'refuse'): void {
    this.cutMode = mode
    for (const pair of this.pairs) {
      this.counts.severed += 1
      pair.client.destroy()
      pair.upstream.destroy()
    }
    this.pairs.clear()
  }

  /** Lets new connections through again (connections held by a black hole are destroyed). */
  heal(): void {
    this.cutMode = null
    for (const socket of this.held) socket.destroy()
    this.held.clear()
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.cut()
    this.heal()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(client: Socket): void {
    client.on('error', () => {})
    if (this.closed) {
      client.destroy()
      return
    }
    if (this.cutMode !== null) {
      this.counts.dropped += 1
      if (this.cutMode === 'refuse') {
        client.resetAndDestroy()
      } else {
        this.held.add(client)
        client.once('close', () => this.held.delete(client))
        // Read and discard, so the dialler's writes do not back up; never answer.
        client.on('data', () => {})
        client.resume()
      }
      return
    }
    this.counts.forwarded += 1
    const upstream = connect({ port: this.targetPort, host: this.targetHost })
    upstream.on('error', () => {})
    const pair = { client, upstream }
    this.pairs.add(pair)
    const teardown = () => {
      this.pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.once('close', teardown)
    upstream.once('close', teardown)
    client.pipe(upstream)
    upstream.pipe(client)
    client.resume()
  }
}

/** Closes every proxy given (for afterAll). */
export async function closeProxies(proxies: Iterable<LinkProxy>): Promise<void> {
  await Promise.all([...proxies].map((proxy) => proxy.close()))
}

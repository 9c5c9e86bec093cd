/**
 * An in-process cluster whose peer links run through {@link LinkProxy}s, so a test can partition it.
 *
 * Every directed pair (from → to) gets its own proxy in front of `to`; `from`'s config lists `to` at
 * that proxy's port. Of two peers only the one with the smaller nodeId dials, so only one proxy of a
 * pair carries traffic, but `partition` cuts both directions anyway. Clients (REST, tests) talk to
 * the servers directly, never through a proxy.
 */
import { silentLogger } from '../../server/logger.js'
import { createServer, type MeridianServer } from '../../server/server.js'
import type { ServerConfigInput } from '../../server/config.js'
import { freePort, waitFor } from './cluster.js'
import { LinkProxy, type CutMode } from './link-proxy.js'

export interface PartitionedClusterOptions {
  readonly ids: readonly string[]
  /** Merged into every node's config (collections, timings…). */
  readonly config: Record<string, unknown>
}

export class PartitionedCluster {
  private constructor(
    readonly servers: ReadonlyMap<string, MeridianServer>,
    /** `proxies.get('a→b')`: the link a dials (or would dial) to reach b. */
    readonly proxies: ReadonlyMap<string, LinkProxy>,
  ) {}

  static async start(options: PartitionedClusterOptions): Promise<PartitionedCluster> {
    const { ids, config } = options
    const ports = new Map<string, number>()
    for (const id of ids) ports.set(id, await freePort())
    const proxies = new Map<string, LinkProxy>()
    const servers = new Map<string, MeridianServer>()
    try {
      for (const from of ids) {
        for (const to of ids) {
          if (from !== to) proxies.set(linkName(from, to), await LinkProxy.start(ports.get(to) as number))
        }
      }
      const started = await Promise.allSettled(
        ids.map((id) => {
          const input = {
            nodeId: id,
            region: `r-${id}`,
            host: '127.0.0.1',
            port: ports.get(id) as number,
            storage: 'memory',
            peerSecret: 'test-secret',
            members: ids,
            peers: ids
              .filter((peer) => peer !== id)
              .map((peer) => ({
                nodeId: peer,
                region: `r-${peer}`,
                url: `ws://127.0.0.1:${(proxies.get(linkName(id, peer)) as LinkProxy).port}/peer`,
                // Nothing dials httpUrl; it is only reported in /status.
                httpUrl: `http://127.0.0.1:${ports.get(peer) as number}`,
              })),
            ...config,
          }
          return createServer(input as unknown as ServerConfigInput, { logger: silentLogger, defaultMetrics: false })
        }),
      )
      started.forEach((result, i) => {
        if (result.status === 'fulfilled') servers.set(ids[i] as string, result.value)
      })
      const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    } catch (err) {
      await new PartitionedCluster(servers, proxies).close()
      throw err
    }
    return new PartitionedCluster(servers, proxies)
  }

  get ids(): string[] {
    return [...this.servers.keys()]
  }

  server(id: string): MeridianServer {
    const server = this.servers.get(id)
    if (server === undefined) throw new Error(`no server ${id}`)
    return server
  }

  base(id: string): string {
    return this.server(id).httpUrl
  }

  /** Cuts every link between a node of `groupA` and a node of `groupB`, both directions. */
  partition(groupA: readonly string[], groupB: readonly string[], mode: CutMode = 'refuse'): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.link(a, b).cut(mode)
        this.link(b, a).cut(mode)
      }
    }
  }

  /** Heals every cut link. */
  heal(): void {
    for (const proxy of this.proxies.values()) proxy.heal()
  }

  link(from: string, to: string): LinkProxy {
    const proxy = this.proxies.get(linkName(from, to))
    if (proxy === undefined) throw new Error(`no link ${from}→${to}`)
    return proxy
  }

  /** Waits until every node reports every peer link `connected`. */
  async waitConnected(timeoutMs = 5_000): Promise<void> {
    await waitFor(
      () => [...this.servers.values()].every((s) => s.peers.snapshot().every((p) => p.state === 'connected')),
      timeoutMs,
      'all peer links connected',
    )
  }

  /** The nodes (of `among`) that think they are the strict primary: two while a deposed one has not noticed. */
  primaries(among: readonly string[] = this.ids): string[] {
    return among.filter((id) => this.server(id).strict?.node.currentRole === 'primary')
  }

  /** The strict primary, when exactly one node (of `among`) thinks it is; null otherwise. */
  primary(among: readonly string[] = this.ids): string | null {
    const primaries = this.primaries(among)
    return primaries.length === 1 ? (primaries[0] as string) : null
  }

  async waitPrimary(among: readonly string[] = this.ids, timeoutMs = 5_000): Promise<string> {
    let found: string | null = null
    await waitFor(() => (found = this.primary(among)) !== null, timeoutMs, `one strict primary among ${among.join(',')}`)
    return found as unknown as string
  }

  /** Servers first (they close their links gracefully), then the proxies. Idempotent. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.servers.values()].map((s) => s.close()))
    await Promise.allSettled([...this.proxies.values()].map((p) => p.close()))
  }
}

function linkName(from: string, to: string): string {
  return `${from}→${to}`
}

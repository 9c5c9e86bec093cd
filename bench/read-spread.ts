/**
 * Read throughput of strict `nearest` reads spread over 3 regions (`spreadReads`) vs all served by the
 * one region the clients are connected to — same cluster, same machine, same run, alternating phases
 * (docs/client.md, "Read routing"). Prints reads/s and reads per server core-second (utime+stime of the
 * three region processes from /proc) for both, and the ratios.
 *
 *   node --import tsx bench/read-spread.ts     (npm run bench:reads)
 *
 * On a 2-core machine the 3 regions and the load generator share the cores: spreading adds a forwarding
 * hop and buys no extra CPU, so expect it to cost, not gain; on separate machines it adds capacity.
 */
import { performance } from 'node:perf_hooks'
import { createNodeClient, type MeridianClient } from '../client/node.js'
import { ProcessCluster, waitFor } from '../test/helpers/cluster.js'
import { cpuSeconds } from './proc-cpu.js'

const PHASE_MS = Number(process.env.PHASE_MS ?? 3000)
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const CLIENTS = 4
const CONCURRENCY = 16 // reads in flight per client

interface Phase { reads: number; seconds: number; cpu: number; nodes: Map<string, number> }

async function main(): Promise<void> {
  const cluster = await ProcessCluster.start({
    ids: ['a', 'b', 'c'],
    config: {
      collections: {
        spread: { mode: 'strict', read: 'nearest', spreadReads: true },
        local: { mode: 'strict', read: 'nearest' },
      },
    },
  })
  const clients: MeridianClient[] = []
  try {
    await cluster.waitConnected()
    let primary = ''
    await waitFor(async () => {
      for (const id of ['a', 'b', 'c']) {
        const res = await fetch(`${cluster.node(id).httpUrl}/status`).catch(() => null)
        if (res !== null && ((await res.json()) as { role: string }).role === 'primary') primary = id
      }
      return primary !== ''
    }, 20_000, 'a strict primary')
    const connected = ['a', 'b', 'c'].find((id) => id !== primary)!
    for (let i = 0; i < CLIENTS; i++) clients.push(createNodeClient({ urls: [cluster.node(connected).url] }))
    await waitFor(() => clients.every((c) => c.status === 'connected'), 10_000, 'clients to connect')
    for (const name of ['spread', 'local']) {
      const w = await clients[0]!.strict(name).put('doc', { owner: 'ann', balance: 100, note: 'x'.repeat(200) })
      if (w.status !== 'acknowledged') throw new Error(`seed write ${name}: ${w.status}`)
    }
    const pids = ['a', 'b', 'c'].map((id) => cluster.node(id).child?.pid)
    const serverCpu = (): number => pids.reduce<number>((sum, pid) => sum + cpuSeconds(pid), 0)

    const phase = async (collection: string): Promise<Phase> => {
      const nodes = new Map<string, number>()
      let reads = 0
      const cpu0 = serverCpu()
      const t0 = performance.now()
      const end = t0 + PHASE_MS
      await Promise.all(clients.flatMap((c) => {
        const col = c.strict(collection, { read: 'nearest' })
        return Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            const doc = await col.get('doc')
            reads += 1
            if (doc !== null) nodes.set(doc.node, (nodes.get(doc.node) ?? 0) + 1)
          }
        })
      }))
      return { reads, seconds: (performance.now() - t0) / 1000, cpu: serverCpu() - cpu0, nodes }
    }

    await phase('local') // warm-up, not counted
    await phase('spread')
    const totals = { spread: { reads: 0, seconds: 0, cpu: 0 }, local: { reads: 0, seconds: 0, cpu: 0 } }
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of round % 2 === 0 ? (['spread', 'local'] as const) : (['local', 'spread'] as const)) {
        const p = await phase(name)
        totals[name].reads += p.reads
        totals[name].seconds += p.seconds
        totals[name].cpu += p.cpu
        console.log(`round ${round + 1} ${name.padEnd(6)} ${Math.round(p.reads / p.seconds)} reads/s, ${p.cpu.toFixed(2)} server CPU s, served by ${JSON.stringify(Object.fromEntries(p.nodes))}`)
      }
    }
    const rate = (t: { reads: number; seconds: number }) => t.reads / t.seconds
    const perCore = (t: { reads: number; cpu: number }) => t.reads / t.cpu
    console.log(`\nclients connected to ${connected} (primary ${primary}); ${CLIENTS} clients x ${CONCURRENCY} reads in flight; ${ROUNDS} x ${PHASE_MS} ms per mode`)
    console.log(`spread over 3 regions: ${Math.round(rate(totals.spread))} reads/s, ${Math.round(perCore(totals.spread))} reads per server core-second`)
    console.log(`all on 1 region:       ${Math.round(rate(totals.local))} reads/s, ${Math.round(perCore(totals.local))} reads per server core-second`)
    console.log(`ratio spread/1-region: throughput ${(rate(totals.spread) / rate(totals.local)).toFixed(2)}, per core-second ${(perCore(totals.spread) / perCore(totals.local)).toFixed(2)}`)
  } finally {
    await Promise.all(clients.map((c) => c.close()))
    await cluster.stop()
  }
}

await main()

/**
 * The soak (issue 14 item 5): three real regions, clients churning (connect, write lww and strict documents,
 * disconnect), a region cut off from the others every `partitionEveryS`, a region SIGKILLed and relaunched
 * every `restartEveryS`, the regions' RSS sampled. At the end: every acknowledged write is read back from
 * every region, every region's crdt digests agree, and each region's RSS after warm-up stayed within
 * `maxRssGrowth`. `lab/soak.ts` is the command; test/integration/soak-smoke.test.ts runs it small.
 *
 * How "nothing acknowledged is lost" is checked while documents are overwritten (so that the data, and with
 * it the RSS, stays bounded): each document (a slot) has one writer at a time, which writes `{ seq }` with
 * increasing seq and waits for each write's answer before the next. A later write of a slot is issued after
 * the earlier one's answer, so it wins (lww: a later timestamp from the same machine's clock; strict: a later
 * log position). The value read at the end must therefore carry a seq at least the slot's highest
 * acknowledged one; a smaller one means an acknowledged write was lost.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { createNodeClient, type MeridianClient } from '../client/node.js'
import { sleep } from '../test/helpers/cluster.js'
import { htmlReport, type Chart } from './plot.js'
import { Regions, type RegionMemory } from './regions.js'

export interface SoakOptions {
  readonly durationS: number
  readonly partitionEveryS: number
  /** How long a partition lasts. */
  readonly partitionForS: number
  readonly restartEveryS: number
  /** RSS before this is not held against the run. */
  readonly warmupS: number
  /** Client sessions alive at once. */
  readonly sessions: number
  readonly lwwSlots: number
  readonly strictSlots: number
  /** Allowed growth of a region's RSS from the end of warm-up to the end, 0.1 = 10 %. */
  readonly maxRssGrowth: number
  readonly reportPath: string
  /** Where to write the raw samples (RSS and heap per region over time) as JSON; null: nowhere. */
  readonly samplesPath: string | null
  readonly log: (line: string) => void
  /**
   * Small bounds for the regions' bounded memory (strict log and request keys, conflict records, crdt log
   * retention, the author table), so that they fill during warm-up and RSS growth after it means a leak, not
   * a cache filling up (with the defaults — 50,000 strict entries kept up to twice over, 100,000 request keys,
   * 100,000 authors — that takes from 20 minutes to 6 hours). False: the server's defaults.
   */
  readonly smallCaps: boolean
  /** Which server the regions run: lab/regions.ts. */
  readonly entry: 'dist' | 'source'
  /** Extra `node` flags for the region processes (lab/regions.ts), e.g. `--heapsnapshot-signal=SIGUSR2`. */
  readonly nodeArgs: readonly string[]
  /**
   * Heap snapshots for finding what grows (lab/heap-diff.ts compares two): at each of `atS` seconds,
   * `region` is sent SIGUSR2; the region processes must run with `--heapsnapshot-signal=SIGUSR2` (and
   * `--diagnostic-dir` to choose where the files go). Null: none.
   */
  readonly heapSnapshots: { readonly region: string; readonly atS: readonly number[] } | null
}

export const SOAK_DEFAULTS: SoakOptions = {
  durationS: 3600,
  partitionEveryS: 60,
  partitionForS: 15,
  restartEveryS: 600,
  warmupS: 120,
  sessions: 24,
  lwwSlots: 400,
  strictSlots: 100,
  maxRssGrowth: 0.1,
  reportPath: join(tmpdir(), `meridian-soak-${Date.now()}.html`),
  samplesPath: null,
  log: (line) => process.stdout.write(`${line}\n`),
  smallCaps: true,
  entry: 'dist',
  nodeArgs: [],
  heapSnapshots: null,
}

/** One memory figure of a region over the run (RSS, the V8 heap, external memory). */
export interface RegionFigure {
  readonly id: string
  /** MiB: first sample, median around the end of warm-up, median of the last samples, highest sample. */
  readonly startMiB: number
  readonly baselineMiB: number
  readonly endMiB: number
  readonly peakMiB: number
  /** endMiB / baselineMiB - 1 */
  readonly growth: number
}

export type RegionRss = RegionFigure

export interface SoakResult {
  readonly ok: boolean
  readonly failures: readonly string[]
  readonly issued: { readonly lww: number; readonly strict: number }
  readonly acknowledged: { readonly lww: number; readonly strict: number }
  /** Strict writes answered indeterminate, or rejected (NOT_PRIMARY, UNAVAILABLE … during elections). */
  readonly strictIndeterminate: number
  readonly strictRejected: number
  readonly sessions: number
  /** Slot/region pairs whose final value is older than the slot's last acknowledged write. */
  readonly lost: readonly string[]
  /** From healing the last partition (churn stopped, every region up) to equal vectors and digests everywhere. */
  readonly convergedMs: number
  readonly partitions: number
  readonly restarts: number
  readonly rss: readonly RegionRss[]
  /**
   * The V8 heap in use per region (/metrics, sampled with RSS), same windows as `rss`. Garbage not yet
   * collected is counted, so single samples jump by the young generation's size; the medians do not.
   * Reported, not checked: RSS is what the check holds (heap growth without RSS growth is not the issue,
   * RSS growth without heap growth is the allocator's, and this says which).
   */
  readonly heapUsed: readonly RegionFigure[]
  /** V8's old generation in use: where what the region keeps ends up. */
  readonly oldSpace: readonly RegionFigure[]
  /** Memory held outside the V8 heap by JS objects (Buffers, ArrayBuffers). */
  readonly external: readonly RegionFigure[]
  readonly reportPath: string
}

interface Slot {
  nextSeq: number
  acked: number
  busy: boolean
}

const IDS = ['eu', 'us', 'ap'] as const
/**
 * The author table's bound with small caps: every session is a new client id (about 280 a minute), so the
 * default 100,000 takes six hours to fill (~100-180 bytes each, 10-17 MiB per region); 500 fills within the
 * warm-up and is twenty times the sessions alive at once: an author is forgotten (oldest first seen, nothing
 * pending) about two minutes after it first wrote, when its 2-8 s session is long over.
 */
const SMALL_MAX_AUTHORS = 500
const MiB = 1024 * 1024

function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  return sorted.length === 0 ? NaN : (sorted[Math.floor(sorted.length / 2)] as number)
}

/** Resolves with the promise's value, or with `fallback` after `ms`. */
function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}

export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const o: SoakOptions = { ...SOAK_DEFAULTS, ...partial }
  const log = o.log
  const failures: string[] = []
  const regions = await Regions.start({
    entry: o.entry,
    nodeArgs: o.nodeArgs,
    ids: IDS,
    config: {
      heartbeatIntervalMs: 500,
      reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
      collections: { notes: { mode: 'crdt', type: 'lww' }, accounts: { mode: 'strict' } },
      limits: { maxConnectionsPerIp: 0, maxWritesPerSecond: 0 },
      groupCommitMaxDelayMs: 2,
      ...(o.smallCaps ? { maxConflicts: 1000, retainChanges: 10_000, maxAuthors: SMALL_MAX_AUTHORS, strict: { retainEntries: 2000, requestKeyRetention: 5000 } } : {}),
    },
  })
  try {
    await regions.waitConnected()
    const started = Date.now()
    const elapsedS = () => (Date.now() - started) / 1000
    const lww: Slot[] = Array.from({ length: o.lwwSlots }, () => ({ nextSeq: 1, acked: 0, busy: false }))
    const strict: Slot[] = Array.from({ length: o.strictSlots }, () => ({ nextSeq: 1, acked: 0, busy: false }))
    const counts = { lwwIssued: 0, strictIssued: 0, lwwAcked: 0, strictAcked: 0, indeterminate: 0, rejected: 0, sessions: 0 }
    const clientErrors = new Map<string, number>()
    let stopping = false

    // --- sampling: RSS and the heap per region, acknowledged writes per second
    const rssSamples = new Map<string, [number, number][]>(IDS.map((id) => [id, []]))
    const memorySamples = new Map<string, [number, RegionMemory | null][]>(IDS.map((id) => [id, []]))
    const scraping = new Set<string>()
    const throughput: [number, number][] = []
    const marks: { x: number; label: string }[] = []
    let lastAcked = 0
    const sampleEveryMs = Math.max(250, Math.min(2000, (o.durationS * 1000) / 600))
    const sampler = setInterval(() => {
      const t = elapsedS()
      for (const id of IDS) rssSamples.get(id)?.push([t, regions.rss(id) / MiB])
      // The heap from /metrics, one scrape per region at a time (a region busy or down misses samples).
      for (const id of IDS) {
        if (scraping.has(id)) continue
        scraping.add(id)
        void regions.memory(id, sampleEveryMs).then((memory) => {
          memorySamples.get(id)?.push([t, memory])
          scraping.delete(id)
        })
      }
      const acked = counts.lwwAcked + counts.strictAcked
      throughput.push([t, (acked - lastAcked) / (sampleEveryMs / 1000)])
      lastAcked = acked
    }, sampleEveryMs)

    // --- faults: partitions and restarts on their own schedules
    let partitions = 0
    let restarts = 0
    const faults: Promise<void>[] = []
    const faultLoop = async (everyS: number, act: (n: number) => Promise<void>) => {
      if (everyS <= 0) return
      for (let n = 0; ; n++) {
        const next = started + (n + 1) * everyS * 1000
        const endAt = started + o.durationS * 1000
        if (next >= endAt) return
        while (Date.now() < next && !stopping) await sleep(Math.min(250, next - Date.now()))
        if (stopping) return
        await act(n)
      }
    }
    faults.push(
      faultLoop(o.partitionEveryS, async (n) => {
        const id = IDS[n % IDS.length] as string
        partitions += 1
        marks.push({ x: elapsedS(), label: `cut ${id}` })
        log(`[soak ${elapsedS().toFixed(0)} s] partition: ${id} cut off for ${o.partitionForS} s`)
        regions.isolate(id)
        const until = Date.now() + o.partitionForS * 1000
        while (Date.now() < until && !stopping) await sleep(100)
        regions.heal()
      }),
    )
    if (o.heapSnapshots !== null) {
      const { region, atS } = o.heapSnapshots
      faults.push(
        ...atS.map(async (at) => {
          while (elapsedS() < at && !stopping) await sleep(250)
          if (stopping) return
          marks.push({ x: elapsedS(), label: `snapshot ${region}` })
          log(`[soak ${elapsedS().toFixed(0)} s] heap snapshot of ${region}: ${regions.signal(region, 'SIGUSR2') ? 'signalled' : 'not running'}`)
        }),
      )
    }
    faults.push(
      faultLoop(o.restartEveryS, async (n) => {
        const id = IDS[(n + 1) % IDS.length] as string
        restarts += 1
        marks.push({ x: elapsedS(), label: `kill ${id}` })
        const before = Date.now()
        await regions.restart(id)
        log(`[soak ${elapsedS().toFixed(0)} s] restart: ${id} SIGKILLed and ready again in ${Date.now() - before} ms`)
      }),
    )

    // --- churn: `sessions` client sessions at a time, each a few seconds long
    const takeSlot = (slots: Slot[]): number => {
      for (let tries = 0; tries < 20; tries++) {
        const i = Math.floor(Math.random() * slots.length)
        if (!(slots[i] as Slot).busy) {
          ;(slots[i] as Slot).busy = true
          return i
        }
      }
      return -1
    }
    const session = async () => {
      counts.sessions += 1
      const first = Math.floor(Math.random() * IDS.length)
      const urls = IDS.map((_, i) => regions.syncUrl(IDS[(first + i) % IDS.length] as string))
      const client: MeridianClient = createNodeClient({ urls, minDelayMs: 100, maxDelayMs: 2000 })
      client.onError((error) => clientErrors.set(error.code, (clientErrors.get(error.code) ?? 0) + 1))
      const notes = client.lww<{ seq: number; slot: number }>('notes')
      const accounts = client.strict<{ seq: number; slot: number }>('accounts')
      const lwwSlot = takeSlot(lww)
      const strictSlot = takeSlot(strict)
      const endAt = Date.now() + 2000 + Math.random() * 6000
      try {
        for (let turn = 0; Date.now() < endAt && !stopping; turn++) {
          if (turn % 2 === 0 && lwwSlot >= 0) {
            const slot = lww[lwwSlot] as Slot
            const seq = slot.nextSeq++
            counts.lwwIssued += 1
            const handle = notes.put(`d${lwwSlot}`, { seq, slot: lwwSlot })
            // An acknowledgement that comes after the wait still counts, as long as the client is open.
            const acked = handle.durable.then(
              () => {
                counts.lwwAcked += 1
                slot.acked = Math.max(slot.acked, seq)
                return true
              },
              () => false,
            )
            await within(acked, Math.max(100, endAt - Date.now()) + 2000, false)
          } else if (strictSlot >= 0) {
            const slot = strict[strictSlot] as Slot
            const seq = slot.nextSeq++
            counts.strictIssued += 1
            try {
              const result = await accounts.put(`s${strictSlot}`, { seq, slot: strictSlot }, { w: 'majority', timeoutMs: 3000 })
              if (result.status === 'acknowledged') {
                counts.strictAcked += 1
                slot.acked = Math.max(slot.acked, seq)
              } else counts.indeterminate += 1
            } catch {
              counts.rejected += 1
            }
          }
          await sleep(50 + Math.random() * 150)
        }
      } finally {
        await client.close().catch(() => undefined)
        if (lwwSlot >= 0) (lww[lwwSlot] as Slot).busy = false
        if (strictSlot >= 0) (strict[strictSlot] as Slot).busy = false
      }
    }
    const churners = Array.from({ length: o.sessions }, async (_, i) => {
      await sleep((i * 2000) / o.sessions)
      while (!stopping) await session().catch((err: unknown) => failures.push(`session failed: ${String(err)}`))
    })

    // --- progress
    const endAt = started + o.durationS * 1000
    let nextLog = Date.now() + 60_000
    while (Date.now() < endAt) {
      await sleep(Math.min(500, endAt - Date.now()))
      if (Date.now() >= nextLog) {
        nextLog += 60_000
        const rss = IDS.map((id) => `${id} ${(regions.rss(id) / MiB).toFixed(0)}`).join(', ')
        const heap = IDS.map((id) => {
          const last = memorySamples.get(id)?.at(-1)?.[1]
          return `${id} ${last ? (last.heapUsed / MiB).toFixed(0) : '-'}`
        }).join(', ')
        log(`[soak ${elapsedS().toFixed(0)} s] acked lww ${counts.lwwAcked} strict ${counts.strictAcked}, sessions ${counts.sessions}, RSS MiB ${rss}, heap used MiB ${heap}`)
      }
      for (const id of IDS) {
        if (!regions.running(id) && !restartsInFlight(marks, elapsedS())) {
          // A region that died on its own (not one being restarted) is a crash.
          await sleep(2000)
          if (!regions.running(id)) {
            failures.push(`region ${id} exited on its own:\n${regions.tail(id)}`)
            await regions.launch(id)
          }
        }
      }
    }

    // --- stop: churn first (sessions finish their current write), then the faults
    stopping = true
    await Promise.all(churners)
    await Promise.all(faults)
    clearInterval(sampler)
    regions.heal()
    for (const id of IDS) if (!regions.running(id)) await regions.launch(id)
    const healedAt = Date.now()
    log(`[soak ${elapsedS().toFixed(0)} s] stopped: ${counts.sessions} sessions; checking convergence and reading back`)

    // --- convergence: equal vectors and equal digests in every region, per crdt collection
    let convergedMs = NaN
    const convergeDeadline = healedAt + 120_000
    let lastView = ''
    while (Date.now() < convergeDeadline) {
      try {
        const statuses = await Promise.all(IDS.map((id) => regions.status(id)))
        const view = statuses.map((s) => JSON.stringify(s.collections))
        lastView = IDS.map((id, i) => `${id}: ${view[i]}`).join('\n')
        if (view.every((v) => v === view[0]) && statuses.every((s) => s.peers.every((p) => p.state === 'connected'))) {
          convergedMs = Date.now() - healedAt
          break
        }
      } catch {
        // a region still starting
      }
      await sleep(100)
    }
    if (!Number.isFinite(convergedMs)) failures.push(`regions did not converge within 120 s:\n${lastView}`)

    // --- read back every acknowledged write from every region
    const lost: string[] = []
    const readSeq = async (id: string, path: string): Promise<number> => {
      const response = await fetch(`${regions.httpUrl(id)}${path}`)
      if (response.status === 404) return 0
      const body = (await response.json()) as { doc?: { seq?: number } | null; value?: { seq?: number } | null }
      return (body.doc ?? body.value)?.seq ?? 0
    }
    for (const [i, slot] of lww.entries()) {
      if (slot.acked === 0) continue
      for (const id of IDS) {
        const seq = await readSeq(id, `/v1/notes/d${i}`)
        if (seq < slot.acked) lost.push(`notes/d${i} at ${id}: seq ${seq} < acknowledged ${slot.acked}`)
      }
    }
    // Strict: every replica, read locally (nearest); a replica may still be applying the tail, so wait a little.
    const strictDeadline = Date.now() + 30_000
    for (const [i, slot] of strict.entries()) {
      if (slot.acked === 0) continue
      for (const id of IDS) {
        let seq = 0
        for (;;) {
          seq = await readSeq(id, `/v1/accounts/s${i}?read=nearest`).catch(() => 0)
          if (seq >= slot.acked || Date.now() > strictDeadline) break
          await sleep(200)
        }
        if (seq < slot.acked) lost.push(`accounts/s${i} at ${id}: seq ${seq} < acknowledged ${slot.acked}`)
      }
    }
    if (lost.length > 0) failures.push(`${lost.length} acknowledged writes not read back, e.g. ${lost.slice(0, 5).join('; ')}`)

    // --- RSS and heap: the end of warm-up against the end of the run
    const figure = (id: string, samples: readonly (readonly [number, number])[]): RegionFigure => {
      const window = Math.max(10, o.durationS * 0.05)
      const warm = Math.min(o.warmupS, o.durationS / 2)
      const baseline = median(samples.filter(([t]) => t >= warm && t < warm + window).map(([, v]) => v))
      const end = median(samples.filter(([t]) => t >= o.durationS - window).map(([, v]) => v))
      const values = samples.map(([, v]) => v).filter(Number.isFinite)
      return {
        id,
        startMiB: values[0] ?? NaN,
        baselineMiB: baseline,
        endMiB: end,
        peakMiB: Math.max(...values),
        growth: end / baseline - 1,
      }
    }
    const rss: RegionRss[] = IDS.map((id) => figure(id, rssSamples.get(id) ?? []))
    const memorySeries = (id: string, pick: (m: RegionMemory) => number): [number, number][] =>
      (memorySamples.get(id) ?? []).map(([t, m]) => [t, m === null ? NaN : pick(m) / MiB])
    const heapUsed = IDS.map((id) => figure(id, memorySeries(id, (m) => m.heapUsed)))
    const oldSpace = IDS.map((id) => figure(id, memorySeries(id, (m) => m.oldSpaceUsed)))
    const external = IDS.map((id) => figure(id, memorySeries(id, (m) => m.external)))
    for (const r of rss) {
      if (r.growth > o.maxRssGrowth) {
        failures.push(`region ${r.id}: RSS grew ${(r.growth * 100).toFixed(1)} % after warm-up (${r.baselineMiB.toFixed(1)} -> ${r.endMiB.toFixed(1)} MiB)`)
      }
    }

    const result: SoakResult = {
      ok: failures.length === 0,
      failures,
      issued: { lww: counts.lwwIssued, strict: counts.strictIssued },
      acknowledged: { lww: counts.lwwAcked, strict: counts.strictAcked },
      strictIndeterminate: counts.indeterminate,
      strictRejected: counts.rejected,
      sessions: counts.sessions,
      lost,
      convergedMs,
      partitions,
      restarts,
      rss,
      heapUsed,
      oldSpace,
      external,
      reportPath: o.reportPath,
    }
    const errors = [...clientErrors].map(([code, n]) => `${code} ${n}`).join(', ')
    // The raw samples next to the report, for a closer look than the charts give (seconds, MiB).
    const samples = Object.fromEntries(IDS.map((id) => [id, { rss: rssSamples.get(id) ?? [], memory: (memorySamples.get(id) ?? []).map(([t, m]) => [t, m === null ? null : { heapUsed: m.heapUsed / MiB, heapTotal: m.heapTotal / MiB, oldSpaceUsed: m.oldSpaceUsed / MiB, external: m.external / MiB }]) }]))
    if (o.samplesPath !== null) writeFileSync(o.samplesPath, JSON.stringify({ marks, samples }))
    writeFileSync(
      o.reportPath,
      htmlReport(
        `Meridian soak, ${new Date(started).toISOString()}`,
        [
          ['result', result.ok ? 'passed' : `FAILED: ${failures.join(' | ')}`],
          ['duration', `${o.durationS} s, partition every ${o.partitionEveryS} s for ${o.partitionForS} s, restart every ${o.restartEveryS} s`],
          ['client sessions', String(result.sessions)],
          ['writes acknowledged', `lww ${result.acknowledged.lww} of ${result.issued.lww}, strict ${result.acknowledged.strict} of ${result.issued.strict} (indeterminate ${result.strictIndeterminate}, rejected ${result.strictRejected})`],
          ['acknowledged writes lost', String(lost.length)],
          ['converged after', `${convergedMs} ms`],
          ...rss.map((r): [string, string] => [`RSS ${r.id} (MiB)`, describe(r)]),
          ...heapUsed.map((r): [string, string] => [`heap used ${r.id} (MiB)`, describe(r)]),
          ...oldSpace.map((r): [string, string] => [`old space used ${r.id} (MiB)`, describe(r)]),
          ...external.map((r): [string, string] => [`external ${r.id} (MiB)`, describe(r)]),
          ['client connection errors', errors || 'none'],
        ],
        [
          { title: 'RSS per region', xLabel: 'seconds', yLabel: 'MiB', series: IDS.map((id) => ({ name: id, points: rssSamples.get(id) ?? [] })), marks },
          { title: 'V8 heap used per region (/metrics)', xLabel: 'seconds', yLabel: 'MiB', series: IDS.map((id) => ({ name: id, points: memorySeries(id, (m) => m.heapUsed) })), marks },
          { title: 'V8 old space used per region (/metrics)', xLabel: 'seconds', yLabel: 'MiB', series: IDS.map((id) => ({ name: id, points: memorySeries(id, (m) => m.oldSpaceUsed) })), marks },
          { title: 'External memory per region (/metrics: Buffers, ArrayBuffers)', xLabel: 'seconds', yLabel: 'MiB', series: IDS.map((id) => ({ name: id, points: memorySeries(id, (m) => m.external) })), marks },
          { title: 'Acknowledged writes per second', xLabel: 'seconds', yLabel: 'writes/s', series: [{ name: 'lww + strict', points: throughput }], marks },
        ] satisfies Chart[],
      ),
    )
    return result
  } finally {
    await regions.stop()
  }
}

/** A figure as one line: start, after warm-up, end, peak, growth. */
export function describe(r: RegionFigure): string {
  return `start ${r.startMiB.toFixed(1)}, after warm-up ${r.baselineMiB.toFixed(1)}, end ${r.endMiB.toFixed(1)}, peak ${r.peakMiB.toFixed(1)}, growth ${(r.growth * 100).toFixed(1)} %`
}

/** True while a restart mark is recent (the region may legitimately be down for a moment). */
function restartsInFlight(marks: readonly { x: number; label: string }[], now: number): boolean {
  return marks.some((mark) => mark.label.startsWith('kill') && now - mark.x < 60)
}

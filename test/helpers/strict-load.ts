import { expect } from 'vitest'
import { type ProcessCluster, sleep } from './cluster.js'

/**
 * Strict write load and checks shared by the integration tests that kill or hand over a primary under
 * writes (failover-controls, cascade): majority PUTs to `/v1/<collection>/<key>`, round robin over the
 * running nodes (replicas forward), every acknowledged write remembered and later read back.
 */

export type AckedWrites = Map<string, { token: string; n: number }>

/** One strict PUT; status 0 when the request failed (connection refused, timeout). */
export async function strictPut(cluster: ProcessCluster, id: string, collection: string, key: string, value: unknown, concern = 'majority'): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(`${cluster.node(id).httpUrl}/v1/${collection}/${key}?w=${concern}`, { method: 'PUT', body: JSON.stringify(value), signal: AbortSignal.timeout(8000) })
    return { status: res.status, body: await res.json() }
  } catch (err) {
    return { status: 0, body: String(err) }
  }
}

export const epochOf = (token: string): number => Number(String(token).split(':')[0])

/**
 * Three writers of majority writes round robin over the running nodes of `ids`, recording every
 * acknowledged one, the time of each acknowledgement, and when the first acknowledgement of an epoch
 * above `sinceEpoch` arrived.
 */
export function strictWriteLoad(cluster: ProcessCluster, ids: readonly string[], collection: string, prefix: string) {
  const acked: AckedWrites = new Map()
  const ackTimes: number[] = []
  const state = { stop: false, sinceEpoch: Number.POSITIVE_INFINITY, firstNewEpochAckMs: 0, seq: 0 }
  const writer = async (w: number) => {
    while (!state.stop) {
      const n = state.seq++
      const key = `${prefix}-${w}-${n}`
      const alive = ids.filter((id) => cluster.node(id).running)
      const res = await strictPut(cluster, alive[n % alive.length] as string, collection, key, { n })
      if (res.status === 200) {
        acked.set(key, { token: res.body.token, n })
        ackTimes.push(performance.now())
        if (state.firstNewEpochAckMs === 0 && epochOf(res.body.token) > state.sinceEpoch) state.firstNewEpochAckMs = performance.now()
      } else if (res.status === 0) await sleep(20)
    }
  }
  const writers = [0, 1, 2].map((w) => writer(w))
  return {
    acked,
    ackTimes,
    state,
    /** Watch for the first acknowledgement of a later epoch than `epoch`. */
    expectNewEpoch(epoch: number) {
      state.sinceEpoch = epoch
      state.firstNewEpochAckMs = 0
    },
    async stop() {
      state.stop = true
      await Promise.all(writers)
    },
  }
}

/** Every acknowledged write is readable on `id` at (or after) its token, with its value. */
export async function expectAllPresent(cluster: ProcessCluster, id: string, collection: string, acked: AckedWrites): Promise<void> {
  for (const [key, { token, n }] of acked) {
    const res = await fetch(`${cluster.node(id).httpUrl}/v1/${collection}/${key}?read=nearest&after=${token}&timeoutMs=5000`)
    expect(res.status, `${key} (${token}) on ${id}`).toBe(200)
    expect(((await res.json()) as { value: unknown }).value).toEqual({ n })
  }
}

/** `min / median / max ms (n runs: …)` of a list of timings. */
export function timingSummary(values: readonly number[]): string {
  const s = [...values].sort((x, y) => x - y)
  return `min ${Math.round(s[0] ?? NaN)} / median ${Math.round(s[Math.floor(s.length / 2)] ?? NaN)} / max ${Math.round(s[s.length - 1] ?? NaN)} ms (${s.length} runs: ${s.map(Math.round).join(', ')})`
}

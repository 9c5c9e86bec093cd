import { type ProcessCluster, waitFor } from './cluster.js'

/** What the strict integration tests read of `GET /status`; each test widens it with what it checks. */
export interface StrictStatusBody {
  role: string
  epoch: number | null
  primary: string | null
}

/** A node's `/status`, or null when it is stopped or does not answer within a second. */
export async function nodeStatus<T extends StrictStatusBody = StrictStatusBody>(cluster: ProcessCluster, id: string): Promise<T | null> {
  if (!cluster.node(id).running) return null
  try {
    const res = await fetch(`${cluster.node(id).httpUrl}/status`, { signal: AbortSignal.timeout(1000) })
    return (await res.json()) as T
  } catch {
    return null
  }
}

/** Waits until one of `among` says it is the strict primary; its id and epoch. */
export async function waitStrictPrimary(cluster: ProcessCluster, among: readonly string[], timeoutMs = 15_000): Promise<{ id: string; epoch: number }> {
  let found = { id: '', epoch: 0 }
  await waitFor(async () => {
    for (const id of among) {
      const s = await nodeStatus(cluster, id)
      if (s?.role === 'primary') {
        found = { id, epoch: s.epoch ?? 0 }
        return true
      }
    }
    return false
  }, timeoutMs, 'a strict primary')
  return found
}

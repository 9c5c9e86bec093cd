/**
 * One worker process of the reconnect storm (lab/storm-run.ts): holds its share of the clients on one
 * event loop and reports, over IPC, how many are connected, ready (their first write durable) and synced
 * (their write made while the region was down acknowledged). Real clients (`createNodeClient`) writing a strict
 * document each: strict collections keep no local replica, whereas every client of an lww collection replicates
 * the whole collection — 10,000 clients each holding 10,000 documents (docs/soak-and-storm.md).
 */
import { createNodeClient, strictSupport, type MeridianClient } from '../client/node.js'
import { sleep } from '../test/helpers/cluster.js'

export type WorkerCommand =
  | { readonly type: 'start'; readonly url: string; readonly count: number; readonly rampPerS: number; readonly prefix: string; readonly minDelayMs: number; readonly maxDelayMs: number }
  | { readonly type: 'phase' }
  | { readonly type: 'stop' }

export interface WorkerProgress {
  readonly type: 'progress'
  readonly created: number
  readonly connected: number
  readonly ready: number
  readonly synced: number
  /** Writes answered indeterminate or refused, and written again. */
  readonly retries: number
  readonly errors: Record<string, number>
}

const clients: MeridianClient[] = []
let ready = 0
let synced = 0
let retries = 0
const errors: Record<string, number> = {}
let started = false

function send(message: WorkerProgress): void {
  process.send?.(message)
}

function report(): void {
  send({ type: 'progress', created: clients.length, connected: clients.filter((c) => c.status === 'connected').length, ready, synced, retries, errors })
}

const reporter = setInterval(report, 200)

async function start(command: Extract<WorkerCommand, { type: 'start' }>): Promise<void> {
  const gap = 1000 / Math.max(1, command.rampPerS)
  for (let i = 0; i < command.count; i++) {
    const client = createNodeClient({
      urls: [command.url],
      clientId: `${command.prefix}-${i}`,
      use: [strictSupport],
      minDelayMs: command.minDelayMs,
      maxDelayMs: command.maxDelayMs,
    })
    client.onError((error) => (errors[error.code] = (errors[error.code] ?? 0) + 1))
    clients.push(client)
    // Ready: its first write is acknowledged.
    void writeUntilAcknowledged(client, 0).then((ok) => ok && (ready += 1))
    if (i % 50 === 49) await sleep(gap * 50)
  }
}

/**
 * Writes `{ phase }` to the client's own document until a write is acknowledged (an indeterminate or refused
 * one — the region went away under it — is written again); false once the client is closed.
 */
async function writeUntilAcknowledged(client: MeridianClient, phase: number): Promise<boolean> {
  for (;;) {
    try {
      const result = await client.strict<{ phase: number }>('storm').put(client.clientId, { phase })
      if (result.status === 'acknowledged') return true
      retries += 1
    } catch (err) {
      if ((err as { code?: string }).code === 'CLIENT_CLOSED') return false
      retries += 1
      await sleep(100)
    }
  }
}

/** The region is down: every client writes now (queued offline) and counts as synced once that write is acknowledged. */
function phase(): void {
  for (const client of clients) void writeUntilAcknowledged(client, 1).then((ok) => ok && (synced += 1))
}

process.on('message', (command: WorkerCommand) => {
  if (command.type === 'start' && !started) {
    started = true
    void start(command)
  } else if (command.type === 'phase') phase()
  else if (command.type === 'stop') {
    clearInterval(reporter)
    void Promise.allSettled(clients.map((c) => c.close())).then(() => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))

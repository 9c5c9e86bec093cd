/**
 * One W2 client in a worker thread of the bench process (bench/suite/w2-automerge.ts): an unmodified
 * automerge-repo `Repo` with a `WebSocketClientAdapter`, holding all W2 documents. Each client runs in a
 * thread of its own because one thread cannot keep up with five: an automerge-repo handle spends about a
 * millisecond of CPU on every sync message it receives, and a thread that falls behind is closed by the
 * server's keep-alive (it does not answer pings) and stalls for the adapter's 5 s retry interval.
 *
 * Time is `process.hrtime` in ms: one monotonic clock for every thread of the process.
 *
 * Requests from the main thread (`{ id, op, ... }`, answered `{ id, result }` or `{ id, error }`):
 *   create n          make n documents (client 0), answer their URLs once each has been sent to the server
 *   find urls         find the documents (the other clients)
 *   run               make this client's changes of the schedule (see `run`), answer when done
 *   stop at           end the schedule now and the measured window at `at` (the overload guard)
 *   status            changes made and other clients' changes seen, per document
 *   collect           the phase's samples: what this client saw (key, made, visible) and sent (key, sent)
 *   heads             every document's heads and key count
 *   shutdown
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { Repo, type AutomergeUrl, type DocHandle, type DocHandleChangePayload } from '@automerge/automerge-repo'
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket'
import { next as A } from '@automerge/automerge/slim'

export interface W2ClientData {
  readonly url: string
  /** This client's index, 0 … clients - 1. */
  readonly client: number
}

export interface W2RunRequest {
  /** hrtime ms at which change 0 of the schedule is due. */
  readonly t0: number
  readonly perSecond: number
  /** Changes in the whole schedule (all clients). */
  readonly total: number
  readonly documents: number
  readonly clients: number
  /** The measured window (hrtime ms): samples are the changes made in it. */
  readonly from: number
  readonly to: number
}

export interface W2Samples {
  /** Per delivery to this client: document, key, when it was made, when it became visible here. */
  readonly seenDoc: number[]
  readonly seenKey: string[]
  readonly madeAt: number[]
  readonly visibleAt: number[]
  /** Per change of this client in the window: document, key, when the sync message carrying it was handed to the socket. */
  readonly sentDoc: number[]
  readonly sentKey: string[]
  readonly sentAt: number[]
  /** Deliveries to this client while now ∈ [from, to). */
  readonly deliveredInWindow: number
  /** Sync messages this client received from and sent to the server in the window. */
  readonly received: number
  readonly sent: number
  /** Sent sync messages whose changes could not be read; connections closed and their codes; local changes refused. */
  readonly unreadable: number
  readonly disconnects: number
  readonly closeCodes: number[]
  readonly failedChanges: number
  /** The most a change of this client was made after it was due (ms); the thread's event-loop delay p50 / p99 / max (ms). */
  readonly lateMs: number
  readonly loopP50Ms: number
  readonly loopP99Ms: number
  readonly loopMaxMs: number
}

type Values = Record<string, number>

const now = (): number => Number(process.hrtime.bigint()) / 1e6

const port = parentPort
if (port === null) throw new Error('bench/suite/w2-client.ts runs as a worker thread')
const data = workerData as W2ClientData
const self = data.client

const adapter = new WebSocketClientAdapter(data.url)
const repo = new Repo({ network: [adapter] })
const handles: DocHandle<Values>[] = []
const docIndex = new Map<string, number>()
/** made[d]: changes this client made to document d; seen[d]: other clients' keys seen in d. */
const made: number[] = []
const seen: number[] = []
/** pending[d]: change hash → key, for this client's window changes in d not yet seen leaving the socket. */
const pending: Map<string, string>[] = []
const announced = new Set<string>()

let phase: W2RunRequest | null = null
/** Set by `stop`: the schedule ends early (the bench's overload guard). */
let stopRequested = false
let samples = emptySamples()
let unreadable = 0
let disconnects = 0
const closeCodes: number[] = []
let failedChanges = 0
let lateMs = 0
const loop = monitorEventLoopDelay({ resolution: 5 })

function emptySamples() {
  return { seenDoc: [] as number[], seenKey: [] as string[], madeAt: [] as number[], visibleAt: [] as number[], sentDoc: [] as number[], sentKey: [] as string[], sentAt: [] as number[], deliveredInWindow: 0 }
}

/** Sync messages received from and sent to the server while now ∈ [from, to). */
let received = 0
let sentMessages = 0
adapter.on('message', (message) => {
  if (message.type !== 'sync' || phase === null) return
  const at = now()
  if (at >= phase.from && at < phase.to) received += 1
})
adapter.on('peer-disconnected', () => {
  disconnects += 1
})
const send = adapter.send.bind(adapter)
adapter.send = (message) => {
  send(message)
  const at = now()
  if ((message.type === 'sync' || message.type === 'request') && 'documentId' in message && 'data' in message) sent(String(message.documentId), message.data as Uint8Array, at)
}

/** The adapter handed a sync message for `documentId` to the socket at `at`. Runs inside the Repo: never throws. */
function sent(documentId: string, bytes: Uint8Array, at: number): void {
  announced.add(documentId)
  if (phase !== null && at >= phase.from && at < phase.to) sentMessages += 1
  const d = docIndex.get(documentId)
  const waiting = d === undefined ? undefined : pending[d]
  if (d === undefined || waiting === undefined || waiting.size === 0) return
  try {
    for (const entry of A.decodeSyncMessage(bytes).changes) {
      for (const hash of carried(entry, waiting)) {
        const key = waiting.get(hash)
        if (key === undefined) continue
        waiting.delete(hash)
        samples.sentDoc.push(d)
        samples.sentKey.push(key)
        samples.sentAt.push(at)
      }
    }
  } catch {
    unreadable += 1
  }
}

/**
 * Which of the `waiting` hashes one entry of a sync message's `changes` carries. The entry is Automerge
 * chunks back to back (automerge-repo's client puts all the changes of a throttled message into one
 * entry; header: 4 magic bytes, 4 checksum bytes, the type, the body's length in unsigned LEB128): a
 * change chunk (type 1, or 2 compressed) is decoded for its hash; a document chunk (type 0: what the
 * client sends while it does not know what the server holds) is loaded and asked for each waiting hash;
 * anything else is read as a bundle of changes.
 */
function carried(entry: Uint8Array, waiting: ReadonlyMap<string, string>): string[] {
  const hashes: string[] = []
  let at = 0
  while (at + 9 < entry.length) {
    if (entry[at] !== 0x85 || entry[at + 1] !== 0x6f || entry[at + 2] !== 0x4a || entry[at + 3] !== 0x83) break
    const type = entry[at + 8] as number
    let cursor = at + 9
    let length = 0
    for (let shift = 0; cursor < entry.length; shift += 7) {
      const byte = entry[cursor++] as number
      length += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) break
    }
    const end = cursor + length
    if (end > entry.length) break
    const chunk = at === 0 && end === entry.length ? entry : entry.subarray(at, end)
    if (type === 1 || type === 2) {
      const hash = A.decodeChange(chunk).hash
      if (hash !== undefined && waiting.has(hash)) hashes.push(hash)
    } else if (type === 0) {
      const doc = A.load(chunk)
      for (const hash of waiting.keys()) if (A.hasHeads(doc, [hash])) hashes.push(hash)
    } else {
      for (const change of A.readBundle(chunk).changes) if (change.hash !== undefined && waiting.has(change.hash)) hashes.push(change.hash)
    }
    at = end
  }
  return hashes
}

function adopt(handle: DocHandle<Values>): void {
  const d = handles.length
  handles.push(handle)
  docIndex.set(handle.documentId, d)
  made.push(0)
  seen.push(0)
  pending.push(new Map())
  handle.on('change', (payload: DocHandleChangePayload<Values>) => observe(d, payload))
}

function observe(d: number, payload: DocHandleChangePayload<Values>): void {
  const at = now()
  for (const patch of payload.patches) {
    if (patch.action !== 'put' || patch.path.length !== 1) continue
    const key = String(patch.path[0])
    const dot = key.indexOf('.')
    if (dot < 0 || Number(key.slice(0, dot)) === self) continue
    seen[d]! += 1
    if (phase === null) continue
    if (at >= phase.from && at < phase.to) samples.deliveredInWindow += 1
    const madeAt = patch.value as number
    if (madeAt < phase.from || madeAt >= phase.to) continue
    samples.seenDoc.push(d)
    samples.seenKey.push(key)
    samples.madeAt.push(madeAt)
    samples.visibleAt.push(at)
  }
}

function change(d: number): void {
  const handle = handles[d] as DocHandle<Values>
  const seq = (made[d] as number) + 1
  const key = `${self}.${seq}`
  let madeAt = 0
  try {
    handle.change((doc) => {
      madeAt = now()
      doc[key] = madeAt
    })
  } catch {
    // automerge-repo 2.5.6: a sync message sent on a closing socket throws inside the handle's update,
    // which leaves the handle holding an outdated document that refuses every later change.
    failedChanges += 1
    return
  }
  made[d] = seq
  // A local change depends on every head: afterwards it is the only one.
  if (phase !== null && madeAt >= phase.from && madeAt < phase.to) {
    const heads = A.getHeads(handle.doc())
    if (heads.length === 1) pending[d]?.set(heads[0] as string, key)
  }
}

/**
 * This client's part of the schedule: change k is due at t0 + k / perSecond and goes to pair k mod
 * (documents × clients), i.e. document (k mod P) mod documents, client ⌊(k mod P) / documents⌋.
 */
function run(request: W2RunRequest): Promise<void> {
  phase = request
  stopRequested = false
  samples = emptySamples()
  lateMs = 0
  for (const map of pending) map.clear()
  loop.reset()
  loop.enable()
  const pairs = request.documents * request.clients
  const mine: number[] = []
  for (let k = 0; k < request.total; k++) {
    const p = k % pairs
    if (Math.floor(p / request.documents) % request.clients === self) mine.push(k)
  }
  let i = 0
  return new Promise((resolve) => {
    const tick = (): void => {
      while (i < mine.length && !stopRequested) {
        const due = request.t0 + ((mine[i] as number) * 1000) / request.perSecond
        const at = now()
        if (due > at) return void setTimeout(tick, due - at)
        lateMs = Math.max(lateMs, at - due)
        change(((mine[i] as number) % pairs) % request.documents)
        i++
      }
      loop.disable()
      resolve()
    }
    tick()
  })
}

async function handle(request: { op: string } & Record<string, unknown>): Promise<unknown> {
  switch (request.op) {
    case 'ready':
      await repo.networkSubsystem.whenReady()
      // Why the connection closed, if it does (the adapter reconnects only after its 5 s retry interval).
      adapter.socket?.addEventListener('close', (event) => {
        closeCodes.push(event.code)
      })
      return null
    case 'create': {
      const created = Array.from({ length: request['n'] as number }, () => repo.create<Values>({}))
      for (const h of created) adopt(h)
      const deadline = now() + 10_000
      while (!created.every((h) => announced.has(h.documentId))) {
        if (now() > deadline) throw new Error('client 0 did not send every new document to the server within 10 s')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return created.map((h) => h.url)
    }
    case 'find':
      for (const url of request['urls'] as AutomergeUrl[]) adopt(await repo.find<Values>(url))
      return null
    case 'run':
      await run(request['run'] as W2RunRequest)
      return null
    case 'stop':
      // The window ends at `at` (hrtime ms): later changes are not sampled, and none are made from now on.
      stopRequested = true
      if (phase !== null) phase = { ...phase, to: Math.min(phase.to, request['at'] as number) }
      return null
    case 'status':
      return { made, seen }
    case 'collect': {
      const result: W2Samples = {
        ...samples,
        received,
        sent: sentMessages,
        unreadable,
        disconnects,
        closeCodes,
        failedChanges,
        lateMs,
        loopP50Ms: loop.percentile(50) / 1e6,
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
      }
      phase = null
      samples = emptySamples()
      received = 0
      sentMessages = 0
      return result
    }
    case 'heads':
      return handles.map((h) => ({ heads: [...A.getHeads(h.doc())].sort().join(','), keys: Object.keys(h.doc()).length }))
    case 'shutdown':
      await repo.shutdown().catch(() => undefined)
      return null
    default:
      throw new Error(`unknown request ${request.op}`)
  }
}

port.on('message', (request: { id: number; op: string } & Record<string, unknown>) => {
  handle(request).then(
    (result) => port.postMessage({ id: request.id, result }),
    (err: unknown) => port.postMessage({ id: request.id, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) }),
  )
})

import { MessageType, type Message } from '../../core/codec/index.js'
import type {
  LogPosition,
  StrictNode,
  StrictReadReply,
  StrictReadRequest,
  StrictWriteReply,
  StrictWriteRequest,
} from '../../core/strict/index.js'
import { collectionSpec, type ServerConfig } from '../config.js'
import { entryBytes } from '../../core/strict/op-values.js'
import { ForwardWindow } from './forward-window.js'
import { timerDelayMs } from './timed-waiters.js'

/** How long to wait between two looks for a primary while none is known or reachable. */
const PRIMARY_POLL_MS = 50
/** Extra time a forwarder gives the primary's answer beyond the write's own timeout. */
const FORWARD_GRACE_MS = 500

/** How a request forwarded to another node ended. */
type Forwarded =
  | { readonly outcome: 'answered'; readonly message: Message }
  /** The frame could not be sent: nothing left this node. */
  | { readonly outcome: 'unsent' }
  /** No answer in time, or the link dropped: the other node may have acted on it. */
  | { readonly outcome: 'timeout' | 'lost' }

interface Pending {
  readonly peer: string
  /** The message type of the answer. */
  readonly answer: MessageType
  readonly resolve: (result: Forwarded) => void
  readonly timer: NodeJS.Timeout
}

/**
 * What `StrictRequests` needs from the node it routes for; `StrictHost` implements it. Declared here
 * so that this file imports nothing from strict-host.ts, which constructs `StrictRequests`.
 */
export interface StrictRequestsHost {
  /** Role, epoch, and `status()` for the primary hint and the replicas. */
  readonly node: Pick<StrictNode, 'currentRole' | 'currentEpoch' | 'status' | 'switchoverTarget'>
  readonly nodeId: string
  readonly isClosed: boolean
  /** Appends at this node, the primary. */
  writeHere(request: StrictWriteRequest, timeoutMs: number): Promise<StrictWriteReply>
  /** Serves a read from this node's applied state. */
  readHere(request: StrictReadRequest): ReturnType<StrictNode['read']>
  /** The token of a read barrier committed after the call; `null` if this node could not commit one. */
  awaitBarrier(timeoutMs: number): Promise<LogPosition | null>
  waitForApplied(lsn: number, timeoutMs: number): Promise<void>
  waitForRoleChange(timeoutMs: number): Promise<void>
}

export interface StrictRequestsOptions {
  readonly host: StrictRequestsHost
  readonly config: ServerConfig
  readonly send: (peer: string, message: Message) => boolean
  readonly isLinked: (peer: string) => boolean
  readonly now: () => number
  /** Where an unexpected failure is reported (answers never reject: a rejection here would crash the process). */
  readonly onInternalError: (what: string, err: unknown) => void
}

const unavailable = (message: string): StrictWriteReply => ({ status: 'rejected', error: { code: 'UNAVAILABLE', message } })
const readError = (code: Extract<StrictReadReply, { status: 'rejected' }>['error']['code'], message: string): StrictReadReply => ({
  status: 'rejected',
  error: { code, message },
})

/**
 * Routes strict writes and reads (docs/design.md §4): a write reaching a node that is not the primary is
 * forwarded to the primary it knows of (one hop; the primary never forwards again), waiting through
 * an election when none is known. Only a write that provably never reached a primary is rejected
 * (`UNAVAILABLE`, safe to retry); once handed over, a lost answer is `indeterminate` [ST3].
 * Reads follow the read preference, `after` [RD1] and `maxStalenessMs` [RD3].
 */
export class StrictRequests {
  private readonly options: StrictRequestsOptions
  private readonly pending = new Map<number, Pending>()
  /** Round-robin position of `spreadReads`. */
  private spreadTurn = 0
  /** Bytes of forwarded writes in flight per peer: a quarter of a frame, as one append carries. */
  private readonly forwarding: ForwardWindow
  /**
   * Ids of forwarded requests. A peer answers by id over whatever link is up when it is done, so a
   * process that restarted must not reuse the ids of its previous life: an answer to an old request,
   * still in flight at the primary, would settle a new one with the old write's token. Each life starts
   * at a random point of a 2^48 range (the wire's uint takes up to 2^53).
   */
  private nextRequestId = 1 + Math.floor(Math.random() * 2 ** 48)

  constructor(options: StrictRequestsOptions) {
    this.options = options
    this.forwarding = new ForwardWindow(Math.floor(options.config.maxFrameBytes / 4))
  }

  private get host(): StrictRequestsHost {
    return this.options.host
  }

  // ------------------------------------------------------------------------------ writes

  /**
   * `forwarded`: the request came from another node, which handles redirection itself. Never rejects:
   * an unexpected failure is reported and answered `indeterminate` (the write may have been appended).
   */
  write(request: StrictWriteRequest, forwarded = false): Promise<StrictWriteReply> {
    return this.attemptWrite(request, forwarded).catch((err: unknown) => {
      this.options.onInternalError('strict write', err)
      return { status: 'indeterminate', token: null, requested: request.concern, reason: 'unreachable', reached: null }
    })
  }

  /** Never rejects: an unexpected failure is reported and answered UNAVAILABLE. */
  read(request: StrictReadRequest, forwarded = false): Promise<StrictReadReply> {
    return this.attemptRead(request, forwarded).catch((err: unknown) => {
      this.options.onInternalError('strict read', err)
      return readError('UNAVAILABLE', 'internal error while serving the read (logged on the server)')
    })
  }

  private async attemptWrite(request: StrictWriteRequest, forwarded: boolean): Promise<StrictWriteReply> {
    const timeoutMs = request.timeoutMs ?? this.options.config.strict.writeTimeoutMs
    const deadline = this.options.now() + timeoutMs
    for (;;) {
      if (this.host.isClosed) return unavailable('the node is shutting down')
      const remaining = deadline - this.options.now()
      const node = this.host.node
      // [FO3] During a switchover the primary takes no new writes: they wait here for the new primary.
      if (node.currentRole === 'primary' && node.switchoverTarget === null) return this.host.writeHere(request, remaining)
      const hint = node.status().primaryHint
      if (forwarded) {
        return { status: 'rejected', error: { code: 'NOT_PRIMARY', epoch: node.currentEpoch, primaryHint: hint } }
      }
      if (remaining <= 0) {
        return unavailable(`no primary reachable within ${timeoutMs} ms (epoch ${node.currentEpoch}); nothing was written`)
      }
      if (hint !== null && hint !== this.host.nodeId && this.options.isLinked(hint)) {
        const reply = await this.forwardWrite(hint, { ...request, timeoutMs: remaining })
        if (reply !== null && !(reply.status === 'rejected' && reply.error.code === 'NOT_PRIMARY')) return reply
      }
      await this.host.waitForRoleChange(Math.min(PRIMARY_POLL_MS, Math.max(0, deadline - this.options.now())))
    }
  }

  /** Null when the frame could not be sent (nothing left this node: safe to try again). */
  private async forwardWrite(peer: string, request: StrictWriteRequest): Promise<StrictWriteReply | null> {
    const size = entryBytes({ epoch: 0, lsn: 1, op: request.op, ...(request.requestKey === null ? {} : { requestKey: request.requestKey }) })
    // Waiting for room sends nothing: on a timeout the caller retries until its deadline, then answers UNAVAILABLE.
    if (!(await this.forwarding.acquire(peer, size, request.timeoutMs ?? 0))) return null
    const result = await this.forward(peer, request.timeoutMs, MessageType.StrictWriteResult, (requestId) => ({ type: MessageType.StrictWrite, requestId, request })).finally(() =>
      this.forwarding.release(peer, size),
    )
    if (result.outcome === 'unsent') return null
    if (result.outcome === 'answered' && result.message.type === MessageType.StrictWriteResult) return result.message.reply
    // [ST3] handed over, answer lost: the primary may have written it.
    return { status: 'indeterminate', token: null, requested: request.concern, reason: result.outcome === 'lost' ? 'unreachable' : 'timeout', reached: null }
  }

  /**
   * Sends a request to `peer` and waits for the answer with the same request id, for the request's
   * own timeout plus a grace period.
   */
  private forward(peer: string, timeoutMs: number | null, answer: MessageType, build: (requestId: number) => Message): Promise<Forwarded> {
    const requestId = this.nextRequestId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId)
        resolve({ outcome: 'timeout' })
      }, timerDelayMs((timeoutMs ?? 0) + FORWARD_GRACE_MS))
      timer.unref()
      this.pending.set(requestId, { peer, answer, resolve, timer })
      if (!this.options.send(peer, build(requestId))) {
        clearTimeout(timer)
        this.pending.delete(requestId)
        resolve({ outcome: 'unsent' })
      }
    })
  }

  // ------------------------------------------------------------------------------ reads

  private async attemptRead(request: StrictReadRequest, forwarded: boolean): Promise<StrictReadReply> {
    const timeoutMs = request.timeoutMs ?? this.options.config.strict.readTimeoutMs
    const deadline = this.options.now() + timeoutMs
    const node = this.host.node
    const primaryOnly = request.read === 'primary' || request.read === 'linearizable'
    if (primaryOnly && node.currentRole !== 'primary') {
      return forwarded ? readError('UNAVAILABLE', `${this.host.nodeId} is not the primary`) : this.readAtPrimary(request, deadline)
    }
    if (request.read === 'linearizable') return this.readLinearizable(request, deadline)
    if (!forwarded && (request.read === 'nearest' || request.read === 'replica') && this.spreads(request.collection)) {
      const spread = await this.readSpread(request, deadline)
      if (spread !== null) return spread
    }
    if (request.read === 'replica' && node.currentRole === 'primary') {
      if (forwarded) return readError('UNAVAILABLE', `${this.host.nodeId} is the primary, not a replica`)
      return this.readAtReplica(request, deadline)
    }
    const local = await this.readLocal(request, deadline)
    // [RD3] A replica that cannot show it is fresh enough (never caught up counts as too stale).
    const bound = request.maxStalenessMs
    if (local.status === 'ok' && bound !== null && node.currentRole !== 'primary' && (local.lagMs === null || local.lagMs > bound)) {
      if (!forwarded && request.read === 'nearest') return this.readAtPrimary(request, deadline)
      const why = local.lagMs === null ? 'has not caught up with a primary yet' : `is ${local.lagMs} ms stale`
      return readError('TOO_STALE', `${this.host.nodeId} ${why}, more than maxStalenessMs ${bound}`)
    }
    if (local.status === 'rejected' && local.error.code === 'NOT_YET' && !forwarded && request.read !== 'replica' && node.currentRole !== 'primary') {
      return this.readAtPrimary(request, deadline)
    }
    return local
  }

  private spreads(collection: string): boolean {
    const spec = collectionSpec(this.options.config, collection)
    return spec?.mode === 'strict' && spec.spreadReads === true
  }

  /**
   * `spreadReads` (docs/client.md, "Read routing"): the next linked member in round-robin order serves
   * the read, this node included (`replica`: not the primary). The target applies `after` [RD1] and
   * `maxStalenessMs` [RD3] itself; if it cannot answer (unreachable, too stale, not yet caught up)
   * the caller serves the read as without spreading. Null: serve it here as usual.
   */
  private async readSpread(request: StrictReadRequest, deadline: number): Promise<StrictReadReply | null> {
    const self = this.host.nodeId
    const primary = this.host.node.currentRole === 'primary' ? self : this.host.node.status().primaryHint
    const candidates = [self, ...this.options.config.peers.map((peer) => peer.nodeId).filter((id) => this.options.isLinked(id))]
      .filter((id) => request.read !== 'replica' || id !== primary)
      .sort()
    if (candidates.length === 0) return null
    const target = candidates[this.spreadTurn++ % candidates.length]
    if (target === undefined || target === self) return null
    const remaining = deadline - this.options.now()
    if (remaining <= 0) return null
    // Half the budget: a target still catching up on `after` leaves time to serve the read here.
    const reply = await this.forwardRead(target, { ...request, timeoutMs: Math.floor(remaining / 2) })
    if (reply === null) return null
    if (reply.status === 'ok' || reply.error.code === 'TOKEN_ROLLED_BACK') return reply
    return null
  }

  /** Reads here, waiting up to the deadline for `after` to be applied [RD1]. */
  private async readLocal(request: StrictReadRequest, deadline: number): Promise<StrictReadReply> {
    for (;;) {
      const result = this.host.readHere(request)
      if (result.status === 'ok') {
        return {
          status: 'ok',
          document: result.document,
          node: this.host.nodeId,
          appliedLsn: result.appliedLsn,
          appliedEpoch: result.appliedEpoch,
          lagMs: result.stalenessMs === null ? null : Math.round(result.stalenessMs),
          lagEntries: result.lagEntries,
        }
      }
      if (result.status === 'token-rolled-back') {
        return readError('TOKEN_ROLLED_BACK', `the entry at lsn ${request.after?.lsn} is of epoch ${result.committedEpoch}, not ${request.after?.epoch}: that write was rolled back`)
      }
      const remaining = deadline - this.options.now()
      if (remaining <= 0 || this.host.isClosed) {
        return readError('NOT_YET', `${this.host.nodeId} has applied up to lsn ${result.appliedLsn}, not yet ${result.waitForLsn}`)
      }
      await this.host.waitForApplied(result.waitForLsn, remaining)
    }
  }

  /** On the primary: wait for a read barrier begun after this read, then read at or after it. */
  private async readLinearizable(request: StrictReadRequest, deadline: number): Promise<StrictReadReply> {
    const barrier = await this.host.awaitBarrier(deadline - this.options.now())
    if (barrier === null) return readError('UNAVAILABLE', `${this.host.nodeId} could not confirm it is still the primary (no majority within the read timeout)`)
    const after = request.after === null || request.after.lsn < barrier.lsn ? barrier : request.after
    return this.readLocal({ ...request, after }, deadline)
  }

  private async readAtPrimary(request: StrictReadRequest, deadline: number): Promise<StrictReadReply> {
    for (;;) {
      const node = this.host.node
      if (node.currentRole === 'primary') return request.read === 'linearizable' ? this.readLinearizable(request, deadline) : this.readLocal(request, deadline)
      const remaining = deadline - this.options.now()
      if (remaining <= 0 || this.host.isClosed) return readError('UNAVAILABLE', `no primary reachable within the read timeout (epoch ${node.currentEpoch})`)
      const hint = node.status().primaryHint
      if (hint !== null && hint !== this.host.nodeId && this.options.isLinked(hint)) {
        const reply = await this.forwardRead(hint, { ...request, read: request.read === 'linearizable' ? 'linearizable' : 'primary', timeoutMs: remaining })
        if (reply !== null && !(reply.status === 'rejected' && reply.error.code === 'UNAVAILABLE')) return reply
      }
      await this.host.waitForRoleChange(Math.min(PRIMARY_POLL_MS, Math.max(0, deadline - this.options.now())))
    }
  }

  /** `read=replica` reaching the primary: ask the most caught-up linked replica. */
  private async readAtReplica(request: StrictReadRequest, deadline: number): Promise<StrictReadReply> {
    const replicas = [...this.host.node.status().replicas]
      .filter((r) => this.options.isLinked(r.id))
      .sort((a, b) => b.appliedLsn - a.appliedLsn)
    for (const replica of replicas) {
      const remaining = deadline - this.options.now()
      if (remaining <= 0) break
      const reply = await this.forwardRead(replica.id, { ...request, timeoutMs: remaining })
      if (reply !== null && !(reply.status === 'rejected' && reply.error.code === 'UNAVAILABLE')) return reply
    }
    return readError('UNAVAILABLE', 'no replica is reachable from this node')
  }

  /** Null when the frame could not be sent, or no answer came (the caller tries elsewhere or gives up). */
  private async forwardRead(peer: string, request: StrictReadRequest): Promise<StrictReadReply | null> {
    const result = await this.forward(peer, request.timeoutMs, MessageType.StrictReadResult, (requestId) => ({ type: MessageType.StrictRead, requestId, request }))
    return result.outcome === 'answered' && result.message.type === MessageType.StrictReadResult ? result.message.reply : null
  }

  // ------------------------------------------------------------------------------ peer traffic

  /** A request another node forwarded to this one: serve it and answer on the same link. */
  handleForwarded(peer: string, message: Message): void {
    if (message.type === MessageType.StrictWrite) {
      void this.write(message.request, true)
        .then((reply) => this.options.send(peer, { type: MessageType.StrictWriteResult, requestId: message.requestId, reply }))
        .catch((err: unknown) => this.options.onInternalError('answering a forwarded write', err))
    } else if (message.type === MessageType.StrictRead) {
      void this.read(message.request, true)
        .then((reply) => this.options.send(peer, { type: MessageType.StrictReadResult, requestId: message.requestId, reply }))
        .catch((err: unknown) => this.options.onInternalError('answering a forwarded read', err))
    }
  }

  /** The answer to a request this node forwarded. Unknown ids (late, after a timeout) are dropped. */
  handleResult(peer: string, message: Message): void {
    if (message.type !== MessageType.StrictWriteResult && message.type !== MessageType.StrictReadResult) return
    const pending = this.pending.get(message.requestId)
    if (pending === undefined || pending.peer !== peer || pending.answer !== message.type) return
    this.pending.delete(message.requestId)
    clearTimeout(pending.timer)
    pending.resolve({ outcome: 'answered', message })
  }

  /** The link to `peer` dropped: forwarded writes become indeterminate, reads are retried elsewhere. */
  peerDown(peer: string): void {
    for (const [id, pending] of this.pending) {
      if (pending.peer !== peer) continue
      this.pending.delete(id)
      clearTimeout(pending.timer)
      pending.resolve({ outcome: 'lost' })
    }
  }

  close(): void {
    for (const peer of new Set([...this.pending.values()].map((p) => p.peer))) this.peerDown(peer)
  }
}

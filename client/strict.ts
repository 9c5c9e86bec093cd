/**
 * meridian/client/strict — strict (primary-replica) collections for a client (docs/client.md, Strict
 * collections): `createClient({ urls, use: [strictSupport] })`, then `client.strict(name)`.
 *
 * @example
 * ```ts
 * import { createClient } from 'meridian/client'
 * import { strictSupport } from 'meridian/client/strict'
 * const client = createClient({ urls, use: [strictSupport] })
 * const accounts = client.strict<{ balance: number }>('accounts')
 * await accounts.put('alice', { balance: 10 }, { w: 'majority' })
 * ```
 */
import { STRICT_FRAMES } from '../core/codec/strict-frames.js'
import type { Message } from '../core/codec/messages.js'
import { MAX_REQUEST_KEY_LENGTH } from '../core/strict/op-values.js'
import type { JsonValue } from '../core/strict/types.js'
import type { ClientModule, StrictHost, StrictSide } from './modules.js'
import { strictCollection, type StrictCollection, type StrictOps } from './strict-collection.js'
import { formatStrictToken, StrictChannel, type StrictWriteOutcome } from './strict-queue.js'
import { StrictWatches } from './strict-watch.js'

class ClientStrictSide implements StrictSide {
  private readonly channel: StrictChannel
  private readonly watches: StrictWatches
  /** The channel and the watches as collections (and a leader tab's hub, for other tabs) use them. */
  readonly ops: StrictOps

  constructor(host: StrictHost) {
    // Restores the strict writes an earlier session queued; they go out with the first session.
    this.channel = new StrictChannel({
      transport: { send: (message) => host.send(message) },
      store: host.store,
      timers: host.timers,
      now: host.now,
      maxInFlight: host.maxInFlight,
      requestKeyPrefix: `${requestKeyStem(host.clientId)}:${host.instance}`,
      onQueueChange: () => host.onQueueChange(),
    })
    this.watches = new StrictWatches({
      send: (message) => host.send(message),
      nextRequestId: () => this.channel.allocateRequestId(),
      advance: (position) => this.channel.observe(position),
    })
    const { channel, watches } = this
    this.ops = {
      submit: (collection, write) => channel.submit(collection, write),
      read: (request) => channel.read(request),
      pending: (collection) => channel.pending(collection),
      onOutcome: (collection, listener) => channel.onOutcome(collection, listener),
      subscribe: (collection, id, listener, options) => watches.subscribe(collection, id, listener, options),
    }
  }

  collection<T extends JsonValue>(name: string): StrictCollection<T> {
    return strictCollection<T>(this.ops, name)
  }

  receive(message: Message): void {
    if (!this.watches.receive(message)) this.channel.receive(message)
  }

  sessionStarted(): void {
    this.channel.sessionStarted()
    this.watches.sessionStarted()
  }

  sessionEnded(): void {
    this.channel.sessionEnded()
    this.watches.sessionEnded()
  }

  close(error: Error): void {
    // Before the connection stops: its session end must not turn pending strict writes indeterminate.
    this.channel.close(error)
    this.watches.close()
  }

  onOutcome(listener: (outcome: StrictWriteOutcome) => void): () => void {
    return this.channel.onOutcome(null, listener)
  }

  get token(): string | null {
    const position = this.channel.position
    return position === null ? null : formatStrictToken(position)
  }

  get size(): number {
    return this.channel.size
  }

  numberWritesFrom(writeId: number): void {
    this.channel.numberWritesFrom(writeId)
  }
}

/**
 * The clientId as the start of this client's request keys (`stem:instance:writeId`), cut so that a key
 * stays within MAX_REQUEST_KEY_LENGTH (the server refuses longer ones) with writeIds of up to 16 digits,
 * never inside a surrogate pair.
 */
function requestKeyStem(clientId: string): string {
  const room = MAX_REQUEST_KEY_LENGTH - ':12345678:'.length - 16
  if (clientId.length <= room) return clientId
  const cut = clientId.slice(0, room)
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut
}

/** Strict collections for `createClient({ use: [strictSupport] })`. */
export const strictSupport: ClientModule = {
  name: 'strict',
  frames: STRICT_FRAMES,
  strict: (host) => new ClientStrictSide(host),
  strictCollection: (ops, name) => strictCollection(ops, name),
}

export type {
  StrictBatchOp,
  StrictBatchOptions,
  StrictCollection,
  StrictDocument,
  StrictPatch,
  StrictReadOptions,
  StrictReadDefaults,
  StrictWriteOptions,
} from './strict-collection.js'
export {
  compareStrictPositions,
  formatStrictToken,
  parseStrictToken,
  DEFAULT_STRICT_MAX_IN_FLIGHT,
  STRICT_ANSWER_GRACE_MS,
  STRICT_DEFAULT_ANSWER_WAIT_MS,
  type StrictPendingWrite,
  type StrictWriteOutcome,
  type StrictWriteResult,
} from './strict-queue.js'
export type { StrictChange, StrictChangeListener, StrictSubscribeOptions } from './strict-watch.js'
export { StrictReadFailed, StrictWriteRejected, type StrictWriteRejectionCode } from './errors.js'

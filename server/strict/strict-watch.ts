import { CloseCode, MessageType, type Message, type StrictSubscribeMessage } from '../../core/codec/index.js'
import { strictKey, type LogPosition, type StoredDocument } from '../../core/strict/index.js'
import { collectionSpec, type ServerConfig } from '../config.js'
import type { ServerConnection } from '../connection.js'
import type { DocumentsApplied } from './applied-documents.js'
import type { StrictHost } from './strict-host.js'

/**
 * Live subscriptions one client connection may hold. Each costs a little memory and a look-up per
 * applied document; beyond the bound a subscribe is refused (INVALID_REQUEST), not queued.
 */
export const MAX_WATCHES_PER_CONNECTION = 1000

interface Watch {
  readonly requestId: number
  readonly collection: string
  /** null: every document of the collection. */
  readonly id: string | null
}

/**
 * The strict subscriptions of one client connection (docs/strict-mode.md, "Watching documents"). It
 * listens to the host's applied documents once, whatever the number of subscriptions, and finds
 * the matching ones by document key and by collection.
 *
 * Every node serves its own clients from its own applied state, so the positions a connection sees
 * only go forward. Frames go through the connection's normal send: a client that does not keep up
 * overflows its send buffer and is closed OVERLOADED [PF4]; it reconnects and subscribes again.
 */
class ConnectionWatches {
  private readonly byRequest = new Map<number, Watch>()
  private readonly byDocument = new Map<string, Set<Watch>>()
  private readonly byCollection = new Map<string, Set<Watch>>()
  private unlisten: (() => void) | null = null

  constructor(
    private readonly host: StrictHost,
    private readonly connection: ServerConnection,
  ) {}

  /** Registers the subscription and sends the current state; a sentence when it is refused. */
  subscribe(message: StrictSubscribeMessage): string | null {
    if (this.byRequest.has(message.requestId)) return `request ${message.requestId} already names a live subscription`
    if (this.byRequest.size >= MAX_WATCHES_PER_CONNECTION) return `at most ${MAX_WATCHES_PER_CONNECTION} subscriptions per connection`
    const watch: Watch = { requestId: message.requestId, collection: message.collection, id: message.id }
    this.byRequest.set(watch.requestId, watch)
    if (watch.id === null) addTo(this.byCollection, watch.collection, watch)
    else addTo(this.byDocument, strictKey(watch.collection, watch.id), watch)
    this.unlisten ??= this.host.onDocumentsApplied((event) => this.applied(event))
    // Synchronously, before any later entry can be applied: every change after this position follows.
    this.sendCurrent(watch, this.host.appliedPosition)
    return null
  }

  /** Unknown ids are ignored: the subscription may have been refused, or already ended. */
  unsubscribe(requestId: number): void {
    const watch = this.byRequest.get(requestId)
    if (watch === undefined) return
    this.byRequest.delete(requestId)
    if (watch.id === null) removeFrom(this.byCollection, watch.collection, watch)
    else removeFrom(this.byDocument, strictKey(watch.collection, watch.id), watch)
    if (this.byRequest.size === 0) this.close()
  }

  close(): void {
    this.unlisten?.()
    this.unlisten = null
  }

  private applied(event: DocumentsApplied): void {
    if (event.kind === 'reset') {
      for (const watch of this.byRequest.values()) this.sendCurrent(watch, event.position)
      return
    }
    for (const { collection, id, document } of event.documents) {
      for (const watch of this.byDocument.get(strictKey(collection, id)) ?? []) this.send(watch, id, document, event.position)
      for (const watch of this.byCollection.get(collection) ?? []) this.send(watch, id, document, event.position)
    }
  }

  /**
   * The applied state at `position` for `watch`. A whole collection walks every strict document of
   * the node (`node.documents()`): O(all strict documents) per subscribe, fine while strict state is
   * small (it is all in memory anyway); an index by collection would make it O(the collection).
   */
  private sendCurrent(watch: Watch, position: LogPosition): void {
    if (watch.id !== null) {
      this.send(watch, watch.id, this.host.node.document(watch.collection, watch.id), position)
      return
    }
    const prefix = strictKey(watch.collection, '')
    for (const [key, document] of this.host.node.documents()) {
      if (key.startsWith(prefix)) this.send(watch, key.slice(prefix.length), document, position)
    }
    // The state at `position` is complete: what the client knew and did not just hear about is gone.
    send(this.connection, { type: MessageType.StrictSynced, requestId: watch.requestId, position })
  }

  private send(watch: Watch, id: string, document: StoredDocument | null, position: LogPosition): void {
    send(this.connection, { type: MessageType.StrictChanged, requestId: watch.requestId, id, document, position })
  }
}

const watchesByConnection = new WeakMap<ServerConnection, ConnectionWatches>()

/**
 * A `StrictSubscribe` or `StrictUnsubscribe` from a client. A subscribe to anything but a strict
 * collection (or with an empty id, or beyond the bound) is answered by a `StrictReadResult` rejected
 * INVALID_REQUEST with the subscribe's `requestId`, like a read of it would be: the connection stays up.
 */
export function routeWatch(strict: StrictHost | null, config: ServerConfig, connection: ServerConnection, message: Message): void {
  if (message.type === MessageType.StrictUnsubscribe) {
    watchesByConnection.get(connection)?.unsubscribe(message.requestId)
    return
  }
  if (message.type !== MessageType.StrictSubscribe) return
  const spec = collectionSpec(config, message.collection)
  let problem: string | null
  if (strict === null || spec?.mode !== 'strict') problem = `${JSON.stringify(message.collection)} is not a strict collection`
  else if (message.id === '') problem = 'a document id may not be empty'
  else {
    let watches = watchesByConnection.get(connection)
    if (watches === undefined) {
      watches = new ConnectionWatches(strict, connection)
      watchesByConnection.set(connection, watches)
    }
    problem = watches.subscribe(message)
  }
  if (problem !== null) {
    send(connection, {
      type: MessageType.StrictReadResult,
      requestId: message.requestId,
      reply: { status: 'rejected', error: { code: 'INVALID_REQUEST', message: problem } },
    })
  }
}

/** The connection closed: its subscriptions end with it. */
export function closeWatches(connection: ServerConnection): void {
  watchesByConnection.get(connection)?.close()
  watchesByConnection.delete(connection)
}

/** A failure to send closes the connection rather than escaping into the node's apply loop. */
function send(connection: ServerConnection, message: Message): void {
  try {
    connection.sendMessage(message)
  } catch {
    connection.reject('HANDLER_ERROR', CloseCode.BAD_FRAME, 'a change notification could not be sent')
  }
}

function addTo(index: Map<string, Set<Watch>>, key: string, watch: Watch): void {
  let set = index.get(key)
  if (set === undefined) {
    set = new Set()
    index.set(key, set)
  }
  set.add(watch)
}

function removeFrom(index: Map<string, Set<Watch>>, key: string, watch: Watch): void {
  const set = index.get(key)
  if (set === undefined) return
  set.delete(watch)
  if (set.size === 0) index.delete(key)
}

import { CloseCode, MessageType, type Message } from '../../core/codec/index.js'
import { entrySizeProblem, writeOpValueProblem, type StrictReadReply, type StrictWriteReply, type WriteOp } from '../../core/strict/index.js'
import { collectionSpec, type ServerConfig } from '../config.js'
import type { ServerConnection } from '../connection.js'
import type { StrictHost } from './strict-host.js'
import { routeWatch } from './strict-watch.js'

const STRICT_TYPES = new Set<number>([
  MessageType.Strict,
  MessageType.StrictWrite,
  MessageType.StrictWriteResult,
  MessageType.StrictRead,
  MessageType.StrictReadResult,
  MessageType.StrictSubscribe,
  MessageType.StrictUnsubscribe,
  MessageType.StrictChanged,
])

export function isStrictMessage(message: Message): boolean {
  return STRICT_TYPES.has(message.type)
}

/** Sends an answer; a failure to send closes the connection instead of escaping as an unhandled rejection. */
function answer(connection: ServerConnection, message: Message): void {
  try {
    connection.sendMessage(message)
  } catch {
    connection.reject('HANDLER_ERROR', CloseCode.BAD_FRAME, 'the answer could not be sent')
  }
}

/** Why an op may not go to the strict log from this server's point of view; null when it may. */
export function strictOpProblem(op: WriteOp, config: ServerConfig): string | null {
  const ops = op.kind === 'batch' ? op.ops : [op]
  for (const single of ops) {
    const spec = collectionSpec(config, single.collection)
    if (spec === undefined) return `no collection ${JSON.stringify(single.collection)}`
    if (spec.mode !== 'strict') return `collection ${JSON.stringify(single.collection)} is a crdt collection, not strict`
  }
  return null
}

/**
 * Routes a strict frame of an established link. Peers exchange replication messages and forward
 * requests to each other (watch frames between peers are ignored: nodes never send them); clients
 * may only send `StrictWrite` and `StrictRead`, answered on the same connection, and `StrictSubscribe`
 * / `StrictUnsubscribe` (strict-watch.ts). Anything else from a client is a protocol violation (FORBIDDEN).
 */
export function routeStrict(
  strict: StrictHost | null,
  config: ServerConfig,
  kind: 'peer' | 'client',
  id: string,
  connection: ServerConnection,
  message: Message,
  onInvalidValue: () => void = () => {},
): void {
  if (kind === 'peer') {
    if (strict === null) return
    if (message.type === MessageType.Strict) strict.receive(message.message)
    else if (message.type === MessageType.StrictWrite || message.type === MessageType.StrictRead) strict.requests.handleForwarded(id, message)
    else strict.requests.handleResult(id, message)
    return
  }
  if (message.type === MessageType.StrictWrite) {
    const problem = strict === null ? 'this cluster has no strict collections' : strictOpProblem(message.request.op, config)
    if (problem !== null || strict === null) {
      const reply: StrictWriteReply = { status: 'rejected', error: { code: 'INVALID_OP', message: problem ?? '' } }
      connection.sendMessage({ type: MessageType.StrictWriteResult, requestId: message.requestId, reply })
      return
    }
    // A client's value is checked where it arrives, like a REST body, before it is forwarded or logged.
    const invalidValue = writeOpValueProblem(message.request.op, config.values)
    if (invalidValue !== null) {
      onInvalidValue()
      answer(connection, { type: MessageType.StrictWriteResult, requestId: message.requestId, reply: { status: 'rejected', error: invalidValue } })
      return
    }
    // So is its size as a log entry [IN3]: forwarded, it would not fit the primary's frame limit either.
    const tooLarge = entrySizeProblem(message.request.op, message.request.requestKey, strict.node.maxEntryBytes)
    if (tooLarge !== null) {
      answer(connection, { type: MessageType.StrictWriteResult, requestId: message.requestId, reply: { status: 'rejected', error: { code: 'INVALID_OP', message: tooLarge } } })
      return
    }
    void strict.write(message.request).then((reply) => answer(connection, { type: MessageType.StrictWriteResult, requestId: message.requestId, reply }))
    return
  }
  if (message.type === MessageType.StrictRead) {
    const spec = collectionSpec(config, message.request.collection)
    if (strict === null || spec?.mode !== 'strict') {
      const reply: StrictReadReply = { status: 'rejected', error: { code: 'INVALID_REQUEST', message: `${JSON.stringify(message.request.collection)} is not a strict collection` } }
      connection.sendMessage({ type: MessageType.StrictReadResult, requestId: message.requestId, reply })
      return
    }
    void strict.read(message.request).then((reply) => answer(connection, { type: MessageType.StrictReadResult, requestId: message.requestId, reply }))
    return
  }
  if (message.type === MessageType.StrictSubscribe || message.type === MessageType.StrictUnsubscribe) {
    routeWatch(strict, config, connection, message)
    return
  }
  connection.reject('FORBIDDEN', CloseCode.FORBIDDEN, 'clients may send only StrictWrite, StrictRead, StrictSubscribe and StrictUnsubscribe of the strict messages')
}

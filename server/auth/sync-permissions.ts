import { MessageType, type Message } from '../../core/codec/index.js'
import type { Authorizer } from './authorizer.js'
import type { Principal } from './principal.js'

/**
 * What a client's frame on `/sync` would do that its principal may not (docs/security.md,
 * "Permissions"), as a sentence; null when it may. Checked before the frame is applied or forwarded:
 * a crdt change to a document it may not write, a watch or presence on a document it may not read.
 * Reads of crdt documents are filtered where the region sends them (the mesh's `readable`); strict
 * writes and reads get a typed FORBIDDEN answer instead (`strictForbidden`).
 */
export function forbiddenBy(message: Message, principal: Principal, authorizer: Authorizer): string | null {
  switch (message.type) {
    case MessageType.ChangeBatch:
      for (const change of message.changes) {
        if (!authorizer.mayWrite(principal, change.collection, change.docId)) return `${principal.id} may not write ${change.collection}/${change.docId}`
      }
      return null
    case MessageType.StrictSubscribe:
      return authorizer.mayRead(principal, message.collection, message.id) ? null : `${principal.id} may not watch ${message.collection}${message.id === null ? '' : `/${message.id}`}`
    case MessageType.Ephemeral:
      return authorizer.mayRead(principal, message.collection, message.docId) ? null : `${principal.id} may not share presence on ${message.collection}/${message.docId}`
    default:
      return null
  }
}

/** Why a strict write or read over `/sync` is forbidden (answered with a typed FORBIDDEN), or null. */
export function strictForbidden(message: Message, principal: Principal, authorizer: Authorizer): string | null {
  if (message.type === MessageType.StrictWrite) {
    const op = message.request.op
    for (const single of op.kind === 'batch' ? op.ops : [op]) {
      if (!authorizer.mayWrite(principal, single.collection, single.id, single.kind)) return `${principal.id} may not ${single.kind} ${single.collection}/${single.id}`
    }
  }
  if (message.type === MessageType.StrictRead && !authorizer.mayRead(principal, message.request.collection, message.request.id)) {
    return `${principal.id} may not read ${message.request.collection}/${message.request.id}`
  }
  return null
}

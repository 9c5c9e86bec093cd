import { MessageType, type Message } from '../../core/codec/index.js'
import type { Authorizer } from './authorizer.js'
import type { Principal } from './principal.js'

/**
 * What a client's frame on `/sync` would do that its principal may not (docs/security.md,
 * "Permissions"), checked before the frame is applied or forwarded; null when it may.
 * - `answer`: a strict write or read it may not make; it gets a typed FORBIDDEN reply, the session goes on.
 * - `close`: a watch or presence on a document it may not read; the session ends FORBIDDEN.
 * Reads of crdt documents are filtered where the region sends them (the mesh's `readable`), and crdt
 * changes are admitted one by one where the region logs them (region/client-admission.ts): a change to
 * a document it may not write is logged void and answered `Rejected`, and the session goes on.
 */
export function syncRefusal(message: Message, principal: Principal, authorizer: Authorizer): { readonly action: 'answer' | 'close'; readonly reason: string } | null {
  const who = principal.id
  switch (message.type) {
    case MessageType.StrictWrite: {
      const op = message.request.op
      for (const single of op.kind === 'batch' ? op.ops : [op]) {
        if (!authorizer.mayWrite(principal, single.collection, single.id, single.kind)) return { action: 'answer', reason: `${who} may not ${single.kind} ${single.collection}/${single.id}` }
      }
      return null
    }
    case MessageType.StrictRead: {
      const { collection, id } = message.request
      return authorizer.mayRead(principal, collection, id) ? null : { action: 'answer', reason: `${who} may not read ${collection}/${id}` }
    }
    case MessageType.StrictSubscribe:
      return authorizer.mayRead(principal, message.collection, message.id) ? null : { action: 'close', reason: `${who} may not watch ${message.collection}${message.id === null ? '' : `/${message.id}`}` }
    case MessageType.Ephemeral:
      return authorizer.mayRead(principal, message.collection, message.docId) ? null : { action: 'close', reason: `${who} may not share presence on ${message.collection}/${message.docId}` }
    default:
      return null
  }
}

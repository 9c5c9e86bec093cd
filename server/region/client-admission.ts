import type { DocumentReplica } from '../../core/crdt/document-type.js'
import type { ChangeRefusal } from '../../core/mesh/refusal.js'
import type { Change } from '../../core/types.js'
import type { Authorizer } from '../auth/authorizer.js'
import type { Principal } from '../auth/principal.js'
import type { ServerConfig } from '../config.js'
import type { ServerMetrics } from '../metrics.js'
import { encodableText } from '../text.js'
import { invalidClientValue } from './client-checks.js'
import { DocumentSizeLimit } from './document-size.js'

/**
 * Whether a region logs a client's crdt change (docs/security.md, "Refused writes"), asked by the mesh
 * once per change in the client's seq order: the principal may write the document, every value is one
 * this region stores, and the document stays within `limits.maxDocumentBytes`. A refused change is
 * logged void and answered `Rejected`; the session goes on.
 */
export function clientAdmission(
  config: ServerConfig,
  authorizer: Authorizer | undefined,
  principalOf: (client: string) => Principal,
  metrics: ServerMetrics,
  sizes: DocumentSizeLimit = new DocumentSizeLimit(config.limits.maxDocumentBytes),
): (client: string, change: Change, document: DocumentReplica | undefined) => ChangeRefusal | null {
  const refuse = (code: ChangeRefusal['code'], message: string): ChangeRefusal => {
    metrics.changesRefused.inc({ code })
    // Quotes the client's ids and values, cut to a length: it must still encode.
    return { code, message: encodableText(message.slice(0, 500)) }
  }
  return (client, change, document) => {
    if (authorizer?.restricts === true) {
      const principal = principalOf(client)
      if (!authorizer.mayWrite(principal, change.collection, change.docId)) return refuse('FORBIDDEN', `${principal.id} may not write ${change.collection}/${change.docId}`)
    }
    const invalid = invalidClientValue(config, change)
    if (invalid !== null) {
      metrics.invalidValues.inc({ surface: 'sync' })
      return refuse('INVALID_VALUE', invalid.message)
    }
    const tooLarge = sizes.refusal(change, document)
    if (tooLarge !== null) {
      metrics.limitRefusals.inc({ limit: 'documentBytes' })
      return refuse('TOO_LARGE', tooLarge)
    }
    return null
  }
}

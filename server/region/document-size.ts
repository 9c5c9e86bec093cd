import type { DocumentReplica } from '../../core/crdt/document-type.js'
import type { Change } from '../../core/types.js'

/**
 * `limits.maxDocumentBytes` for clients' crdt changes (docs/security.md, "Refused writes"): a change is
 * refused when its document's encoded state plus the change's payload would pass the limit.
 *
 * Encoding a document's state on every write would cost more than the write, so each replica's size is
 * an estimate: measured once, then grown by every payload admitted. Payloads over-count (an lww field
 * overwritten, a Yjs update that deletes), so the estimate only errs high, and when it reaches the
 * limit the document is measured again before anything is refused.
 */
export class DocumentSizeLimit {
  private readonly estimates = new WeakMap<DocumentReplica, number>()

  constructor(private readonly maxBytes: number) {}

  /** Why `change` may not grow `document`, or null. */
  refusal(change: Change, document: DocumentReplica | undefined): string | null {
    return this.refusalOf(change.collection, change.docId, change.payload.length, document)
  }

  /** Why a payload of `added` bytes may not grow `document` (`collection/docId`), or null. */
  refusalOf(collection: string, docId: string, added: number, document: DocumentReplica | undefined): string | null {
    if (this.maxBytes <= 0) return null
    let size = document === undefined ? 0 : this.estimates.get(document)
    if (document !== undefined && (size === undefined || size + added > this.maxBytes)) size = document.encodeState().length
    size ??= 0
    if (size + added > this.maxBytes) {
      if (document !== undefined) this.estimates.set(document, size)
      return `${collection}/${docId} would grow to about ${size + added} bytes, over limits.maxDocumentBytes (${this.maxBytes})`
    }
    if (document !== undefined) this.estimates.set(document, size + added)
    return null
  }
}

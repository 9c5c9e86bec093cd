/**
 * A change payload that its document type cannot decode. Payloads come from the network, so this is
 * an input error, not a programmer error: the caller (mesh, server) counts it and closes the link
 * that delivered it (docs/design.md §5) instead of crashing.
 */
export class CrdtPayloadError extends Error {
  readonly code = 'CRDT_BAD_PAYLOAD' as const

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CrdtPayloadError'
  }
}

import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import type { AutomergeReplica } from './automerge.js'
import { canonicalView } from './canonical.js'
import type { DocumentReplica } from './document-type.js'
import { addHash64, hash64, hash64Hex, hash64Low48, subHash64, ZERO_HASH64, type Hash64 } from './hash64.js'
import type { YjsReplica } from './yjs.js'

/**
 * Divergence digest (docs/crdt.md "Divergence digest"): per collection, the sum mod 2^64 of a 64-bit
 * hash of (docId, document state) over its documents. A sum does not depend on the order documents
 * were learnt in, and replacing one document's hash is O(1): subtract the old, add the new.
 *
 * What "document state" is, per type, so that two replicas' bytes are equal when their states are:
 * - lww: the canonical view (keys sorted, lib0 `writeAny`). Not `encodeState`: field tombstones are
 *   collected once stable, at different times in different regions, and the view does not change then.
 * - yjs: the state vector and the delete set (an update against the document's own state vector holds
 *   no structs, only the delete set, sorted and merged by Yjs). The same ids inserted and the same ids
 *   deleted integrate to the same content; the state vector alone misses deletions.
 * - automerge: the sorted heads; a head is the hash of a change and of its dependencies, so equal heads
 *   are equal histories, hence equal documents.
 * An empty document (no lww field, no Yjs struct, no Automerge change) counts as absent: a region may
 * create an empty replica on a read or a room join that another region never saw.
 */
export function documentStateBytes(replica: DocumentReplica): Uint8Array | null {
  const encoder = encoding.createEncoder()
  return writeDocumentState(encoder, replica) ? encoding.toUint8Array(encoder) : null
}

/** Writes what `documentStateBytes` returns into `encoder`; false (nothing written) for an empty document. */
function writeDocumentState(encoder: encoding.Encoder, replica: DocumentReplica): boolean {
  switch (replica.docType) {
    case 'lww': {
      const view = replica.view()
      if (view === null || view === undefined) return false
      encoding.writeAny(encoder, canonicalView(view) as Parameters<typeof encoding.writeAny>[1])
      return true
    }
    case 'yjs': {
      const doc = (replica as YjsReplica).doc
      if (doc.store.clients.size === 0 && doc.store.pendingStructs === null && doc.store.pendingDs === null) return false
      const vector = Y.encodeStateVector(doc)
      encoding.writeVarUint8Array(encoder, vector)
      encoding.writeVarUint8Array(encoder, Y.encodeStateAsUpdate(doc, vector))
      return true
    }
    case 'automerge': {
      const heads = (replica as AutomergeReplica).heads()
      if (heads.length === 0) return false
      for (const head of [...heads].sort()) encoding.writeVarString(encoder, head)
      return true
    }
  }
}

/** The hash one document adds to its collection's digest, or null when it counts as absent. */
export function documentHash(docId: string, replica: DocumentReplica): Hash64 | null {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, docId)
  encoding.writeVarString(encoder, replica.docType)
  if (!writeDocumentState(encoder, replica)) return null
  return hash64(encoding.toUint8Array(encoder))
}

/** One collection's digest as reported (`GET /status`, metrics). */
export interface CollectionDigestReport {
  /** Sixteen hex digits; all zeros for a collection without documents. */
  readonly digest: string
  /** The digest's low 48 bits, exact as a number (the metrics gauge). */
  readonly digestLow48: number
  /** Documents counted (empty ones count as absent). */
  readonly documents: number
}

/** The digest of one collection, kept up to date one document at a time. */
export class CollectionDigest {
  private readonly hashes = new Map<string, Hash64>()
  private sum: Hash64 = ZERO_HASH64

  /** Sets document `docId`'s hash (null: absent), replacing what it added before. O(1). */
  set(docId: string, hash: Hash64 | null): void {
    const old = this.hashes.get(docId)
    if (old !== undefined) this.sum = subHash64(this.sum, old)
    if (hash === null) {
      this.hashes.delete(docId)
    } else {
      this.hashes.set(docId, hash)
      this.sum = addHash64(this.sum, hash)
    }
  }

  get value(): Hash64 {
    return this.sum
  }

  report(): CollectionDigestReport {
    return { digest: hash64Hex(this.sum), digestLow48: hash64Low48(this.sum), documents: this.hashes.size }
  }
}

/** A collection's digest from scratch (tests, and what the incremental one must always equal). */
export function collectionDigestOf(documents: Iterable<readonly [docId: string, replica: DocumentReplica]>): CollectionDigestReport {
  const digest = new CollectionDigest()
  for (const [docId, replica] of documents) digest.set(docId, documentHash(docId, replica))
  return digest.report()
}

/** Where the digests read documents from (a `MeshNode`, in the server). */
export interface DigestDocuments {
  existingReplica(collection: string, docId: string): DocumentReplica | undefined
  /** Every document held, as `[collection, docId]`. */
  documentIds(): Iterable<readonly [collection: string, docId: string]>
}

/**
 * The digests of every collection of a replica. Applying a change only notes its document (`touched`,
 * a Set insert, O(1)); the document is hashed again when a digest is next asked for, once however many
 * changes touched it since. Reading the digests and the vector in the same synchronous turn pairs them:
 * the digest is that of the state the vector names.
 */
export class CollectionDigests {
  private readonly digests = new Map<string, CollectionDigest>()
  private readonly dirty = new Map<string, Set<string>>()
  private rescanNeeded = true

  constructor(private readonly documents: DigestDocuments) {}

  /** Document `docId` of `collection` may have changed. */
  touched(collection: string, docId: string): void {
    if (this.rescanNeeded) return
    let ids = this.dirty.get(collection)
    if (ids === undefined) {
      ids = new Set()
      this.dirty.set(collection, ids)
    }
    ids.add(docId)
  }

  /** Documents changed without `touched` (loaded from storage): hash them all on the next read. */
  rescan(): void {
    this.rescanNeeded = true
    this.dirty.clear()
  }

  /** The digest of every collection holding documents, and of each of `collections` (maybe empty). */
  reports(collections: Iterable<string> = []): Map<string, CollectionDigestReport> {
    this.refresh()
    const out = new Map<string, CollectionDigestReport>()
    for (const name of collections) out.set(name, this.digestOf(name).report())
    for (const [name, digest] of this.digests) if (!out.has(name)) out.set(name, digest.report())
    return out
  }

  private digestOf(collection: string): CollectionDigest {
    let digest = this.digests.get(collection)
    if (digest === undefined) {
      digest = new CollectionDigest()
      this.digests.set(collection, digest)
    }
    return digest
  }

  private refresh(): void {
    if (this.rescanNeeded) {
      this.rescanNeeded = false
      this.dirty.clear()
      this.digests.clear()
      for (const [collection, docId] of this.documents.documentIds()) this.rehash(collection, docId)
      return
    }
    for (const [collection, ids] of this.dirty) for (const docId of ids) this.rehash(collection, docId)
    this.dirty.clear()
  }

  private rehash(collection: string, docId: string): void {
    const replica = this.documents.existingReplica(collection, docId)
    this.digestOf(collection).set(docId, replica === undefined ? null : documentHash(docId, replica))
  }
}

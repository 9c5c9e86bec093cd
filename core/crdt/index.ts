export type { ApplyResult, ConflictRecord, DocumentReplica } from './document-type.js'
export { CrdtPayloadError } from './errors.js'
export {
  conflictIdentity,
  decodeStoredConflict,
  encodeStoredConflict,
  type ConflictResolution,
  type StoredConflict,
} from './conflict-record.js'
export type { Random } from './random.js'
export { canonicalView } from './canonical.js'
export {
  LWW_PAYLOAD_VERSION,
  compareStamp,
  decodeLwwPayload,
  encodeLwwPayload,
  type LwwFieldWrite,
  type LwwPayload,
  type LwwStamp,
} from './lww-payload.js'
export { LwwReplica, lwwDeletePayload, lwwPatchPayload, lwwPutPayload, type LwwReplicaOptions } from './lww.js'
export { YJS_ROOT_MAP, YJS_ROOT_TEXT, YjsReplica, yjsEdit, type YjsReplicaOptions, type YjsView } from './yjs.js'
export {
  ACTOR_INSTANCE_BYTES,
  AutomergeReplica,
  actorIdForOrigin,
  automergeEdit,
  type AutomergeDoc,
  type AutomergeEditOptions,
  type AutomergeReplicaOptions,
} from './automerge.js'
export { createReplica, type CreateReplicaOptions } from './registry.js'
export { addHash64, hash64, hash64Hex, hash64Low48, subHash64, ZERO_HASH64, type Hash64 } from './hash64.js'
export {
  CollectionDigest,
  CollectionDigests,
  collectionDigestOf,
  documentHash,
  documentStateBytes,
  type CollectionDigestReport,
  type DigestDocuments,
} from './collection-digest.js'

import type { DocType } from '../types.js'
import { AutomergeReplica } from './automerge.js'
import type { DocumentReplica } from './document-type.js'
import { LwwReplica } from './lww.js'
import type { Random } from './random.js'
import { YjsReplica } from './yjs.js'

export interface CreateReplicaOptions {
  readonly collection: string
  readonly docId: string
  /** The writer this replica edits as (node id or client id). Automerge derives its actor id from it. */
  readonly localOrigin: string
  /** Injected randomness (Yjs client ids, the instance part of Automerge actor ids). */
  readonly random: Random
  /** Overrides the Automerge actor id derived from `localOrigin` and `random` (even-length hex). */
  readonly automergeActorId?: string
}

/**
 * A replica of one document of the given type.
 *
 * @example
 * ```ts
 * const replica = createReplica('lww', { collection: 'todos', docId: 't1', localOrigin: 'eu-1', random })
 * replica.apply(change)
 * replica.view()
 * ```
 */
export function createReplica(docType: 'lww', options: CreateReplicaOptions): LwwReplica
export function createReplica(docType: 'yjs', options: CreateReplicaOptions): YjsReplica
export function createReplica(docType: 'automerge', options: CreateReplicaOptions): AutomergeReplica
export function createReplica(docType: DocType, options: CreateReplicaOptions): DocumentReplica
export function createReplica(docType: DocType, options: CreateReplicaOptions): DocumentReplica {
  const { collection, docId } = options
  switch (docType) {
    case 'lww':
      return new LwwReplica({ collection, docId })
    case 'yjs':
      return new YjsReplica({ collection, docId, random: options.random })
    case 'automerge':
      return new AutomergeReplica(
        options.automergeActorId === undefined
          ? { collection, docId, localOrigin: options.localOrigin, random: options.random }
          : { collection, docId, localOrigin: options.localOrigin, random: options.random, actorId: options.automergeActorId },
      )
    default:
      throw new Error(`createReplica: unknown document type ${JSON.stringify(docType satisfies never)}`)
  }
}

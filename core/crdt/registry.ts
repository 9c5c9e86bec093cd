import type { DocType } from '../types.js'
import { AutomergeReplica, automergeReplicaFor } from './automerge.js'
import type { CreateReplicaOptions, DocumentReplica } from './document-type.js'
import { LwwReplica, lwwReplicaFor } from './lww.js'
import { YjsReplica, yjsReplicaFor } from './yjs.js'

export type { CreateReplicaOptions } from './document-type.js'


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
  switch (docType) {
    case 'lww':
      return lwwReplicaFor(options)
    case 'yjs':
      return yjsReplicaFor(options)
    case 'automerge':
      return automergeReplicaFor(options)
    default:
      throw new Error(`createReplica: unknown document type ${JSON.stringify(docType satisfies never)}`)
  }
}

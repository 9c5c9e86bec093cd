/**
 * meridian/client/yjs — Yjs documents for a client (docs/client.md, Collections):
 * `createClient({ urls, use: [yjsSupport] })`, then `client.yjs(name)`. `Y` is the Yjs this module
 * uses: a page without a bundler takes it from here, so that its documents and Meridian's are made by
 * one copy of Yjs (two copies break `instanceof` checks inside Yjs).
 *
 * @example
 * ```ts
 * import { createClient } from 'meridian/client'
 * import { yjsSupport } from 'meridian/client/yjs'
 * const client = createClient({ urls, use: [yjsSupport] })
 * const { doc } = client.yjs('notes').open('n1')
 * doc.getText('text').insert(0, 'hello')
 * ```
 */
import { yjsReplicaFor } from '../core/crdt/yjs.js'
import type { ClientModule } from './modules.js'
import { yjsCollection } from './yjs-collection.js'

/** Yjs documents for `createClient({ use: [yjsSupport] })`. */
export const yjsSupport: ClientModule = {
  name: 'yjs',
  replicas: {
    docType: 'yjs',
    create: yjsReplicaFor,
    collection: yjsCollection,
  },
}

export * as Y from 'yjs'
export type { YjsCollection, YjsDocHandle } from './yjs-collection.js'
export type { YjsView } from '../core/crdt/yjs.js'

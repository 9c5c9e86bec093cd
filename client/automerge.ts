/**
 * meridian/client/automerge — Automerge documents for a client (docs/client.md, Collections):
 * `createClient({ urls, use: [automergeSupport] })`, then `client.automerge(name)`.
 *
 * Under Node and bundlers, `@automerge/automerge` loads its WebAssembly itself. The self-contained
 * browser bundle (/bundle/meridian-automerge.js) fetches it from a file of its own instead, so
 * there `await loadAutomergeSupport()` first (client/automerge-browser.ts); here the same call
 * resolves at once, so code written for either works with both.
 *
 * @example
 * ```ts
 * import { createClient } from 'meridian/client'
 * import { automergeSupport } from 'meridian/client/automerge'
 * const client = createClient({ urls, use: [automergeSupport] })
 * client.automerge<{ cards: string[] }>('boards').change('b1', (d) => { d.cards = ['todo'] })
 * ```
 */
import { automergeReplicaFor } from '../core/crdt/automerge.js'
import { automergeCollection } from './automerge-collection.js'
import type { ClientModule } from './modules.js'

/** Automerge documents for `createClient({ use: [automergeSupport] })`. */
export const automergeSupport: ClientModule = {
  name: 'automerge',
  replicas: {
    docType: 'automerge',
    create: automergeReplicaFor,
    collection: automergeCollection,
  },
}

/** `automergeSupport`, once Automerge is ready: at once here (see the browser bundle for the other case). */
export async function loadAutomergeSupport(): Promise<ClientModule> {
  return automergeSupport
}

export type { AutomergeCollection } from './automerge-collection.js'

import type { CreateReplicaOptions, DocumentReplica } from '../core/crdt/document-type.js'
import { lwwReplicaFor } from '../core/crdt/lww.js'
import type { JsonValue } from '../core/strict/types.js'
import type { DocType } from '../core/types.js'
import type { AutomergeCollection } from './automerge-collection.js'
import type { ClientContext } from './context.js'
import { ClientClosedError } from './errors.js'
import { lwwCollection, type LwwCollection } from './lww-collection.js'
import { missingModule, type ClientModule, type ReplicaModule, type StrictSide } from './modules.js'
import { withReadDefaults, type StrictCollection, type StrictReadDefaults } from './strict-collection.js'
import type { YjsCollection } from './yjs-collection.js'

/** Checks `options.use`: modules of this client's kind, each at most once. */
export function checkModules(use: readonly ClientModule[] | undefined): readonly ClientModule[] {
  if (use === undefined) return []
  if (!Array.isArray(use)) throw new TypeError('createClient: options.use must be an array of modules (strictSupport, yjsSupport, automergeSupport)')
  const names = new Set<string>()
  for (const module of use) {
    if (typeof module !== 'object' || module === null || typeof module.name !== 'string') {
      throw new TypeError('createClient: options.use holds something that is not a Meridian client module')
    }
    if (names.has(module.name)) throw new TypeError(`createClient: options.use names the ${module.name} module twice`)
    names.add(module.name)
  }
  return use
}

/** The document types a client knows: lww always, Yjs and Automerge through their modules. */
export class ReplicaTypes {
  private readonly modules = new Map<string, ReplicaModule>()

  constructor(modules: readonly ClientModule[]) {
    for (const module of modules) if (module.replicas) this.modules.set(module.replicas.docType, module.replicas)
  }

  create(docType: DocType, options: CreateReplicaOptions): DocumentReplica {
    if (docType === 'lww') return lwwReplicaFor(options)
    const module = this.modules.get(docType)
    if (module === undefined) throw missingModule(docType === 'yjs' ? 'yjs' : 'automerge', `${options.collection}/${options.docId}, a ${docType} document,`)
    return module.create(options)
  }

  module(docType: 'yjs' | 'automerge', what: string): ReplicaModule {
    const module = this.modules.get(docType)
    if (module === undefined) throw missingModule(docType, what)
    return module
  }
}

type AnyCollection =
  | { readonly docType: 'lww'; readonly collection: LwwCollection<never> }
  | { readonly docType: 'yjs'; readonly collection: YjsCollection }
  | { readonly docType: 'automerge'; readonly collection: AutomergeCollection<never> }
  | { readonly docType: 'strict'; readonly collection: StrictCollection<never> }

/**
 * `client.lww(name)`, `yjs`, `automerge` and `strict`: one collection object per name, of one type,
 * built over the client's context. Shared by the client and by a tab that follows another.
 */
export class ClientCollections {
  private readonly byName = new Map<string, AnyCollection>()

  constructor(
    private readonly context: ClientContext,
    private readonly types: ReplicaTypes,
    private readonly strictSide: (what: string) => Pick<StrictSide, 'collection'>,
    private readonly isClosed: () => boolean,
  ) {}

  lww<T extends Record<string, unknown>>(name: string): LwwCollection<T> {
    const entry = this.of(name, 'lww', () => {
      // An lww collection syncs whole for as long as the client lives.
      this.context.subscribeCollection(name)
      return { docType: 'lww', collection: lwwCollection(this.context, name) }
    })
    return entry.collection as unknown as LwwCollection<T>
  }

  yjs(name: string): YjsCollection {
    const module = this.types.module('yjs', 'client.yjs()')
    return this.of(name, 'yjs', () => ({ docType: 'yjs', collection: module.collection(this.context, name) as YjsCollection })).collection
  }

  automerge<T extends object>(name: string): AutomergeCollection<T> {
    const module = this.types.module('automerge', 'client.automerge()')
    const entry = this.of(name, 'automerge', () => ({
      docType: 'automerge',
      collection: module.collection(this.context, name) as AutomergeCollection<never>,
    }))
    return entry.collection as unknown as AutomergeCollection<T>
  }

  /** With `defaults`: a view of the one collection object whose reads use them (docs/client.md, "Read routing"). */
  strict<T extends JsonValue>(name: string, defaults?: StrictReadDefaults): StrictCollection<T> {
    const side = this.strictSide('client.strict()')
    const entry = this.of(name, 'strict', () => ({ docType: 'strict', collection: side.collection<never>(name) }))
    const collection = entry.collection as unknown as StrictCollection<T>
    return defaults === undefined ? collection : withReadDefaults(collection, defaults)
  }

  private of<E extends AnyCollection>(name: string, docType: E['docType'], create: () => E): E {
    if (this.isClosed()) throw new ClientClosedError()
    if (typeof name !== 'string' || name === '') throw new TypeError('Meridian client: a collection name must be a non-empty string')
    const existing = this.byName.get(name)
    if (existing) {
      if (existing.docType !== docType) {
        throw new TypeError(`Meridian client: collection ${JSON.stringify(name)} is used as ${existing.docType}, not ${docType}`)
      }
      return existing as E
    }
    const entry = create()
    this.byName.set(name, entry)
    return entry
  }
}

import { collectionSpec, type ServerConfig } from '../config.js'
import { allows, OPEN_PERMISSIONS, type CollectionPermissions, type Rule, type WriteOpKind } from './permissions.js'
import type { Principal } from './principal.js'

/**
 * The embedded application's own permissions (`createServer(config, { authorize })`): called for every
 * read and write decision with the principal, the collection and the document (null: the whole
 * collection). It must answer at once (it is asked for every change a client is sent), and replaces the
 * config's rules.
 */
export type Authorize = (principal: Principal, action: 'read' | 'write', collection: string, docId: string | null, op?: WriteOpKind) => boolean

/**
 * Answers "may this principal read / write this document?" (docs/security.md, "Permissions") from the
 * application's callback, else the collections' `permissions` in the config (`true` where none is set).
 * Peers are never asked: they replicate everything.
 */
export class Authorizer {
  private readonly rules = new Map<string, CollectionPermissions>()

  constructor(
    config: ServerConfig,
    private readonly callback: Authorize | null = null,
    private readonly onCallbackError: (err: unknown) => void = () => {},
  ) {
    for (const name of Object.keys(config.collections)) {
      const spec = collectionSpec(config, name)
      if (spec?.permissions !== undefined) this.rules.set(name, spec.permissions)
    }
  }

  /** False when every principal may read and write everything (no rule, no callback): checks can be skipped. */
  get restricts(): boolean {
    return this.callback !== null || this.rules.size > 0
  }

  mayRead(principal: Principal, collection: string, docId: string | null): boolean {
    if (this.callback !== null) return this.ask(principal, 'read', collection, docId)
    return allows((this.rules.get(collection) ?? OPEN_PERMISSIONS).read, principal, docId)
  }

  mayWrite(principal: Principal, collection: string, docId: string | null, op?: WriteOpKind): boolean {
    if (this.callback !== null) return this.ask(principal, 'write', collection, docId, op)
    const write = (this.rules.get(collection) ?? OPEN_PERMISSIONS).write
    if (isRule(write)) return allows(write, principal, docId)
    // Per operation (strict): an op not named is refused, and so is a question about no op in particular.
    const rule = op === undefined ? undefined : write[op]
    return rule !== undefined && allows(rule, principal, docId)
  }

  private ask(principal: Principal, action: 'read' | 'write', collection: string, docId: string | null, op?: WriteOpKind): boolean {
    try {
      return (this.callback as Authorize)(principal, action, collection, docId, op) === true
    } catch (err) {
      // A failing callback denies; it must never take the connection or the region down.
      this.onCallbackError(err)
      return false
    }
  }
}

function isRule(write: CollectionPermissions['write']): write is Rule {
  return typeof write === 'boolean' || !Object.keys(write).every((k) => k === 'put' || k === 'patch' || k === 'delete')
}

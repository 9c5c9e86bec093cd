import { RequestKeyTable } from './request-keys.js'
import type { DocumentOp, JsonValue, LogEntry, LogPosition, PreconditionFailed, StoredDocument, WriteOp } from './types.js'

/** `collection/id`, the key of a document in the strict state. */
export function strictKey(collection: string, id: string): string {
  return `${collection}/${id}`
}

/** Reads a document by key; the primary passes a view that includes its pending entries. */
export type DocumentLookup = (key: string) => StoredDocument | undefined

/**
 * Checks every precondition of `op` against `lookup`, in order, as if earlier ops of a batch had
 * been applied. Returns the first failure, or null when the whole op may be appended.
 */
export function checkPreconditions(op: WriteOp, lookup: DocumentLookup): PreconditionFailed | null {
  const ops = op.kind === 'batch' ? op.ops : [op]
  // Unconditional writes need no lookup (a lookup replays the primary's pending entries).
  if (!ops.some((single) => single.precondition !== undefined)) return null
  const overlay = new Map<string, StoredDocument | undefined>()
  const read = (key: string): StoredDocument | undefined => (overlay.has(key) ? overlay.get(key) : lookup(key))
  for (const [opIndex, single] of ops.entries()) {
    const key = strictKey(single.collection, single.id)
    const current = read(key)
    const actualVersion = current?.version ?? 0
    const expected = single.precondition
    if (expected) {
      const versionOk = expected.expectVersion === undefined || expected.expectVersion === actualVersion
      const existsOk = expected.exists === undefined || expected.exists === (current !== undefined)
      if (!versionOk || !existsOk) return { code: 'PRECONDITION_FAILED', key, opIndex, expected, actualVersion }
    }
    // Later ops of the batch see this one's effect (the version is a placeholder: the LSN is not known yet).
    overlay.set(key, applyDocumentOp(current, single, Number.MAX_SAFE_INTEGER))
  }
  return null
}

/** The document after `op` at `lsn`; undefined when deleted. Pure: the input is never mutated. */
export function applyDocumentOp(current: StoredDocument | undefined, op: DocumentOp, lsn: number): StoredDocument | undefined {
  switch (op.kind) {
    case 'put':
      return { value: op.value, version: lsn }
    case 'patch': {
      const base = current && isObject(current.value) ? current.value : {}
      const next: { [key: string]: JsonValue } = { ...base }
      for (const [field, value] of Object.entries(op.fields)) {
        if (value === null) delete next[field]
        else next[field] = value
      }
      return { value: next, version: lsn }
    }
    case 'delete':
      return undefined
  }
}

function isObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The applied document state of one node, with an order-independent digest kept up to date per write
 * ([ST4]: two nodes at the same LSN must have equal digests). Cost per write is proportional to the
 * write, never to the state [PF3].
 *
 * It also holds the request keys of applied entries (`RequestKeyTable`, at-most-once writes). They
 * are not in the digest: the table is a pure function of the applied log like the documents, but
 * the digest describes what readers see, and keeping it to documents lets a snapshot be checked
 * against a replay of document ops alone.
 */
export class DocumentState {
  private readonly documents = new Map<string, StoredDocument>()
  private readonly keys: RequestKeyTable
  private digestLo = 0
  private digestHi = 0

  constructor(options: { readonly requestKeyRetention?: number } = {}) {
    this.keys = new RequestKeyTable(options.requestKeyRetention)
  }

  get size(): number {
    return this.documents.size
  }

  get(key: string): StoredDocument | undefined {
    return this.documents.get(key)
  }

  entries(): IterableIterator<[string, StoredDocument]> {
    return this.documents.entries()
  }

  /** The position of the applied entry that carried `requestKey`, if it is still remembered. */
  requestKeyPosition(requestKey: string): LogPosition | undefined {
    return this.keys.get(requestKey)
  }

  /** The remembered request keys, oldest first (what a snapshot carries). */
  requestKeys(): IterableIterator<[string, LogPosition]> {
    return this.keys.entries()
  }

  /** Applies one log entry unconditionally: preconditions were the primary's business before appending. */
  apply(entry: LogEntry): void {
    this.keys.apply(entry)
    const op = entry.op
    if (op.kind === 'noop') return
    for (const single of op.kind === 'batch' ? op.ops : [op]) {
      const key = strictKey(single.collection, single.id)
      this.set(key, applyDocumentOp(this.documents.get(key), single, entry.lsn))
    }
  }

  /** Replaces the whole state (snapshot install or restore); no request keys unless given. */
  reset(documents: Iterable<readonly [string, StoredDocument]>, requestKeys: Iterable<readonly [string, LogPosition]> = []): void {
    this.keys.reset(requestKeys)
    this.documents.clear()
    this.digestLo = 0
    this.digestHi = 0
    for (const [key, doc] of documents) this.set(key, doc)
  }

  /** 64-bit order-independent digest (hex) of every document's key, version and value. */
  digest(): string {
    return (this.digestHi >>> 0).toString(16).padStart(8, '0') + (this.digestLo >>> 0).toString(16).padStart(8, '0')
  }

  private set(key: string, doc: StoredDocument | undefined): void {
    const old = this.documents.get(key)
    if (old) this.mix(key, old, -1)
    if (doc) {
      this.documents.set(key, doc)
      this.mix(key, doc, 1)
    } else this.documents.delete(key)
  }

  private mix(key: string, doc: StoredDocument, sign: 1 | -1): void {
    const text = `${key}\u0000${doc.version}\u0000${canonicalJson(doc.value)}`
    this.digestLo = (this.digestLo + sign * fnv1a(text, 0x811c9dc5)) | 0
    this.digestHi = (this.digestHi + sign * fnv1a(text, 0x01000193)) | 0
  }
}

/** JSON with object keys sorted. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] as JsonValue)}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

import {
  checkDocumentSize,
  DEFAULT_VALUE_LIMITS,
  InvalidValueError,
  storableKeySize,
  storableSize,
  utf8Bytes,
  varUintBytes,
  type ValueLimits,
} from '../values/storable-value.js'
import { applyDocumentOp, strictKey, type DocumentLookup } from './state.js'
import type { DocumentOp, InvalidValue, LogEntry, StrictOp, WriteOp } from './types.js'

/**
 * Why a strict write may not be logged because of what it carries (core/values/storable-value.ts),
 * or null. Paths follow the REST body: `$` is a single op's value or fields, `$.ops[1].value.a` is
 * inside the second op of a batch. Checks every value, the collection and id strings, and the
 * values of the whole write against `maxDocumentBytes`. With `lookup` (the primary), a patch is also
 * checked for the size of the document it produces.
 *
 * Never throws, whatever the input (a REST body, a decoded frame, a forwarded request).
 */
export function writeOpValueProblem(op: WriteOp, limits: ValueLimits = DEFAULT_VALUE_LIMITS, lookup?: DocumentLookup): InvalidValue | null {
  try {
    const ops = op.kind === 'batch' ? op.ops : [op]
    let total = 0
    for (const [index, single] of ops.entries()) {
      const at = op.kind === 'batch' ? `$.ops[${index}]` : '$'
      total += documentOpSize(single, at, op.kind === 'batch', limits)
      if (lookup !== undefined && single.kind === 'patch') {
        const next = applyDocumentOp(lookup(strictKey(single.collection, single.id)), single, 0)
        if (next !== undefined) checkDocumentSize(storableSize(next.value, at, limits), at, limits, 'the patched document')
      }
    }
    checkDocumentSize(total, '$', limits, 'the write')
    return null
  } catch (err) {
    const problem = err instanceof InvalidValueError ? err : new InvalidValueError('$', 'json', `the write could not be read: ${err instanceof Error ? err.message : String(err)}`)
    return { code: 'INVALID_VALUE', message: problem.message, path: problem.path, rule: problem.rule, limit: problem.limit }
  }
}

function documentOpSize(op: DocumentOp, at: string, inBatch: boolean, limits: ValueLimits): number {
  // Collection and id travel as wire strings and name the document in every store: same key rules.
  storableKeySize(op.collection, inBatch ? `${at}.collection` : 'collection', limits)
  storableKeySize(op.id, inBatch ? `${at}.id` : 'id', limits)
  switch (op.kind) {
    case 'put': {
      const path = inBatch ? `${at}.value` : at
      const size = storableSize(op.value, path, limits)
      checkDocumentSize(size, path, limits)
      return size
    }
    case 'patch': {
      const path = inBatch ? `${at}.fields` : at
      if (typeof op.fields !== 'object' || op.fields === null || Array.isArray(op.fields)) {
        throw new InvalidValueError(path, 'json', 'patch fields must be an object')
      }
      // The field object counts as the document's own level, as it becomes (part of) it.
      return storableSize(op.fields, path, limits)
    }
    case 'delete':
      return 0
  }
}

/** No bound but depth: sizes entries that were validated when written, whatever the limits then. */
const UNBOUNDED: ValueLimits = { maxDepth: DEFAULT_VALUE_LIMITS.maxDepth, maxKeyBytes: Number.MAX_SAFE_INTEGER, maxStringBytes: Number.MAX_SAFE_INTEGER, maxDocumentBytes: Number.MAX_SAFE_INTEGER }
const entrySizes = new WeakMap<object, number>()

/** The longest request key a write may carry (REST's `idempotency-key`, a client's `requestKey`). */
export const MAX_REQUEST_KEY_LENGTH = 200

/**
 * The encoded bytes of an entry's op and request key, as core/codec/strict-ops.ts writes them (the
 * names and values exactly, each op's tag and precondition at their largest). Appends are cut by it
 * (cached per entry: entries are immutable). Never throws.
 */
export function entryBytes(entry: LogEntry): number {
  const cached = entrySizes.get(entry)
  if (cached !== undefined) return cached
  const bytes = opBytes(entry.op) + requestKeyBytes(entry.requestKey ?? null)
  entrySizes.set(entry, bytes)
  return bytes
}

/**
 * Why a write may not become one log entry because of its size, or null [IN3]. Value limits bound a
 * write's values, not how many ops or how long the names and the request key are; one entry is always
 * sent whole, so an entry larger than a replica's frame limit would be refused by every replica, over
 * and over, and no write would reach a majority again. Never throws.
 */
export function entrySizeProblem(op: WriteOp, requestKey: string | null, maxEntryBytes: number): string | null {
  if (requestKey !== null && requestKey.length > MAX_REQUEST_KEY_LENGTH) {
    return `a request key is at most ${MAX_REQUEST_KEY_LENGTH} characters, got ${requestKey.length}`
  }
  const bytes = opBytes(op) + requestKeyBytes(requestKey)
  if (bytes > maxEntryBytes) return `the write takes ${bytes} bytes as a log entry; an entry is at most ${maxEntryBytes} bytes (every append must fit a frame)`
  return null
}

function opBytes(op: StrictOp): number {
  switch (op.kind) {
    case 'noop':
      return 1
    case 'batch': {
      let bytes = 1 + varUintBytes(op.ops.length)
      for (const single of op.ops) bytes += opBytes(single)
      return bytes
    }
    default: {
      // kind, collection, id, precondition (presence, expectVersion presence and value, exists).
      let bytes = 1 + nameBytes(op.collection) + nameBytes(op.id) + 1 + (op.precondition === undefined ? 0 : 11)
      try {
        if (op.kind === 'put') bytes += storableSize(op.value, '$', UNBOUNDED)
        else if (op.kind === 'patch') bytes += storableSize(op.fields, '$', UNBOUNDED)
      } catch {
        // Unsizable values were refused when written; count them as small rather than fail a send.
      }
      return bytes
    }
  }
}

function requestKeyBytes(key: string | null): number {
  return key === null ? 1 : 1 + nameBytes(key)
}

/** A string as the codec writes it: varUint length, then UTF-8. */
function nameBytes(s: string): number {
  const bytes = utf8Bytes(s)
  return varUintBytes(bytes) + bytes
}


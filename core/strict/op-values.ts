import {
  checkDocumentSize,
  DEFAULT_VALUE_LIMITS,
  InvalidValueError,
  storableKeySize,
  storableSize,
  type ValueLimits,
} from '../values/storable-value.js'
import { applyDocumentOp, strictKey, type DocumentLookup } from './state.js'
import type { DocumentOp, InvalidValue, LogEntry, WriteOp } from './types.js'

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
const entryBytes = new WeakMap<object, number>()

/** The encoded bytes of the values an entry carries (cached per entry: entries are immutable). */
export function entryValueBytes(entry: LogEntry): number {
  const cached = entryBytes.get(entry)
  if (cached !== undefined) return cached
  let bytes = 0
  if (entry.op.kind !== 'noop') {
    for (const single of entry.op.kind === 'batch' ? entry.op.ops : [entry.op]) {
      try {
        bytes += documentOpSize(single, '$', false, UNBOUNDED)
      } catch {
        // Unsizable entries were refused when written; count them as small rather than fail a send.
      }
    }
  }
  entryBytes.set(entry, bytes)
  return bytes
}

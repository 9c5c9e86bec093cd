import { LwwReplica, lwwDeletePayload, lwwPatchPayload, lwwPutPayload } from '../../core/crdt/index.js'
import { checkDocumentSize, InvalidValueError, storableSize, type ValueLimits } from '../../core/values/storable-value.js'
import { patchFields } from '../merge-patch.js'
import { WriteError, type CrdtRestOp } from './types.js'

/**
 * The lww payload of a REST write (docs/server.md, REST): `put` makes the document exactly `body`, `patch`
 * applies a JSON merge patch (null deletes a field), `delete` deletes the document. A value beyond the
 * limits throws `InvalidValueError` (400 INVALID_VALUE with the path and the limit); anything else the
 * payload builders refuse is `BAD_REQUEST`.
 */
export function lwwRestPayload(op: CrdtRestOp, replica: LwwReplica, body: Readonly<Record<string, unknown>> | null, limits: ValueLimits): Uint8Array {
  // A put's fields are checked by lwwPutPayload. A patch body is checked first: the merge patch recurses
  // through it before lwwPatchPayload sees the merged fields, and the depth bound must come before that.
  if (op === 'patch' && body !== null) checkDocumentSize(storableSize(body, '$', limits), '$', limits, 'the patch')
  try {
    if (op === 'put') return lwwPutPayload(replica, body ?? {}, limits)
    if (op === 'patch') return lwwPatchPayload(replica, patchFields((field) => replica.get(field), body ?? {}), limits)
    return lwwDeletePayload(replica)
  } catch (err) {
    if (err instanceof InvalidValueError) throw err
    throw new WriteError('BAD_REQUEST', err instanceof Error ? err.message : String(err))
  }
}

import type { Change } from '../../core/types.js'
import { checkDocumentSize, childPath, InvalidValueError, storableKeySize } from '../../core/values/storable-value.js'
import { assertLwwValue, decodeLwwPayload, type LwwPayload } from '../../core/crdt/lww-payload.js'
import { collectionSpec, type ServerConfig } from '../config.js'

/** Why a client's change is not acceptable here, or null when every change is. */
export function refusedChange(config: ServerConfig, client: string, changes: readonly Change[]): string | null {
  for (const change of changes) {
    // A client speaks for itself alone: the region logs its changes with it as their author.
    if (change.origin !== client || change.author !== undefined) return `a client may send only its own changes, not ${change.origin}:${change.seq}`
    const name = change.collection
    const spec = collectionSpec(config, name)
    if (spec === undefined) return `no collection ${JSON.stringify(name)}`
    if (spec.mode !== 'crdt') return `collection ${JSON.stringify(name)} is strict: crdt changes are not accepted`
    if (spec.type !== change.docType) return `collection ${JSON.stringify(name)} holds ${spec.type} documents, not ${change.docType}`
  }
  return null
}

/**
 * The value of a client's lww change that this region does not store, or null. Checked before the
 * change enters the log, as REST bodies are: a client built on this package never sends one (it
 * checks the same rules, with limits no lower than these), so this catches other writers and regions
 * configured with tighter limits. Unreadable payloads are the mesh's business.
 */
export function invalidClientValue(config: ServerConfig, change: Change): InvalidValueError | null {
  const limits = config.values
  if (change.docType !== 'lww') return null
  let payload: LwwPayload
  try {
    payload = decodeLwwPayload(change.payload)
  } catch {
    return null
  }
  try {
    let size = 0
    for (const write of payload.writes) {
      size += write.deleted ? storableKeySize(write.field, childPath('$', write.field), limits) : assertLwwValue(write.value, write.field, limits)
    }
    checkDocumentSize(size, '$', limits, 'the change')
  } catch (err) {
    if (err instanceof InvalidValueError) return err
    throw err
  }
  return null
}

import { documentKey } from '../core/mesh/mesh-node.js'
import { DOC_TYPES, type Change, type DocumentState } from '../core/types.js'
import { Client } from './client.js'
import { ClientClosedError } from './errors.js'
import type { StrictOps } from './strict-collection.js'
import type { HubObserver, HubPort, HubSnapshot, RelayedWrite } from './tab-messages.js'
import type { WriteMarks } from './write-status.js'

/**
 * The client a leader tab runs for every tab of the app (client/tab-hub.ts): a client with what the hub
 * needs to relay the other tabs' writes and tell them of every change. Kept out of the base client's
 * class so that a page without tabs does not load it.
 */
export class HubClient extends Client implements HubPort {
  observe(observer: HubObserver): void {
    this.hubObserver = observer
  }

  commitRelayed(write: RelayedWrite): number {
    if (this.closed) throw new ClientClosedError()
    if (!isRelayedWrite(write)) throw new TypeError('Meridian tabs: a relayed write is malformed')
    // Throws, before anything is logged, when the document has another type here or its module is missing.
    this.replica(write.collection, write.docId, write.docType)
    // The tab that made the write applied it already with this stamp: the copy logged here must carry
    // the same one, so that every replica (that tab's included) orders it the same way.
    const change = this.mesh.commit(write.collection, write.docId, write.docType, write.payload, write.hlc)
    this.writeStatuses.wrote(documentKey(write.collection, write.docId), change.seq)
    this.scheduleSettle()
    this.scheduleSyncState()
    return change.seq
  }

  ownChange(seq: number): Change | undefined {
    return this.mesh.changeAt(this.clientId, seq)
  }

  snapshot(): HubSnapshot {
    const vector = new Map(this.mesh.vector)
    const marks = this.writeStatuses.marks
    // Own changes count as held only once saved: one not saved yet may be lost with this tab, and its
    // seq then made again by the next leader for another write.
    vector.set(this.clientId, Math.min(vector.get(this.clientId) ?? 0, marks.saved))
    return { clientId: this.clientId, documents: this.mesh.allDocumentStates(), vector, outstanding: this.writeStatuses.outstanding(), marks }
  }

  documentState(collection: string, docId: string): DocumentState | undefined {
    const replica = this.mesh.existingReplica(collection, docId)
    return replica === undefined ? undefined : { collection, docId, docType: replica.docType, state: replica.encodeState() }
  }

  /** Numbers strict writes from `writeId` on: the tab taking over has seen the former leader's. */
  numberStrictWritesFrom(writeId: number): void {
    this.strictSide?.numberWritesFrom(writeId)
  }

  get strictOps(): StrictOps | null {
    return this.strictSide?.ops ?? null
  }

  get writeMarks(): WriteMarks {
    return this.writeStatuses.marks
  }

  get hasUnsavedOwnChanges(): boolean {
    return (this.mesh.vector.get(this.clientId) ?? 0) > this.writeStatuses.marks.saved
  }
}

/** A write another tab sent, checked before it is logged (the channel carries whatever a tab posts). */
function isRelayedWrite(write: RelayedWrite): boolean {
  const hlc = (write as Partial<RelayedWrite> | null)?.hlc
  return (
    typeof write === 'object' &&
    write !== null &&
    typeof write.collection === 'string' &&
    write.collection !== '' &&
    typeof write.docId === 'string' &&
    write.docId !== '' &&
    DOC_TYPES.includes(write.docType) &&
    write.payload instanceof Uint8Array &&
    typeof hlc === 'object' &&
    hlc !== null &&
    Number.isSafeInteger(hlc.wallMs) &&
    Number.isSafeInteger(hlc.counter) &&
    typeof hlc.node === 'string'
  )
}

import type { ConflictRecord } from '../core/crdt/index.js'
import { documentKey } from '../core/mesh/index.js'

/**
 * The conflict records this node observed [PF4]: a ring of at most `perDocument` per document, and at
 * most `total` overall (beyond it, the document whose last conflict is oldest loses its oldest record).
 * Records are observations of this replica (docs/crdt.md), so they live in memory only and are rebuilt
 * by replaying the log at restart.
 */
export class ConflictStore {
  /** Map order = least recently added to first, so global eviction is O(1). */
  private readonly byDocument = new Map<string, ConflictRecord[]>()
  private count = 0

  constructor(
    private readonly perDocument: number,
    private readonly total: number,
  ) {}

  get size(): number {
    return this.count
  }

  add(record: ConflictRecord): void {
    const key = documentKey(record.collection, record.docId)
    const records = this.byDocument.get(key) ?? []
    this.byDocument.delete(key)
    this.byDocument.set(key, records)
    records.push(record)
    this.count += 1
    if (records.length > this.perDocument) {
      records.shift()
      this.count -= 1
    }
    while (this.count > this.total) {
      const oldest = this.byDocument.entries().next()
      if (oldest.done) break
      const [oldestKey, oldestRecords] = oldest.value
      oldestRecords.shift()
      this.count -= 1
      if (oldestRecords.length === 0) this.byDocument.delete(oldestKey)
    }
  }

  /** A document's records, oldest first (a copy). */
  of(collection: string, docId: string): ConflictRecord[] {
    return [...(this.byDocument.get(documentKey(collection, docId)) ?? [])]
  }
}

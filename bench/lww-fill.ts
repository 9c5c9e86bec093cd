import { encodeLwwPayload, type LwwStamp } from '../core/crdt/index.js'
import type { Change } from '../core/types.js'

/**
 * Writes a stream of realistic LWW changes by one origin over `docs` documents (two fields each, with
 * the base the writer had seen), the shape the recovery benches fill storage with.
 */
export class LwwFill {
  private readonly lastByDoc: (LwwStamp | null)[]

  constructor(
    private readonly origin: string,
    private readonly docs: number,
    private readonly wall0: number,
  ) {
    this.lastByDoc = new Array(docs).fill(null)
  }

  /** The i-th change (0-based) of the stream, numbered `seq`. */
  change(i: number, seq: number): Change {
    const hlc = { wallMs: this.wall0 + Math.floor(i / 500), counter: i % 500, node: this.origin }
    const d = i % this.docs
    const base = this.lastByDoc[d] ?? null
    this.lastByDoc[d] = { hlc, origin: this.origin }
    return {
      origin: this.origin,
      seq,
      hlc,
      collection: 'notes',
      docId: `fill-${d}`,
      docType: 'lww',
      payload: encodeLwwPayload({
        kind: 'write',
        writes: [
          { field: 'title', deleted: false, value: `note ${i}`, base },
          { field: 'n', deleted: false, value: i, base },
        ],
      }),
    }
  }
}

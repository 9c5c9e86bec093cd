/**
 * A client's change that a region refuses (docs/security.md, "Refused writes"). The region logs a
 * *void* change in its place — same author, seq, document and stamp, empty payload — so the client's
 * seqs stay dense in every author table and its later writes are acknowledged as usual; a void change
 * applies nothing anywhere (no document is created or touched).
 */
import type { Change, ChangeId, RefusalRecord, VersionVector } from '../types.js'

/** Why a region refused a client's change; `code` is what the client's write handle rejects with. */
export interface ChangeRefusal {
  /** `REFUSED`: told again after the first answer was lost, by a node that no longer knows why. */
  readonly code: 'FORBIDDEN' | 'INVALID_VALUE' | 'TOO_LARGE' | 'REFUSED'
  readonly message: string
}

const EMPTY = new Uint8Array(0)

/** No document type writes an empty payload, so an empty one marks a void change. */
export function isVoid(change: Change): boolean {
  return change.payload.length === 0
}

/** `change` with nothing left to apply: a plain object, so encoding it never reuses the original bytes [PF1]. */
export function voidOf(change: Change): Change {
  const { origin, seq, hlc, collection, docId, docType } = change
  return change.author === undefined
    ? { origin, seq, hlc, collection, docId, docType, payload: EMPTY }
    : { origin, seq, hlc, collection, docId, docType, payload: EMPTY, author: change.author }
}

/** What a client is told for a void entry whose reason this node no longer knows (a restart, another region). */
export const REFUSED_EARLIER: ChangeRefusal = { code: 'REFUSED', message: 'refused by a region; the reason was given in a session that ended' }

/** A refusal its client may not know of yet: which write, which document, why, and where it is logged. */
export interface PendingRefusal {
  /** The client's seq. */
  readonly seq: number
  readonly collection: string
  readonly docId: string
  readonly refusal: ChangeRefusal
  /** The void entry. */
  readonly at: ChangeId
  /** The session (see `MeshNode` peer sessions) in which it was last told; unset while never told. */
  toldIn?: number
}

/**
 * Refusals their clients may not know of yet, by client and seq: every void entry a node logs or
 * learns, with the reason where it refused the change itself. Told where the client's stream reaches
 * the entry, and when the client announces its position (its answer may have been lost with a
 * connection, and a state transfer passes the entry without telling). Forgotten at an announcement
 * in the session it was told in, once the position passed the entry: a session delivers in order, so
 * a client whose stream passed the entry after the answer got it — unless the answer was told at an
 * announcement, crossed the client's next one on the way, and the connection then ended before it
 * arrived (docs/security.md, "Refused writes"). Stored with each snapshot round and sent to member
 * peers with a state transfer (`records`, `merge`), and rebuilt from the log at a restart, so a void
 * entry compacted away is not forgotten (the reason then is `REFUSED_EARLIER`). Bounded: past `max`,
 * the oldest is forgotten.
 */
export class PendingRefusals {
  private readonly byClient = new Map<string, Map<number, PendingRefusal>>()
  private size = 0

  constructor(private readonly max = 10_000) {}

  remember(client: string, pending: PendingRefusal): void {
    let mine = this.byClient.get(client)
    if (mine === undefined) {
      mine = new Map()
      this.byClient.set(client, mine)
    }
    if (!mine.has(pending.seq)) this.size += 1
    mine.set(pending.seq, pending)
    if (this.size > this.max) this.forgetOldest()
  }

  /** The reason of `client`'s refused `seq` (`REFUSED_EARLIER` when unknown); it counts as told in `session`. */
  tell(client: string, seq: number, session: number): ChangeRefusal {
    const pending = this.byClient.get(client)?.get(seq)
    if (pending === undefined) return REFUSED_EARLIER
    pending.toldIn = session
    return pending.refusal
  }

  /**
   * The refusals to tell `client`, which announced `position` in `session`: those it may not know of.
   * Those told in this same session whose entry its position has passed are forgotten; one told in a
   * session that ended may have been lost with it, whatever the position says.
   */
  unknownTo(client: string, position: VersionVector, session: number): PendingRefusal[] {
    const mine = this.byClient.get(client)
    if (mine === undefined) return []
    const unknown: PendingRefusal[] = []
    for (const pending of [...mine.values()]) {
      if (pending.toldIn === session && (position.get(pending.at.origin) ?? 0) >= pending.at.seq) this.drop(client, mine, pending.seq)
      else unknown.push(pending)
    }
    return unknown.sort((a, b) => a.seq - b.seq)
  }

  /** What a snapshot round stores and a state transfer to a member carries (the reasons stay here). */
  records(): RefusalRecord[] {
    const out: RefusalRecord[] = []
    for (const [client, mine] of this.byClient) {
      for (const { seq, collection, docId, at } of mine.values()) out.push({ client, seq, collection, docId, at })
    }
    return out
  }

  /** Refusals stored or learnt from a peer; one known already keeps its reason and whether it was told. */
  merge(records: Iterable<RefusalRecord>): void {
    for (const { client, seq, collection, docId, at } of records) {
      if (this.byClient.get(client)?.has(seq) === true) continue
      this.remember(client, { seq, collection, docId, refusal: REFUSED_EARLIER, at })
    }
  }

  private drop(client: string, mine: Map<number, PendingRefusal>, seq: number): void {
    mine.delete(seq)
    this.size -= 1
    if (mine.size === 0) this.byClient.delete(client)
  }

  private forgetOldest(): void {
    const [client, mine] = this.byClient.entries().next().value as [string, Map<number, PendingRefusal>]
    this.drop(client, mine, mine.keys().next().value as number)
  }
}

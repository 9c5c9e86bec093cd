import type { AuthorRecord, Change, ChangeId, VersionVector } from '../types.js'

interface AuthorEntry {
  accepted: number
  replicated: number
  /** How far `durableUpTo` has found every seq durable here (this node's durable vector only grows). */
  durableHere: number
  /**
   * Author seq → where its first copy learnt here is logged; only seqs above `replicated`. Null when
   * there are none, as for almost every author once settled: an empty Map costs about 180 bytes, half
   * of what a settled author kept, and the table holds up to `maxAuthors` of them.
   */
  copies: Map<number, ChangeId> | null
}

/** Default bound of authors kept with nothing pending (see `AuthorTable`). */
export const DEFAULT_MAX_AUTHORS = 100_000

/**
 * What a region knows of each author — a client whose changes regions log under their own origins
 * (docs/design.md §3, "Authors"): the highest author seq held (a client resends only what is above
 * it), and where each not yet replicated author seq is logged, so the region can tell the client
 * what of its own is durable here and in every member region.
 *
 * Learnt from every authored change a node applies, whichever region logged it, and merged from
 * state transfers, so every region converges on the same table. Bounded: past `maxAuthors`, authors
 * with nothing pending are forgotten oldest first. Forgetting only costs a resend, which the
 * document types absorb: the same author, stamp and payload applied twice changes nothing.
 */
export class AuthorTable {
  private readonly entries = new Map<string, AuthorEntry>()
  /** Authors with copies not yet replicated: what `settle` looks at. */
  private readonly unsettled = new Set<string>()

  constructor(private readonly maxAuthors = DEFAULT_MAX_AUTHORS) {}

  get size(): number {
    return this.entries.size
  }

  /** The highest seq of `author` held here (0 for an author never seen, or forgotten). */
  accepted(author: string): number {
    return this.entries.get(author)?.accepted ?? 0
  }

  /** Every seq of `author` up to this is durable in every member region. */
  replicated(author: string): number {
    return this.entries.get(author)?.replicated ?? 0
  }

  /** An authored change was logged here (accepted from its client, or learnt from a region). */
  learn(change: Change): void {
    const author = change.author
    if (author === undefined) return
    // Not moved in the eviction order on every change (a Map delete and set per write): an author is
    // forgotten oldest-first-seen, and only once nothing of it is pending.
    const entry = this.entries.get(author.origin) ?? this.touch(author.origin)
    if (author.seq > entry.accepted) entry.accepted = author.seq
    if (author.seq > entry.replicated && entry.copies?.has(author.seq) !== true) {
      ;(entry.copies ??= new Map()).set(author.seq, { origin: change.origin, seq: change.seq })
      this.unsettled.add(author.origin)
    }
  }

  /**
   * The highest seq n of `author` such that every seq up to n is replicated, or has a copy that
   * `durable` (this node's durable vector, which only grows) covers. Resumes where the last call
   * stopped, so a region asked after every group commit does not rescan what is pending.
   */
  durableUpTo(author: string, durable: VersionVector): number {
    const entry = this.entries.get(author)
    if (entry === undefined) return 0
    let seq = Math.max(entry.replicated, entry.durableHere)
    for (;;) {
      const copy = entry.copies?.get(seq + 1)
      if (copy === undefined || (durable.get(copy.origin) ?? 0) < copy.seq) {
        entry.durableHere = seq
        return seq
      }
      seq += 1
    }
  }

  /**
   * `replicated` (what every member region holds durably) grew: moves each author's replicated seq
   * over the copies it covers, and forgets those copies. Returns the authors whose seq moved.
   */
  settle(replicated: VersionVector): string[] {
    const moved: string[] = []
    for (const author of this.unsettled) {
      const entry = this.entries.get(author) as AuthorEntry
      const before = entry.replicated
      const copies = entry.copies
      if (copies !== null) {
        for (;;) {
          const copy = copies.get(entry.replicated + 1)
          if (copy === undefined || (replicated.get(copy.origin) ?? 0) < copy.seq) break
          copies.delete(entry.replicated + 1)
          entry.replicated += 1
        }
      }
      if (copies === null || copies.size === 0) {
        entry.copies = null
        this.unsettled.delete(author)
      }
      if (entry.replicated > before) moved.push(author)
    }
    this.evict()
    return moved
  }

  /**
   * The author says every region holds its seqs up to `floor`: a table that forgot them (or never
   * learnt them) counts them as held and replicated. Only the author's own word: it costs no one else.
   */
  raiseFloor(author: string, floor: number): void {
    this.merge([{ author, accepted: floor, replicated: floor, copies: [] }])
  }

  /** Merges records from a state transfer or storage (max of seqs, union of copies). */
  merge(records: Iterable<AuthorRecord>): void {
    for (const record of records) {
      const entry = this.touch(record.author)
      entry.accepted = Math.max(entry.accepted, record.accepted)
      if (record.replicated > entry.replicated) {
        entry.replicated = record.replicated
        if (entry.copies !== null) for (const seq of entry.copies.keys()) if (seq <= entry.replicated) entry.copies.delete(seq)
      }
      for (const copy of record.copies) {
        if (copy.seq > entry.replicated && entry.copies?.has(copy.seq) !== true) (entry.copies ??= new Map()).set(copy.seq, copy.at)
      }
      if (entry.copies !== null && entry.copies.size > 0) this.unsettled.add(record.author)
      else {
        entry.copies = null
        this.unsettled.delete(record.author)
      }
    }
    this.evict()
  }

  /** The whole table, for a state transfer or a snapshot round. */
  records(): AuthorRecord[] {
    const out: AuthorRecord[] = []
    for (const [author, entry] of this.entries) {
      const copies = entry.copies === null ? [] : [...entry.copies].map(([seq, at]) => ({ seq, at }))
      out.push({ author, accepted: entry.accepted, replicated: entry.replicated, copies })
    }
    return out
  }

  /** The entry of `author`, created if new, moved to the young end of the eviction order. */
  private touch(author: string): AuthorEntry {
    let entry = this.entries.get(author)
    if (entry === undefined) entry = { accepted: 0, replicated: 0, durableHere: 0, copies: null }
    else this.entries.delete(author)
    this.entries.set(author, entry)
    return entry
  }

  private evict(): void {
    if (this.entries.size <= this.maxAuthors) return
    for (const [author, entry] of this.entries) {
      if (this.entries.size <= this.maxAuthors) return
      if (entry.copies === null || entry.copies.size === 0) this.entries.delete(author)
    }
  }
}

/**
 * The file storage's sync rounds (the node's commit loop, which calls `flush()` for both modes, is server/storage/commit-loop.ts).
 * Group commit [PF2]. `append` and `save` only hand bytes to the OS (one `write`, no sync).
 * `flush()` waits until the operations called before it have been written, then for a sync round
 * that covers them. A round clears the dirty flags, then fdatasyncs every file written since the
 * previous round and fsyncs every directory whose entries changed, all in parallel; a write epoch
 * counter tells which writes a round covers. So a flush needs no round if the last completed one
 * already covered its writes; joins the round in flight if that round cleared the flags after its
 * writes; otherwise waits for the next round, which starts at once if none is in flight (a lone
 * flush waits for exactly one sync) or as soon as the one in flight ends, and serves every flush
 * that queued meanwhile with one fdatasync per file. No flush resolves before the round that
 * covers its writes has completed.
 */
import { asStorageError, noop, type FileStorageContext } from './file-context.js'
import { fsyncDir } from './fs-util.js'
import { syncSegment } from './log-segments.js'

interface Waiter {
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

interface SyncRound {
  /** The write epoch it covers; null until it has cleared the dirty flags. */
  covers: number | null
  readonly waiters: Waiter[]
}

export class SyncRounds {
  /** Every write up to this epoch is durable: the cover of the last completed round. */
  private syncedEpoch = 0
  /** The round in flight, which flushes whose writes it covers may still join. */
  private currentRound: SyncRound | null = null
  /** Flushes waiting for the next round. */
  private syncWaiters: Waiter[] = []
  private syncing = false
  private syncIdle: Promise<void> = Promise.resolve()

  constructor(
    private readonly ctx: FileStorageContext,
    /** Settles once every operation called so far has finished. */
    private readonly settledTails: () => Promise<unknown>,
    private readonly duringSync: ((round: number) => void | Promise<void>) | undefined,
  ) {}

  /** Settles once the sync rounds running or queued have ended. */
  get idle(): Promise<void> {
    return this.syncIdle
  }

  /**
   * Waits until the operations called so far have been written, then for a sync round covering
   * them: none at all if the last completed round already did; the round in flight if it covers
   * them (it cleared the dirty flags after they were written); otherwise the next round, which
   * starts at once if none is in flight, or when the one in flight ends. Never resolves before the
   * round that covers its writes has completed.
   */
  async flushNow(): Promise<void> {
    const ctx = this.ctx
    ctx.stats.flushCalls++
    await this.settledTails()
    if (ctx.failure) throw ctx.failure
    const needed = ctx.writeEpoch
    if (needed <= this.syncedEpoch) return
    await new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject }
      const current = this.currentRound
      if (current && (current.covers === null || current.covers >= needed)) {
        current.waiters.push(waiter)
        return
      }
      this.syncWaiters.push(waiter)
      if (!this.syncing) {
        this.syncing = true
        this.syncIdle = this.syncLoop()
      }
    })
  }

  /** Runs rounds, one at a time, while flushes wait for the next one. */
  private async syncLoop(): Promise<void> {
    try {
      while (this.syncWaiters.length > 0) {
        const round: SyncRound = { covers: null, waiters: this.syncWaiters }
        this.syncWaiters = []
        this.currentRound = round
        try {
          if (this.ctx.failure) throw this.ctx.failure
          await this.syncRound(round)
        } catch (err) {
          this.currentRound = null
          const error = asStorageError(this.ctx, err, 'sync')
          // fsync errors are not retried: after a failed fsync the page cache may have dropped the
          // data, so a later success would prove nothing. The adapter stays failed.
          this.ctx.failure ??= error
          for (const waiter of round.waiters) waiter.reject(error)
          continue
        }
        this.currentRound = null
        this.syncedEpoch = Math.max(this.syncedEpoch, round.covers ?? 0)
        for (const waiter of round.waiters) waiter.resolve()
      }
    } finally {
      this.syncing = false
    }
  }

  private async syncRound(round: SyncRound): Promise<void> {
    const ctx = this.ctx
    const number = ++ctx.stats.syncRounds
    // Everything below, up to the first await, runs synchronously: the cover is exact, and each
    // fdatasync is issued while its handle is certainly open (handles are detached before closing).
    round.covers = ctx.writeEpoch
    const jobs: Promise<() => void>[] = []
    const blob = ctx.blob
    if (blob && blob.dirty) {
      blob.dirty = false
      const size = blob.writtenSize
      const generation = blob.generation
      ctx.stats.fileSyncs++
      jobs.push(
        blob.handle.datasync().then(() => () => {
          if (blob.generation === generation) blob.syncedSize = Math.max(blob.syncedSize, size)
        }),
      )
    }
    for (const seg of ctx.dirtySegments) {
      if (!seg.dirty || seg.deleted) continue
      seg.dirty = false
      jobs.push(syncSegment(ctx, seg))
    }
    ctx.dirtySegments.clear()
    for (const dir of ctx.dirtyDirs) {
      ctx.stats.dirSyncs++
      jobs.push(fsyncDir(dir).then(() => noop))
    }
    ctx.dirtyDirs.clear()
    if (this.duringSync) jobs.push(Promise.resolve(this.duringSync(number)).then(() => noop))
    const results = await Promise.allSettled(jobs)
    for (const result of results) if (result.status === 'rejected') throw result.reason
    // Only now, with the directory entries durable too, do the files count as synced.
    for (const result of results) if (result.status === 'fulfilled') result.value()
  }
}

import { MemoryStorageAdapter } from '../../core/storage/index.js'

/**
 * A MemoryStorageAdapter that counts flushes, can make them slow, and records how many appended
 * records the last completed flush covered — what an ack may rely on.
 */
export class CountingStorage extends MemoryStorageAdapter {
  flushes = 0
  appendedRecords = 0
  durableRecords = 0
  flushDelayMs: number

  constructor(flushDelayMs = 0) {
    super()
    this.flushDelayMs = flushDelayMs
  }

  override async append(log: string, records: readonly Uint8Array[]): Promise<number> {
    const last = await super.append(log, records)
    this.appendedRecords += records.length
    return last
  }

  override async flush(): Promise<void> {
    const covering = this.appendedRecords
    this.flushes += 1
    if (this.flushDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.flushDelayMs))
    await super.flush()
    this.durableRecords = Math.max(this.durableRecords, covering)
  }
}

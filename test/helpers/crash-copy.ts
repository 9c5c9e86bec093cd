import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FileStorageAdapter } from '../../server/storage/file-adapter.js'

/** Seeded, so a failing run can be replayed from the seed in its message. */
export function rng(seed: number): (boundExclusive: number) => number {
  let x = seed >>> 0 || 1
  return (bound) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % bound
  }
}

/**
 * Simulates a machine crash: the adapter's directory is copied to `target` as the disk could hold it
 * after power loss. For every data file the adapter reports how many bytes a completed sync covers;
 * of the bytes beyond that, a random prefix survives, sometimes with a hole of zeros inside it (pages
 * written back out of order), and a file never synced may be missing altogether. Reopen the copy.
 * What this cannot show is that the fdatasyncs really happen; the SIGKILL tests and the code review
 * carry that.
 */
export function crashCopy(adapter: FileStorageAdapter, target: string, next: (bound: number) => number): string {
  const durability = new Map(adapter.fileDurability().map((d) => [d.path, d]))
  const copy = (from: string, to: string): void => {
    mkdirSync(to, { recursive: true })
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const src = join(from, entry.name)
      const dst = join(to, entry.name)
      if (entry.isDirectory()) {
        copy(src, dst)
        continue
      }
      const content = readFileSync(src)
      const d = durability.get(src)
      if (d === undefined || d.writtenBytes <= d.syncedBytes) {
        writeFileSync(dst, content)
        continue
      }
      if (d.syncedBytes === 0 && next(4) === 0) continue
      const cut = d.syncedBytes + next(d.writtenBytes - d.syncedBytes + 1)
      const kept = Buffer.from(content.subarray(0, cut))
      if (cut > d.syncedBytes && next(3) === 0) {
        const holeStart = d.syncedBytes + next(cut - d.syncedBytes)
        kept.fill(0, holeStart, holeStart + 1 + next(cut - holeStart))
      }
      writeFileSync(dst, kept)
    }
  }
  // The adapter may still have file-system calls in flight on the thread pool (a rename of a
  // `*.tmp`, a segment removal): a file listed a moment ago can be gone when it is read. Such a copy
  // mixes two instants, so it is taken again (a real crash sees one instant).
  for (let attempt = 1; ; attempt++) {
    try {
      copy(adapter.dir, target)
      return target
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT' || attempt >= 20) throw err
      rmSync(target, { recursive: true, force: true })
    }
  }
}

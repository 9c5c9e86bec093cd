/**
 * Recovery on open [SG1]: claims the directory (FORMAT), creates what is missing durably, recovers
 * the blob file (blob-store.ts) and every log (log-recovery.ts), and reports what it found and repaired.
 */
import { mkdir, readdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { StorageError } from '../../core/storage/adapter.js'
import { recoverBlobs } from './blob-store.js'
import type { FileStorageContext } from './file-context.js'
import type { LogState, RecoveryStats } from './file-storage-types.js'
import { claimFormat } from './format-file.js'
import { fsyncDir } from './fs-util.js'
import { BLOB_COMPACT_FILE, BLOB_FILE, FORMAT_CONTENT, FORMAT_FILE, LOGS_DIR } from './layout.js'
import { recoverLog } from './log-recovery.js'
import { emptyRecoveryStats } from './recovery-cut.js'

export async function recoverStorage(ctx: FileStorageContext, logState: (name: string) => LogState): Promise<RecoveryStats> {
  const started = performance.now()
  const stats = emptyRecoveryStats()
  const firstCreated = await mkdir(ctx.dir, { recursive: true })
  await checkFormat(ctx.dir)
  if (firstCreated !== undefined) {
    // The directories just created must survive too: fsync each one's parent, up to the parent
    // of the first one created.
    const stop = dirname(resolve(firstCreated))
    for (let path = resolve(ctx.dir); ; ) {
      const parent = dirname(path)
      await fsyncDir(parent)
      if (parent === stop || parent === path) break
      path = parent
    }
  }
  await mkdir(ctx.logsDir, { recursive: true })
  await recoverBlobs(ctx, stats)
  // Makes the entries of logs/ and blobs.log (created above when new) and a removed
  // blobs.log.compact durable: a blob flushed later is only synced as a file, never its entry.
  await fsyncDir(ctx.dir)
  for (const entry of await readdir(ctx.logsDir, { withFileTypes: true })) {
    if (entry.isDirectory()) await recoverLog(ctx, entry.name, stats, logState)
    else stats.warnings.push(`ignoring ${LOGS_DIR}/${entry.name}: not a log directory`)
  }
  await fsyncDir(ctx.logsDir)
  stats.durationMs = performance.now() - started
  return stats
}

function checkFormat(dir: string): Promise<void> {
  const ours = new Set([`${FORMAT_FILE}.tmp`, BLOB_FILE, BLOB_COMPACT_FILE, LOGS_DIR])
  return claimFormat(dir, {
    content: FORMAT_CONTENT,
    isOurs: (name) => ours.has(name),
    kind: 'a Meridian file storage directory',
    error: (message) => new StorageError('io', message),
  })
}

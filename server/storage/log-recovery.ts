/**
 * Recovery of one log [SG1]: every segment is scanned; the first record whose length runs past the
 * end of its file or whose checksum does not match ends the log: the file is truncated there and
 * later segments are deleted (reported in the recovery stats). The recovered files are fdatasynced,
 * so the recovered state is itself durable.
 */
import { constants } from 'node:fs'
import { open, readdir, readFile, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageError } from '../../core/storage/adapter.js'
import { message, type FileStorageContext } from './file-context.js'
import type { LogState, MutableRecoveryStats } from './file-storage-types.js'
import { fsyncDir, isNotFound, SEGMENT_DSYNC } from './fs-util.js'
import { LOGS_DIR, logDirName, META_FILE, parseSegmentFileName } from './layout.js'
import { lastIndexOf } from './log-segments.js'
import { scanRecords } from './record-format.js'
import { cutFile } from './recovery-cut.js'

/** Recovers the log in `logs/<dirName>` into the state `logState` returns for its name. */
export async function recoverLog(
  ctx: FileStorageContext,
  dirName: string,
  stats: MutableRecoveryStats,
  logState: (name: string) => LogState,
): Promise<void> {
  const dirPath = join(ctx.logsDir, dirName)
  const rel = (file: string): string => `${LOGS_DIR}/${dirName}/${file}`
  let metaText: string
  try {
    metaText = await readFile(join(dirPath, META_FILE), 'utf8')
  } catch (err) {
    if (!isNotFound(err)) throw err
    // meta.json is durable before a log's first segment is created, so this directory holds no records.
    stats.warnings.push(`removed ${LOGS_DIR}/${dirName}: no ${META_FILE} (a log creation was interrupted)`)
    await rm(dirPath, { recursive: true, force: true })
    return
  }
  let meta: { name?: unknown; firstIndex?: unknown }
  try {
    meta = JSON.parse(metaText) as { name?: unknown; firstIndex?: unknown }
  } catch (err) {
    throw new StorageError('io', `${rel(META_FILE)} is not valid JSON: ${message(err)}`, { cause: err })
  }
  const name = meta.name
  const firstIndex = meta.firstIndex
  if (typeof name !== 'string' || name.length === 0 || typeof firstIndex !== 'number' || !Number.isSafeInteger(firstIndex) || firstIndex < 1) {
    throw new StorageError('io', `${rel(META_FILE)} is malformed: ${metaText.slice(0, 200)}`)
  }
  if (logDirName(name) !== dirName) {
    throw new StorageError('io', `${rel(META_FILE)} names log ${JSON.stringify(name)}, which belongs in ${logDirName(name)}`)
  }
  await unlink(join(dirPath, `${META_FILE}.tmp`)).catch((err: unknown) => {
    if (!isNotFound(err)) throw err
  })

  const state = logState(name)
  state.exists = true
  state.first = firstIndex
  const files: { file: string; base: number }[] = []
  for (const file of await readdir(dirPath)) {
    const base = parseSegmentFileName(file)
    if (base !== undefined) files.push({ file, base })
  }
  files.sort((a, b) => a.base - b.base)

  let dirChanged = false
  let expectedBase: number | undefined
  let stopped: string | null = null
  const removeFile = async (file: string): Promise<void> => {
    await unlink(join(dirPath, file))
    dirChanged = true
  }
  for (let i = 0; i < files.length; i++) {
    const { file, base } = files[i] as { file: string; base: number }
    if (stopped !== null) {
      stats.segmentsDropped++
      stats.warnings.push(`${rel(file)}: dropped, it follows ${stopped}`)
      await removeFile(file)
      continue
    }
    const nextBase = files[i + 1]?.base
    if (state.segments.length === 0 && nextBase !== undefined && nextBase <= state.first) {
      // Wholly below the retention point: truncateLog's unlink had not reached the disk.
      await removeFile(file)
      continue
    }
    // The log's first records are gone (their segment was never synced, a later one was): keeping the
    // later records would make a log that starts in the middle, a state it never had. It ends before.
    if (expectedBase === undefined && base > state.first) expectedBase = state.first
    if (expectedBase !== undefined && base !== expectedBase) {
      stopped = `a gap (records ${expectedBase}.. missing)`
      stats.segmentsDropped++
      stats.warnings.push(`${rel(file)}: dropped, it starts at ${base} but the log ends at ${expectedBase - 1}`)
      await removeFile(file)
      continue
    }
    const path = join(dirPath, file)
    const handle = await open(path, constants.O_RDWR | SEGMENT_DSYNC)
    let kept = false
    try {
      const fileBytes = (await handle.stat()).size
      const offsets: number[] = []
      const result = await scanRecords(handle, fileBytes, (offset) => {
        offsets.push(offset)
        return true
      })
      if (result.stop) {
        await cutFile(handle, rel(file), fileBytes, result, stats)
        stopped = `${rel(file)}, which ended early`
      }
      const count = offsets.length
      expectedBase = base + count
      if (count > 0 && base + count - 1 >= state.first) {
        await handle.datasync()
        state.segments.push({
          base,
          path,
          offsets,
          size: result.validBytes,
          writtenSize: result.validBytes,
          syncedSize: result.validBytes,
          handle,
          dirty: false,
          cutGeneration: 0,
          deleted: false,
        })
        kept = true
      }
    } finally {
      if (!kept) await handle.close()
    }
    if (!kept) await removeFile(file)
  }
  if (dirChanged) await fsyncDir(dirPath)
  // Keep only the active segment open; older ones are opened on demand by reads.
  for (const seg of state.segments.slice(0, -1)) {
    const handle = seg.handle
    seg.handle = null
    await handle?.close()
  }
  stats.logs++
  stats.records += lastIndexOf(state) - state.first + 1
}

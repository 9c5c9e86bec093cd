/**
 * The strict log of an earlier Meridian (`<dataDir>/strict`, format "meridian-strict-store 1": a WAL of its
 * own, docs/server.md "Strict storage") imported into the node's one storage engine on the first start of
 * this version, so that an upgrade loses nothing.
 *
 * Old layout: `hard-state.rec`, `snapshot.rec`, `rollback-candidates.rec` (one CRC-framed record of JSON
 * each), `wal/<20-digit first LSN>.log` (CRC-framed JSON log entries, dense) and
 * `rollback/rollback.jsonl`. It is read as the old store's recovery read it: a torn or corrupt record ends
 * the log there (it was never acknowledged), entries the snapshot covers are skipped.
 *
 * Crash safety: the import is written and flushed, then the marker `['strict','imported']` is saved and
 * flushed, then the old directory is renamed to `strict.imported`. A start that finds the old directory
 * without the marker clears what a torn import left and imports again; with the marker, it only renames.
 */
import { existsSync } from 'node:fs'
import { readdir, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeEntryList, encodeEntryRecord, encodeHardState, encodeSnapshotRecord } from '../../core/codec/strict-records.js'
import type { StorageAdapter } from '../../core/storage/index.js'
import type { HardState, LogEntry, StrictSnapshot } from '../../core/strict/index.js'
import { fsyncDir, isNotFound } from '../storage/fs-util.js'
import { parseNumberedFileName } from '../storage/format-file.js'
import { RECORD_HEADER_BYTES, recordChecksumOk } from '../storage/record-format.js'
import { CANDIDATES_KEY, HARD_STATE_KEY, ROLLBACK_LOG, SNAPSHOT_KEY, STRICT_LOG, StrictStorageError } from './strict-storage.js'

const OLD_FORMAT = 'meridian-strict-store 1\n'
const IMPORTED_KEY = ['strict', 'imported'] as const
/** Entries appended per call while importing [PF4]. */
const IMPORT_BATCH = 4096

export interface ImportedStrictStore {
  readonly entries: number
  readonly snapshotLsn: number
  readonly rollbacks: number
  /** Where the old directory went. */
  readonly movedTo: string
}

/**
 * Imports `<dataDir>/strict` into `storage` if it is there (see the file comment). Resolves with what was
 * imported, or null when there was nothing to import. Throws {@link StrictStorageError} for a directory that
 * is not an old strict store or holds a record that does not check out.
 */
export async function importOldStrictStore(dataDir: string, storage: StorageAdapter): Promise<ImportedStrictStore | null> {
  const dir = join(dataDir, 'strict')
  if (!existsSync(dir)) return null
  const format = await readFile(join(dir, 'FORMAT'), 'utf8').catch((err: unknown) => {
    if (isNotFound(err)) return null
    throw err
  })
  if (format !== OLD_FORMAT) {
    throw new StrictStorageError(`${dir} is in the way: it is not a strict store of an earlier Meridian (FORMAT ${JSON.stringify(format)}). Move it away.`)
  }
  const movedTo = `${dir}.imported`
  let imported = { entries: 0, snapshotLsn: 0, rollbacks: 0 }
  if ((await storage.load(IMPORTED_KEY)) === undefined) {
    const old = await readOldStore(dir)
    await clearStrictState(storage)
    imported = await writeImport(storage, old)
    await storage.save(IMPORTED_KEY, Uint8Array.of(1))
    await storage.flush()
  }
  await rename(dir, movedTo)
  await fsyncDir(dataDir)
  return { ...imported, movedTo }
}

interface OldStore {
  readonly hardState: HardState | undefined
  readonly snapshot: StrictSnapshot | undefined
  readonly candidates: readonly LogEntry[] | undefined
  readonly entries: readonly LogEntry[]
  readonly rollbacks: readonly string[]
}

async function readOldStore(dir: string): Promise<OldStore> {
  const hardState = (await readRecordFile(join(dir, 'hard-state.rec'))) as HardState | undefined
  const snapshot = (await readRecordFile(join(dir, 'snapshot.rec'))) as StrictSnapshot | undefined
  const candidates = (await readRecordFile(join(dir, 'rollback-candidates.rec'))) as LogEntry[] | undefined
  if (candidates !== undefined && !(Array.isArray(candidates) && candidates.every(isLogEntry))) {
    throw new StrictStorageError(`${join(dir, 'rollback-candidates.rec')}: not a list of log entries`)
  }
  const entries = await readOldWal(join(dir, 'wal'), snapshot?.lsn ?? 0)
  const rollbacks = await readFile(join(dir, 'rollback', 'rollback.jsonl'), 'utf8').then(
    (text) => text.split('\n').filter((line) => isJsonLine(line)),
    (err: unknown) => {
      if (isNotFound(err)) return []
      throw err
    },
  )
  return { hardState, snapshot, candidates, entries, rollbacks }
}

/** The entries above the snapshot, dense; a torn or corrupt record, or a gap, ends the log there. */
async function readOldWal(walDir: string, snapshotLsn: number): Promise<LogEntry[]> {
  const names = await readdir(walDir).catch((err: unknown) => {
    if (isNotFound(err)) return []
    throw err
  })
  const segments = names
    .map((name) => ({ name, first: parseNumberedFileName(name, 20, '.log') }))
    .filter((s): s is { name: string; first: number } => s.first !== undefined)
    .sort((a, b) => a.first - b.first)
  const entries: LogEntry[] = []
  let last = snapshotLsn
  for (const { name, first } of segments) {
    const bytes = await readFile(join(walDir, name))
    let lsn = first
    for (let pos = 0; pos + RECORD_HEADER_BYTES <= bytes.length; lsn++) {
      const length = bytes.readUInt32LE(pos + 4)
      if (pos + RECORD_HEADER_BYTES + length > bytes.length || !recordChecksumOk(bytes, pos, length)) return entries
      const entry = parseJson(bytes.toString('utf8', pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + length))
      if (!isLogEntry(entry) || entry.lsn !== lsn) return entries
      pos += RECORD_HEADER_BYTES + length
      if (entry.lsn <= last) continue
      if (entry.lsn !== last + 1) return entries
      entries.push(entry)
      last = entry.lsn
    }
  }
  return entries
}

/** Removes what an import torn by a crash left behind (the adapter held no strict state before it). */
async function clearStrictState(storage: StorageAdapter): Promise<void> {
  for (const key of [HARD_STATE_KEY, SNAPSHOT_KEY, CANDIDATES_KEY]) await storage.remove(key)
  // Emptied back to index 1, whatever a torn import pruned or appended.
  for (const log of [STRICT_LOG, ROLLBACK_LOG]) await storage.truncateLogAfter(log, 0)
}

async function writeImport(storage: StorageAdapter, old: OldStore): Promise<{ entries: number; snapshotLsn: number; rollbacks: number }> {
  if (old.hardState !== undefined) await storage.save(HARD_STATE_KEY, encodeHardState(old.hardState))
  if (old.candidates !== undefined) await storage.save(CANDIDATES_KEY, encodeEntryList(old.candidates))
  const snapshotLsn = old.snapshot?.lsn ?? 0
  if (old.snapshot !== undefined) {
    await storage.save(SNAPSHOT_KEY, encodeSnapshotRecord(old.snapshot))
    // Record index = LSN: the log continues right after the snapshot.
    await storage.truncateLog(STRICT_LOG, snapshotLsn + 1)
  }
  for (let i = 0; i < old.entries.length; i += IMPORT_BATCH) {
    await storage.append(STRICT_LOG, old.entries.slice(i, i + IMPORT_BATCH).map(encodeEntryRecord))
  }
  const encoder = new TextEncoder()
  if (old.rollbacks.length > 0) await storage.append(ROLLBACK_LOG, old.rollbacks.map((line) => encoder.encode(line)))
  await storage.flush()
  return { entries: old.entries.length, snapshotLsn, rollbacks: old.rollbacks.length }
}

/** One CRC-framed record of JSON filling the whole file; undefined when there is no file. */
async function readRecordFile(path: string): Promise<unknown> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
  const length = bytes.length >= RECORD_HEADER_BYTES ? bytes.readUInt32LE(4) : -1
  if (RECORD_HEADER_BYTES + length !== bytes.length || !recordChecksumOk(bytes, 0, length)) {
    throw new StrictStorageError(`${path}: not one intact record (the old store replaced these files atomically, so this is corruption)`)
  }
  const value = parseJson(bytes.toString('utf8', RECORD_HEADER_BYTES))
  if (value === undefined) throw new StrictStorageError(`${path}: not JSON`)
  return value
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function isJsonLine(line: string): boolean {
  return line.trim() !== '' && parseJson(line) !== undefined
}

function isLogEntry(value: unknown): value is LogEntry {
  if (typeof value !== 'object' || value === null) return false
  const { epoch, lsn, op } = value as { epoch?: unknown; lsn?: unknown; op?: unknown }
  return Number.isSafeInteger(epoch) && Number.isSafeInteger(lsn) && (lsn as number) >= 1 && typeof op === 'object' && op !== null
}

/**
 * Upgrading a node whose strict log is in the earlier layout (`<dataDir>/strict`, its own WAL): the first
 * start imports it into the one storage engine, losing nothing (docs/server.md, "Strict storage").
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryStorageAdapter } from '../../core/storage/index.js'
import type { LogEntry, StrictSnapshot } from '../../core/strict/index.js'
import { RECORD_HEADER_BYTES, encodeRecords } from '../../server/storage/record-format.js'
import { importOldStrictStore } from '../../server/strict/import-old-strict-store.js'
import { HARD_STATE_KEY, STRICT_LOG, StrictStorageError } from '../../server/strict/strict-storage.js'
import { openStrictStorage } from '../helpers/strict-storage.js'
import { http, startServer } from './in-process.js'

const root = mkdtempSync(join(tmpdir(), 'meridian-old-strict-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let counter = 0

const framed = (values: readonly unknown[]): Buffer => {
  const payloads = values.map((v) => Buffer.from(JSON.stringify(v), 'utf8'))
  return encodeRecords(payloads, payloads.reduce((sum, p) => sum + RECORD_HEADER_BYTES + p.length, 0))
}
const put = (lsn: number, id: string, value: unknown, epoch = 2): LogEntry => ({ epoch, lsn, op: { kind: 'put', collection: 'accounts', id, value: value as never } })
const snapshot: StrictSnapshot = { lsn: 3, epoch: 2, history: [{ epoch: 1, lsn: 1 }, { epoch: 2, lsn: 2 }], documents: [['accounts/a', { value: { balance: 30 }, version: 3 }]] }
const rollback = { at: '2026-12-01T00:00:00.000Z', node: 'solo', epoch: 1, lsn: 2, op: { kind: 'put', collection: 'accounts', id: 'lost', value: 1 } }

/** An old-layout strict directory: hard state, a snapshot at 3, WAL entries 1..5 and a torn record. */
function oldDataDir(): string {
  const dataDir = join(root, `d${++counter}`)
  const dir = join(dataDir, 'strict')
  mkdirSync(join(dir, 'wal'), { recursive: true })
  mkdirSync(join(dir, 'rollback'), { recursive: true })
  writeFileSync(join(dir, 'FORMAT'), 'meridian-strict-store 1\n')
  writeFileSync(join(dir, 'hard-state.rec'), framed([{ epoch: 2, votedFor: 'solo' }]))
  writeFileSync(join(dir, 'snapshot.rec'), framed([snapshot]))
  writeFileSync(join(dir, 'rollback-candidates.rec'), framed([[]]))
  const wal = framed([put(1, 'a', { balance: 10 }, 1), put(2, 'a', { balance: 20 }), put(3, 'a', { balance: 30 }), put(4, 'b', { balance: 40 }), put(5, 'a', { balance: 50 })])
  // A torn last record: a crash mid-append, never acknowledged.
  writeFileSync(join(dir, 'wal', '00000000000000000001.log'), Buffer.concat([wal, framed([put(6, 'c', 1)]).subarray(0, 12)]))
  writeFileSync(join(dir, 'rollback', 'rollback.jsonl'), `${JSON.stringify(rollback)}\n`)
  return dataDir
}

describe('importOldStrictStore', () => {
  it('imports hard state, snapshot, the entries after it (up to a torn record) and rollback records, then moves the old directory', async () => {
    const dataDir = oldDataDir()
    const storage = new MemoryStorageAdapter()
    const result = await importOldStrictStore(dataDir, storage)
    expect(result).toMatchObject({ entries: 2, snapshotLsn: 3, rollbacks: 1, movedTo: join(dataDir, 'strict.imported') })
    expect(existsSync(join(dataDir, 'strict'))).toBe(false)
    const { store } = await openStrictStorage('solo', storage)
    expect(store.restored.hardState).toEqual({ epoch: 2, votedFor: 'solo' })
    expect(store.restored.snapshot).toEqual(snapshot)
    expect(store.restored.entries).toEqual([put(4, 'b', { balance: 40 }), put(5, 'a', { balance: 50 })])
    expect((await store.readRollbacks()).records).toEqual([rollback])
    expect(await importOldStrictStore(dataDir, storage)).toBeNull()
  })

  it('an import torn by a crash (no marker yet) is cleared and done again', async () => {
    const dataDir = oldDataDir()
    const storage = new MemoryStorageAdapter()
    await storage.save(HARD_STATE_KEY, Uint8Array.of(9, 9))
    await storage.truncateLog(STRICT_LOG, 3)
    await storage.append(STRICT_LOG, [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3), Uint8Array.of(4), Uint8Array.of(5)])
    await importOldStrictStore(dataDir, storage)
    const { store } = await openStrictStorage('solo', storage)
    expect(store.restored.hardState).toEqual({ epoch: 2, votedFor: 'solo' })
    expect(store.restored.entries.map((e) => e.lsn)).toEqual([4, 5])
  })

  it('after a finished import only the rename is left to do: nothing is imported twice', async () => {
    const dataDir = oldDataDir()
    const storage = new MemoryStorageAdapter()
    await importOldStrictStore(dataDir, storage)
    rmSync(join(dataDir, 'strict.imported'), { recursive: true })
    const again = oldDataDir()
    const second = await importOldStrictStore(again, storage)
    expect(second).toMatchObject({ entries: 0, rollbacks: 0 })
    expect((await (await openStrictStorage('solo', storage)).store.readRollbacks()).records).toHaveLength(1)
  })

  it('refuses a strict directory that is not an old strict store', async () => {
    const dataDir = join(root, `d${++counter}`)
    mkdirSync(join(dataDir, 'strict'), { recursive: true })
    writeFileSync(join(dataDir, 'strict', 'notes.txt'), 'mine')
    await expect(importOldStrictStore(dataDir, new MemoryStorageAdapter())).rejects.toThrow(StrictStorageError)
    expect(existsSync(join(dataDir, 'strict', 'notes.txt'))).toBe(true)
  })

  it('a corrupt hard-state record stops the start and leaves the old directory where it was', async () => {
    const dataDir = oldDataDir()
    const file = join(dataDir, 'strict', 'hard-state.rec')
    const bytes = framed([{ epoch: 2, votedFor: 'solo' }])
    bytes.writeUInt8((bytes.readUInt8(RECORD_HEADER_BYTES + 2) ^ 0xff) & 0xff, RECORD_HEADER_BYTES + 2)
    writeFileSync(file, bytes)
    await expect(importOldStrictStore(dataDir, new MemoryStorageAdapter())).rejects.toThrow(/hard-state\.rec: not one intact record/)
    expect(existsSync(join(dataDir, 'strict'))).toBe(true)
  })
})

describe('a server started on an old data directory', () => {
  it('serves the strict documents it had, takes new writes, and restarts on the new layout', async () => {
    const dataDir = oldDataDir()
    const config = { nodeId: 'solo', storage: 'file' as const, dataDir, collections: { accounts: { mode: 'strict' as const } } }
    const server = await startServer(config)
    try {
      await waitPrimary(server.httpUrl)
      expect((await http(server.httpUrl, 'GET', '/v1/accounts/a?read=primary')).json.value).toEqual({ balance: 50 })
      expect((await http(server.httpUrl, 'GET', '/v1/accounts/b?read=primary')).json.value).toEqual({ balance: 40 })
      expect((await http(server.httpUrl, 'PUT', '/v1/accounts/c?w=local', { balance: 60 })).status).toBe(200)
    } finally {
      await server.close()
    }
    const again = await startServer(config)
    try {
      await waitPrimary(again.httpUrl)
      expect((await http(again.httpUrl, 'GET', '/v1/accounts/c?read=primary')).json.value).toEqual({ balance: 60 })
      expect((await http(again.httpUrl, 'GET', '/v1/accounts/a?read=primary')).json.value).toEqual({ balance: 50 })
    } finally {
      await again.close()
    }
  })
})

async function waitPrimary(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const status = (await http(url, 'GET', '/status')).json as { role?: string }
    if (status.role === 'primary') return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('no primary')
}

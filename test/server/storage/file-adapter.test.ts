import { spawn } from 'node:child_process'
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import type { StorageAdapter } from '../../../core/storage/adapter.js'
import { runStorageContract } from '../../../core/storage/contract.js'
import {
  FileStorageAdapter,
  openFileStorage,
  type FileStorageOptions,
} from '../../../server/storage/file-adapter.js'
import { logDirName } from '../../../server/storage/layout.js'
import { crashCopy, rng } from '../../helpers/crash-copy.js'
import { blobFor, blobVersionOf, bytesEqual, recordFor } from './crash-records.js'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = join(here, '../../..')
const root = mkdtempSync(join(tmpdir(), 'meridian-file-storage-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let dirCounter = 0
const freshDir = (): string => join(root, `s${++dirCounter}`)

const asFile = (adapter: StorageAdapter): FileStorageAdapter => {
  if (!(adapter instanceof FileStorageAdapter)) throw new Error('expected a FileStorageAdapter')
  return adapter
}

const bytes = (...values: number[]) => Uint8Array.from(values)
const plain = (data: Uint8Array | undefined) => (data === undefined ? undefined : Array.from(data))

function segmentFiles(dir: string, log: string): string[] {
  const logDir = join(dir, 'logs', logDirName(log))
  return readdirSync(logDir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => join(logDir, f))
}

// ---------------------------------------------------------------------------------------------
// The contract, with a crash model that is more than "close without flushing"

function contractCrash(options: FileStorageOptions, seed: number) {
  const next = rng(seed)
  return async (adapter: StorageAdapter): Promise<StorageAdapter> => {
    const file = asFile(adapter)
    const copy = crashCopy(file, freshDir(), next)
    await file.abandon()
    return openFileStorage(copy, options)
  }
}

const defaults: FileStorageOptions = {}
runStorageContract('file', () => openFileStorage(freshDir(), defaults), {
  crash: contractCrash(defaults, 0x5eed1),
  numRuns: 60,
})

// Tiny segments (a roll every few records) and compaction at every chance: the same contract
// exercises segment boundaries, retention across files and blob-file compaction.
const tiny: FileStorageOptions = { segmentBytes: 96, blobCompactionMinBytes: 0 }
runStorageContract('file (96-byte segments, eager blob compaction)', () => openFileStorage(freshDir(), tiny), {
  crash: contractCrash(tiny, 0x5eed2),
  numRuns: 60,
})

// ---------------------------------------------------------------------------------------------

describe('FileStorageAdapter', () => {
  describe('[SG1] killed mid-write (SIGKILL of a real writer process)', () => {
    interface KillOutcome {
      readonly dir: string
      readonly acked: number
      readonly ackedBlob: number
      readonly stderr: string
    }

    function runAndKill(dir: string, killAfterMs: number): Promise<KillOutcome> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'crash-writer.ts'), dir], {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let out = ''
        let stderr = ''
        let timer: NodeJS.Timeout | undefined
        const giveUp = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`writer never acknowledged a write: ${stderr}`))
        }, 8000)
        child.stdout.setEncoding('utf8')
        child.stderr.setEncoding('utf8')
        child.stderr.on('data', (chunk: string) => (stderr += chunk))
        child.stdout.on('data', (chunk: string) => {
          out += chunk
          // Kill only once the writer is acknowledging, so every run checks something.
          if (timer === undefined && out.includes('\nack ')) {
            clearTimeout(giveUp)
            timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
          }
        })
        child.on('exit', (_code, signal) => {
          clearTimeout(giveUp)
          if (signal !== 'SIGKILL') {
            reject(new Error(`writer exited by itself (${String(signal)}): ${stderr}`))
            return
          }
          let acked = 0
          let ackedBlob = 0
          // Only whole lines: a line cut by the kill was never an acknowledgement.
          for (const line of out.split('\n').slice(0, -1)) {
            const match = /^ack (\d+) (\d+)$/.exec(line)
            if (!match) continue
            acked = Math.max(acked, Number(match[1]))
            ackedBlob = Math.max(ackedBlob, Number(match[2]))
          }
          resolve({ dir, acked, ackedBlob, stderr })
        })
      })
    }

    it('[SG1] every acknowledged record and blob survives; the log is an exact prefix of what was written', async () => {
      const seed = 0xc0ffee
      const next = rng(seed)
      const delays = [next(80), 100 + next(200), 250 + next(300), 400 + next(400)]
      const outcomes = await Promise.all(delays.map((delay) => runAndKill(freshDir(), delay)))
      for (const [i, outcome] of outcomes.entries()) {
        const context = `seed ${seed}, kill after ${delays[i]} ms, dir ${outcome.dir}`
        const storage = await openFileStorage(outcome.dir)
        try {
          const { firstIndex, lastIndex } = await storage.logBounds('log')
          expect(firstIndex, context).toBe(1)
          expect(lastIndex, `${context}: acknowledged ${outcome.acked}`).toBeGreaterThanOrEqual(outcome.acked)
          const records = await storage.readLog('log', 1)
          expect(records.length, context).toBe(lastIndex)
          for (let index = 1; index <= lastIndex; index++) {
            if (!bytesEqual(records[index - 1], recordFor(index))) expect.fail(`${context}: record ${index} differs`)
          }
          const blob = await storage.load(['current'])
          if (outcome.ackedBlob > 0 || blob !== undefined) {
            const version = blob === undefined ? undefined : blobVersionOf(blob)
            expect(version, `${context}: blob is a whole version`).toBeDefined()
            expect(version, `${context}: acknowledged blob version`).toBeGreaterThanOrEqual(outcome.ackedBlob)
          }
          // The recovered state is durable and appendable.
          expect(await storage.append('log', [recordFor(lastIndex + 1)])).toBe(lastIndex + 1)
        } finally {
          await storage.close()
        }
        const again = await openFileStorage(outcome.dir)
        expect(again.recoveryStats.bytesTruncated, context).toBe(0)
        expect((await again.logBounds('log')).lastIndex).toBeGreaterThanOrEqual(outcome.acked + 1)
        await again.close()
      }
      // Every writer got far enough for the test to mean something.
      expect(outcomes.every((o) => o.acked > 0)).toBe(true)
    }, 20_000)
  })

  describe('[SG1] torn and corrupt tails', () => {
    const options: FileStorageOptions = { segmentBytes: 8 * 1024 }
    const count = 120

    /** A closed store with `count` records of recordFor(i) in several segments, and its last segment. */
    async function writtenStore(): Promise<{ dir: string; last: string; lastStart: number }> {
      const dir = freshDir()
      const storage = await openFileStorage(dir, options)
      const records = Array.from({ length: count }, (_, i) => recordFor(i + 2))
      for (let i = 0; i < count; i += 10) await storage.append('log', records.slice(i, i + 10))
      await storage.close()
      const files = segmentFiles(dir, 'log')
      expect(files.length).toBeGreaterThan(2)
      const last = files[files.length - 1] as string
      const lastRecord = records[count - 1] as Uint8Array
      return { dir, last, lastStart: statSync(last).size - 8 - lastRecord.length }
    }

    async function expectRecords(dir: string, expected: number): Promise<FileStorageAdapter> {
      const storage = await openFileStorage(dir, options)
      expect(await storage.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: expected })
      const read = await storage.readLog('log', 1)
      for (let i = 0; i < expected; i++) {
        if (!bytesEqual(read[i], recordFor(i + 2))) expect.fail(`record ${i + 1} differs`)
      }
      return storage
    }

    function copyOf(dir: string): string {
      const copy = freshDir()
      cpSync(dir, copy, { recursive: true })
      return copy
    }

    it('[SG1] a last record cut at any byte is dropped, and only that record', async () => {
      const { dir, last, lastStart } = await writtenStore()
      const end = statSync(last).size
      const next = rng(7)
      const cuts = [lastStart, lastStart + 1, lastStart + 4, lastStart + 7, lastStart + 8, end - 1]
      for (let i = 0; i < 6; i++) cuts.push(lastStart + 1 + next(end - lastStart - 1))
      for (const cut of cuts) {
        const copy = copyOf(dir)
        truncateSync(join(copy, relative(dir, last)), cut)
        const storage = await expectRecords(copy, count - 1)
        const stats = storage.recoveryStats
        expect(stats.bytesTruncated, `cut at ${cut}`).toBe(cut - lastStart)
        if (cut > lastStart) expect(stats.truncations).toMatchObject([{ reason: 'torn', offset: lastStart }])
        expect(stats.segmentsDropped).toBe(0)
        expect(stats.records).toBe(count - 1)
        // The cut is durable and the next record goes where the torn one was.
        expect(await storage.append('log', [recordFor(count + 1)])).toBe(count)
        await storage.close()
        await (await expectRecords(copy, count)).close()
      }
    })

    it('[SG1] a flipped byte in the last record is caught by the checksum and the record dropped', async () => {
      const { dir, last, lastStart } = await writtenStore()
      const end = statSync(last).size
      // In the payload, in the checksum, and in the length (which re-frames: torn or checksum).
      for (const at of [lastStart + 8, end - 1, lastStart + 2, lastStart + 4]) {
        const copy = copyOf(dir)
        const file = join(copy, relative(dir, last))
        const content = readFileSync(file)
        content[at] = (content[at] as number) ^ 0x20
        writeFileSync(file, content)
        const storage = await expectRecords(copy, count - 1)
        expect(storage.recoveryStats.bytesTruncated).toBe(end - lastStart)
        if (at !== lastStart + 4) expect(storage.recoveryStats.truncations[0]?.reason).toBe('checksum')
        await storage.close()
      }
    })

    it('[SG1] a corrupt record in the middle ends the log there; later records and segments are dropped and reported', async () => {
      const { dir } = await writtenStore()
      const copy = copyOf(dir)
      const files = segmentFiles(copy, 'log')
      const first = files[0] as string
      // Record k of the first segment: walk the framing to find its offset.
      const content = readFileSync(first)
      let offset = 0
      const k = 3
      for (let i = 0; i < k; i++) offset += 8 + content.readUInt32LE(offset + 4)
      content[offset + 8 + 5] = (content[offset + 8 + 5] as number) ^ 0xff
      writeFileSync(first, content)
      const storage = await expectRecords(copy, k)
      const stats = storage.recoveryStats
      expect(stats.segmentsDropped).toBe(files.length - 1)
      expect(stats.truncations).toMatchObject([{ reason: 'checksum', offset }])
      expect(stats.bytesTruncated).toBe(content.length - offset)
      expect(stats.warnings.join('\n')).toMatch(/checksum/)
      expect(stats.warnings.filter((w) => /dropped, it follows/.test(w))).toHaveLength(files.length - 1)
      expect(segmentFiles(copy, 'log')).toEqual([first])
      expect(await storage.append('log', [recordFor(k + 2)])).toBe(k + 1)
      await storage.close()
    })

    it('[SG1] a lost first segment (never synced while a later one was) leaves the log empty, never starting in the middle', async () => {
      const { dir } = await writtenStore()
      const copy = copyOf(dir)
      const files = segmentFiles(copy, 'log')
      expect(files.length).toBeGreaterThan(1)
      rmSync(files[0] as string)
      const storage = await openFileStorage(copy, options)
      expect(await storage.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 0 })
      expect(storage.recoveryStats.segmentsDropped).toBe(files.length - 1)
      await storage.close()
    })

    it('[SG1] a zero-filled tail (size extended, data never written) is not mistaken for records', async () => {
      const { dir, last } = await writtenStore()
      const copy = copyOf(dir)
      const file = join(copy, relative(dir, last))
      writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(4096)]))
      const storage = await expectRecords(copy, count)
      expect(storage.recoveryStats.truncations).toMatchObject([{ reason: 'checksum', droppedBytes: 4096 }])
      await storage.close()
    })
  })

  describe('[SG1] blob atomicity', () => {
    it('[SG1] a save cut short at any byte leaves the previous value', async () => {
      const dir = freshDir()
      const storage = await openFileStorage(dir)
      await storage.save(['k'], blobFor(1))
      await storage.save(['other'], bytes(1, 2, 3))
      await storage.flush()
      const before = statSync(join(dir, 'blobs.log')).size
      await storage.save(['k'], blobFor(2))
      await storage.close()
      const after = statSync(join(dir, 'blobs.log')).size
      const next = rng(11)
      const cuts = [before, before + 1, before + 8, before + 20, after - 1]
      for (let i = 0; i < 5; i++) cuts.push(before + next(after - before))
      for (const cut of cuts) {
        const copy = freshDir()
        cpSync(dir, copy, { recursive: true })
        truncateSync(join(copy, 'blobs.log'), cut)
        const reopened = await openFileStorage(copy)
        expect(blobVersionOf((await reopened.load(['k'])) as Uint8Array), `cut at ${cut}`).toBe(1)
        expect(plain(await reopened.load(['other']))).toEqual([1, 2, 3])
        expect(reopened.recoveryStats.bytesTruncated).toBe(cut - before)
        await reopened.close()
      }
      const whole = await openFileStorage(dir)
      expect(blobVersionOf((await whole.load(['k'])) as Uint8Array)).toBe(2)
      await whole.close()
    })

    it('[SG1] a compaction interrupted before its rename leaves the old file in charge', async () => {
      const dir = freshDir()
      const storage = await openFileStorage(dir)
      for (let v = 1; v <= 3; v++) await storage.save(['k'], blobFor(v))
      await storage.close()
      writeFileSync(join(dir, 'blobs.log.compact'), readFileSync(join(dir, 'blobs.log')).subarray(0, 1000))
      const reopened = await openFileStorage(dir)
      expect(blobVersionOf((await reopened.load(['k'])) as Uint8Array)).toBe(3)
      expect(existsSync(join(dir, 'blobs.log.compact'))).toBe(false)
      await reopened.close()
    })

    it('[§6] compaction keeps the blob file proportional to the live values', async () => {
      const dir = freshDir()
      const storage = await openFileStorage(dir, { blobCompactionMinBytes: 256 * 1024 })
      for (let v = 1; v <= 40; v++) {
        await storage.save(['k', String(v % 3)], blobFor(v))
        if (v % 10 === 0) await storage.remove(['k', '0'])
      }
      await storage.flush()
      const live = (await storage.loadRange([])).reduce((n, c) => n + c.data.length, 0)
      expect(storage.syncStats.blobCompactions).toBeGreaterThan(0)
      expect(statSync(join(dir, 'blobs.log')).size).toBeLessThanOrEqual(2 * live + 256 * 1024 + 1024)
      const keys = (await storage.loadRange([])).map((c) => [...c.key])
      await storage.close()
      const reopened = await openFileStorage(dir)
      expect((await reopened.loadRange([])).map((c) => [...c.key])).toEqual(keys)
      expect(blobVersionOf((await reopened.load(['k', '1'])) as Uint8Array)).toBe(40)
      await reopened.close()
    })
  })

  describe('[PF2] group commit', () => {
    it('[PF2] concurrent flushes share sync rounds; a lone flush waits for exactly one', async () => {
      const storage = await openFileStorage(freshDir())
      await storage.append('log', [bytes(1)])
      const start = storage.syncStats
      await storage.flush()
      expect(storage.syncStats.syncRounds - start.syncRounds).toBe(1)
      // The segment is open O_DSYNC: its write was durable by itself; the round had no data file to sync.
      expect(start.durableWrites).toBe(1)
      expect(storage.syncStats.fileSyncs - start.fileSyncs).toBe(0)
      expect(storage.fileDurability().filter((file) => file.path.endsWith('.seg')).every((file) => file.syncedBytes === file.writtenBytes)).toBe(true)
      const writers = 50
      const before = storage.syncStats
      await Promise.all(
        Array.from({ length: writers }, async (_, i) => {
          await storage.append('log', [bytes(i)])
          await storage.flush()
        }),
      )
      const after = storage.syncStats
      expect(after.flushCalls - before.flushCalls).toBe(writers)
      // The first flush starts a round; every other one arrives while it runs and shares the next.
      expect(after.syncRounds - before.syncRounds).toBeLessThanOrEqual(2)
      expect(after.fileSyncs - before.fileSyncs).toBeLessThanOrEqual(2)
      await storage.close()
    })

    it('[PF2] a flush whose writes a round in flight did not cover waits for the next; none resolves early', async () => {
      const gates = new Map<number, () => void>()
      const started: number[] = []
      const storage = await openFileStorage(freshDir(), {
        duringSync: (round) =>
          new Promise<void>((release) => {
            started.push(round)
            gates.set(round, release)
          }),
      })
      const settle = () => new Promise((r) => setTimeout(r, 20))
      await storage.append('log', [bytes(1)])
      const done = new Set<string>()
      const track = (name: string, p: Promise<void>) => p.then(() => done.add(name))
      const first = track('first', storage.flush())
      await settle()
      expect(started).toEqual([1])
      expect(done.size).toBe(0)
      // Nothing new written: round 1 covers it, so it joins round 1.
      const joiner = track('joiner', storage.flush())
      // New writes after round 1 captured: these need round 2.
      await storage.append('log', [bytes(2)])
      const late = Array.from({ length: 10 }, (_, i) => track(`late${i}`, storage.flush()))
      await settle()
      expect(done.size).toBe(0)
      gates.get(1)?.()
      await Promise.all([first, joiner])
      await settle()
      expect(started).toEqual([1, 2])
      expect([...done].sort()).toEqual(['first', 'joiner'])
      gates.get(2)?.()
      await Promise.all(late)
      expect(storage.syncStats.syncRounds).toBe(2)
      expect(storage.syncStats.flushCalls).toBe(12)
      // Everything is durable already: a flush now needs no round at all.
      await storage.flush()
      expect(storage.syncStats.syncRounds).toBe(2)
      await storage.close()
    })
  })

  describe('[SG2] segments and retention', () => {
    const options: FileStorageOptions = { segmentBytes: 100 }
    const record = (i: number) => new Uint8Array(30).fill(i)

    it('[SG2] truncateLog deletes whole segments below; firstIndex inside a segment survives reopen', async () => {
      const dir = freshDir()
      const storage = await openFileStorage(dir, options)
      await storage.append('log', Array.from({ length: 50 }, (_, i) => record(i + 1)))
      const filesBefore = segmentFiles(dir, 'log')
      expect(filesBefore.length).toBeGreaterThan(10)
      await storage.truncateLog('log', 31)
      expect(await storage.logBounds('log')).toEqual({ firstIndex: 31, lastIndex: 50 })
      const filesAfter = segmentFiles(dir, 'log')
      expect(filesAfter.length).toBeLessThan(filesBefore.length)
      // 38-byte records, 100-byte segments: 2 records a segment; the segment holding 31 starts at 31.
      expect(filesAfter[0]).toMatch(/0000000000000031\.seg$/)
      await storage.truncateLog('log', 33)
      await storage.close()

      const reopened = await openFileStorage(dir, options)
      expect(await reopened.logBounds('log')).toEqual({ firstIndex: 33, lastIndex: 50 })
      await expect(reopened.readLog('log', 32)).rejects.toMatchObject({ code: 'pruned' })
      expect((await reopened.readLog('log', 33, 34)).map(plain)).toEqual([plain(record(33)), plain(record(34))])
      expect(reopened.recoveryStats.records).toBe(18)
      await reopened.close()
    })

    it('[SG2] segments whose unlink never reached the disk are removed again on recovery', async () => {
      const dir = freshDir()
      const stash = freshDir()
      mkdirSync(stash)
      const storage = await openFileStorage(dir, options)
      await storage.append('log', Array.from({ length: 20 }, (_, i) => record(i + 1)))
      await storage.flush()
      const early = segmentFiles(dir, 'log').slice(0, 3)
      for (const f of early) copyFileSync(f, join(stash, f.split('/').pop() as string))
      await storage.truncateLog('log', 12)
      await storage.close()
      for (const f of early) copyFileSync(join(stash, f.split('/').pop() as string), f)

      const reopened = await openFileStorage(dir, options)
      expect(await reopened.logBounds('log')).toEqual({ firstIndex: 12, lastIndex: 20 })
      for (const f of early) expect(existsSync(f)).toBe(false)
      expect(reopened.recoveryStats.segmentsDropped).toBe(0)
      await reopened.close()
    })

    it('[ST5] truncateLogAfter across segments is durable once it resolves', async () => {
      const dir = freshDir()
      const storage = await openFileStorage(dir, options)
      await storage.append('log', Array.from({ length: 30 }, (_, i) => record(i + 1)))
      await storage.flush()
      await storage.truncateLogAfter('log', 10)
      expect(await storage.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 10 })
      // Reopen a copy taken now, before any flush: the cut must already be on disk.
      const copy = freshDir()
      cpSync(dir, copy, { recursive: true })
      const fromCopy = await openFileStorage(copy, options)
      expect(await fromCopy.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 10 })
      await fromCopy.close()
      expect(await storage.append('log', [record(99)])).toBe(11)
      await storage.close()
      const reopened = await openFileStorage(dir, options)
      expect((await reopened.readLog('log', 10)).map(plain)).toEqual([plain(record(10)), plain(record(99))])
      await reopened.close()
    })

    it('[PF3] readLog of a range only touches that range (other records may be corrupt)', async () => {
      const dir = freshDir()
      const storage = await openFileStorage(dir, { segmentBytes: 1 << 20 })
      await storage.append('log', Array.from({ length: 1000 }, (_, i) => record(i % 250)))
      await storage.close()
      const reopened = await openFileStorage(dir)
      // Corrupt record 1 on disk after recovery indexed it: reads elsewhere must not look at it.
      const [file] = segmentFiles(dir, 'log')
      const content = readFileSync(file as string)
      content[8] = (content[8] as number) ^ 1
      writeFileSync(file as string, content)
      expect((await reopened.readLog('log', 500, 501)).map(plain)).toEqual([plain(record(249)), plain(record(250 % 250))])
      await expect(reopened.readLog('log', 1, 1)).rejects.toMatchObject({ code: 'io' })
      await reopened.close()
    })
  })

  describe('[§6] layout, names and lifecycle', () => {
    it('[§6] log names are escaped into distinct directories, even names that differ in case or are paths', async () => {
      const dir = freshDir()
      const names = ['A', 'a', '../x', 'x/y', '.', '..', 'con', ' ', '🙂', 'a\uD800', 'a\uD801', 'x'.repeat(300), `${'x'.repeat(300)}y`]
      const storage = await openFileStorage(dir)
      for (const [i, name] of names.entries()) await storage.append(name, [bytes(i)])
      await storage.close()
      const dirs = readdirSync(join(dir, 'logs'))
      expect(dirs).toHaveLength(names.length)
      expect(new Set(dirs.map((d) => d.toLowerCase())).size).toBe(names.length)
      expect(dirs.every((d) => d.startsWith('l_') && d.length < 200)).toBe(true)
      expect(readdirSync(dir).sort()).toEqual(['FORMAT', 'blobs.log', 'logs'])
      const reopened = await openFileStorage(dir)
      expect(reopened.recoveryStats.logs).toBe(names.length)
      for (const [i, name] of names.entries()) expect((await reopened.readLog(name, 1)).map(plain)).toEqual([[i]])
      await reopened.close()
    })

    it('[§6] recovery cleans up what an interrupted step left behind', async () => {
      const dir = freshDir()
      const storage = await openFileStorage(dir)
      await storage.append('log', [bytes(1)])
      await storage.close()
      mkdirSync(join(dir, 'logs', 'l_half-created'))
      writeFileSync(join(dir, 'logs', logDirName('log'), 'meta.json.tmp'), '{"na')
      const reopened = await openFileStorage(dir)
      expect(reopened.recoveryStats.warnings.join('\n')).toMatch(/l_half-created/)
      expect(readdirSync(join(dir, 'logs'))).toEqual([logDirName('log')])
      expect(existsSync(join(dir, 'logs', logDirName('log'), 'meta.json.tmp'))).toBe(false)
      expect(reopened.recoveryStats).toMatchObject({ logs: 1, records: 1, blobs: 0, bytesTruncated: 0 })
      expect(reopened.recoveryStats.durationMs).toBeGreaterThanOrEqual(0)
      await reopened.close()
    })

    it('[§6] refuses a foreign directory, a wrong FORMAT and a path that is a file, with io', async () => {
      const foreign = freshDir()
      mkdirSync(foreign)
      writeFileSync(join(foreign, 'notes.txt'), 'mine')
      await expect(openFileStorage(foreign)).rejects.toMatchObject({ name: 'StorageError', code: 'io' })
      expect(readdirSync(foreign)).toEqual(['notes.txt'])

      const wrong = freshDir()
      await (await openFileStorage(wrong)).close()
      writeFileSync(join(wrong, 'FORMAT'), 'something-else 9\n')
      await expect(openFileStorage(wrong)).rejects.toMatchObject({ code: 'io' })

      const file = join(root, `file-${++dirCounter}`)
      writeFileSync(file, 'x')
      await expect(openFileStorage(file)).rejects.toMatchObject({ code: 'io' })
    })

    it('[§10] bad options throw at once with invalid-argument', () => {
      expect(() => openFileStorage(freshDir(), { segmentBytes: 0 })).toThrow(/segmentBytes/)
      expect(() => openFileStorage(freshDir(), { segmentBytes: 1.5 })).toThrow(/segmentBytes/)
      expect(() => openFileStorage(freshDir(), { blobCompactionMinBytes: -1 })).toThrow(/blobCompactionMinBytes/)
    })

    it('[§6] close flushes and releases every file handle', async () => {
      const fdDir = '/proc/self/fd'
      if (!existsSync(fdDir)) return
      const openFds = () => readdirSync(fdDir).length
      const dir = freshDir()
      const before = openFds()
      const storage = await openFileStorage(dir, { segmentBytes: 64 })
      for (let i = 0; i < 20; i++) await storage.append(`log${i % 3}`, [new Uint8Array(40).fill(i)])
      await storage.save(['k'], bytes(1))
      await storage.readLog('log0', 1)
      expect(openFds()).toBeGreaterThan(before)
      await storage.close()
      expect(openFds()).toBe(before)
      await expect(storage.append('log0', [bytes(1)])).rejects.toMatchObject({ code: 'closed' })
      // close flushed: nothing beyond the synced length.
      expect(storage.fileDurability().every((d) => d.syncedBytes === d.writtenBytes)).toBe(true)
    })
  })
})

/**
 * The shared test suite every {@link StorageAdapter} runs (docs/design.md §6, §9), in the spirit of
 * automerge-repo's shared adapter suites: memory here, file and IndexedDB adapters later.
 *
 * Test-support code: it imports vitest and fast-check, so it is not re-exported from
 * `core/storage/index.ts` and only ever loaded by test files.
 *
 * @example
 * ```ts
 * // test/server/storage/file.test.ts
 * runStorageContract('file', () => openFileStorage(freshTempDir()), {
 *   crash: (adapter) => simulateKill(adapter),
 * })
 * ```
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { LogBounds, StorageAdapter, StorageErrorCode, StorageKey } from './adapter.js'

export interface StorageContractOptions {
  /**
   * Simulates a crash of `adapter` (the process dies without flushing) and resolves with an adapter
   * reopened on what survived. The suite never uses `adapter` again, so this function must release
   * whatever it holds. When given, the [SG1] crash-recovery tests run.
   */
  readonly crash?: (adapter: StorageAdapter) => Promise<StorageAdapter>
  /** Runs of each property test; default 100. Lower it for slow media. */
  readonly numRuns?: number
}

type MakeAdapter = () => Promise<StorageAdapter> | StorageAdapter

// ---------------------------------------------------------------------------------------------
// helpers

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

/** A deterministic, position-dependent pattern, so shifted or truncated copies do not compare equal. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Plain arrays compare by value in `toEqual`, with readable diffs, unlike typed arrays of any length. */
function plain(data: Uint8Array | undefined): number[] | undefined {
  return data === undefined ? undefined : Array.from(data)
}

async function expectStorageError(run: () => Promise<unknown>, code: StorageErrorCode): Promise<void> {
  // Accept a synchronous throw as well as a rejection: both are "at once" for a programmer error.
  await expect((async () => run())()).rejects.toMatchObject({ name: 'StorageError', code })
}

/** Runs `body` with a fresh adapter and closes whichever adapter is current at the end. */
async function withAdapter(
  make: MakeAdapter,
  body: (session: { adapter: StorageAdapter }) => Promise<void>,
): Promise<void> {
  const session = { adapter: await make() }
  try {
    await body(session)
  } finally {
    await session.adapter.close()
  }
}

// ---------------------------------------------------------------------------------------------
// the model of the property tests

interface LogModel {
  first: number
  records: Uint8Array[]
}

function cloneLog(log: LogModel): LogModel {
  return { first: log.first, records: [...log.records] }
}

function logsEqual(a: LogModel, b: LogModel): boolean {
  return (
    a.first === b.first &&
    a.records.length === b.records.length &&
    a.records.every((r, i) => bytesEqual(r, b.records[i]))
  )
}

function describeLog(log: LogModel): string {
  return `first=${log.first} records=${JSON.stringify(log.records.map((r) => Array.from(r)))}`
}

/**
 * What the adapter should hold now, and for every key and log the states it passed through since
 * the last durable point. [SG1] allows a crash to leave any one of those states, per key and per
 * log, and nothing else. Log operations move through states one record at a time, so a torn append
 * or a half-done truncation is allowed, but only as something that could have been a whole state.
 */
class Model {
  readonly keys = new Map<string, StorageKey>()
  readonly blobs = new Map<string, Uint8Array>()
  readonly blobCandidates = new Map<string, (Uint8Array | undefined)[]>()
  readonly logs = new Map<string, LogModel>()
  readonly logCandidates = new Map<string, LogModel[]>()

  save(key: StorageKey, data: Uint8Array | undefined): void {
    const id = JSON.stringify(key)
    if (!this.keys.has(id)) {
      this.keys.set(id, [...key])
      this.blobCandidates.set(id, [undefined])
    }
    if (data === undefined) this.blobs.delete(id)
    else this.blobs.set(id, data)
    this.blobCandidates.get(id)?.push(data)
  }

  removeRange(prefix: StorageKey): void {
    for (const [id, key] of this.keys) {
      if (this.blobs.has(id) && prefix.every((part, i) => key[i] === part) && key.length >= prefix.length) {
        this.save(key, undefined)
      }
    }
  }

  log(name: string): LogModel {
    let log = this.logs.get(name)
    if (!log) {
      log = { first: 1, records: [] }
      this.logs.set(name, log)
      this.logCandidates.set(name, [cloneLog(log)])
    }
    return log
  }

  last(name: string): number {
    const log = this.log(name)
    return log.first + log.records.length - 1
  }

  private step(name: string): void {
    this.logCandidates.get(name)?.push(cloneLog(this.log(name)))
  }

  append(name: string, records: readonly Uint8Array[]): void {
    const log = this.log(name)
    for (const record of records) {
      log.records.push(record)
      this.step(name)
    }
  }

  truncateLog(name: string, beforeIndex: number): void {
    const log = this.log(name)
    if (beforeIndex <= log.first) return
    while (log.records.length > 0 && log.first < beforeIndex) {
      log.records.shift()
      log.first += 1
      this.step(name)
    }
    if (log.first !== beforeIndex) {
      log.first = beforeIndex
      this.step(name)
    }
  }

  truncateLogAfter(name: string, index: number): void {
    const log = this.log(name)
    while (log.records.length > 0 && log.first + log.records.length - 1 > index) {
      log.records.pop()
      this.step(name)
    }
    if (log.records.length === 0 && log.first - 1 > index) {
      log.first = index + 1
      this.step(name)
    }
  }

  /** Everything now is durable: a crash may only leave the current state. */
  markDurable(): void {
    for (const [id, candidates] of this.blobCandidates) candidates.splice(0, candidates.length, this.blobs.get(id))
    for (const [name, candidates] of this.logCandidates) {
      candidates.splice(0, candidates.length, cloneLog(this.log(name)))
    }
  }
}

async function observeLog(adapter: StorageAdapter, name: string): Promise<LogModel> {
  const bounds: LogBounds = await adapter.logBounds(name)
  const records = await adapter.readLog(name, bounds.firstIndex)
  expect(records.length, `log '${name}' bounds ${JSON.stringify(bounds)}`).toBe(
    bounds.lastIndex - bounds.firstIndex + 1,
  )
  return { first: bounds.firstIndex, records }
}

/** Read-your-writes: the adapter holds exactly the model's current state. */
async function expectMatchesModel(adapter: StorageAdapter, model: Model): Promise<void> {
  for (const name of model.logs.keys()) {
    const seen = await observeLog(adapter, name)
    const want = model.log(name)
    expect(seen.first, `log '${name}' firstIndex`).toBe(want.first)
    expect(seen.records.map(plain), `log '${name}' records`).toEqual(want.records.map(plain))
  }
  for (const [id, key] of model.keys) {
    expect(plain(await adapter.load(key)), `blob ${id}`).toEqual(plain(model.blobs.get(id)))
  }
  const all = await adapter.loadRange([])
  expect(all.map((c) => JSON.stringify(c.key)).sort()).toEqual([...model.blobs.keys()].sort())
}

/** [SG1]: after a crash every key and log is in one of the states it passed through since the last flush. */
async function expectRecoveredWithinModel(adapter: StorageAdapter, model: Model): Promise<void> {
  for (const [name, candidates] of model.logCandidates) {
    const seen = await observeLog(adapter, name)
    if (!candidates.some((c) => logsEqual(c, seen))) {
      expect.fail(
        `[SG1] log '${name}' recovered as ${describeLog(seen)}, which it never was since the last flush; ` +
          `allowed: ${candidates.map(describeLog).join(' | ')}`,
      )
    }
    model.logs.set(name, cloneLog(seen))
  }
  for (const [id, key] of model.keys) {
    const seen = await adapter.load(key)
    const candidates = model.blobCandidates.get(id) ?? []
    if (!candidates.some((c) => bytesEqual(c, seen))) {
      expect.fail(
        `[SG1] blob ${id} recovered as ${JSON.stringify(plain(seen))}; allowed: ` +
          candidates.map((c) => JSON.stringify(plain(c))).join(' | '),
      )
    }
    if (seen === undefined) model.blobs.delete(id)
    else model.blobs.set(id, seen)
  }
  const all = await adapter.loadRange([])
  expect(all.map((c) => JSON.stringify(c.key)).sort(), '[SG1] loadRange after recovery').toEqual(
    [...model.blobs.keys()].sort(),
  )
  // Recovery itself is durable (see StorageAdapter): what we just saw is the new baseline.
  model.markDurable()
}

type Op =
  | { readonly kind: 'save'; readonly key: string[]; readonly data: Uint8Array }
  | { readonly kind: 'remove'; readonly key: string[] }
  | { readonly kind: 'removeRange'; readonly prefix: string[] }
  | { readonly kind: 'append'; readonly log: string; readonly records: Uint8Array[] }
  | { readonly kind: 'truncateLog'; readonly log: string; readonly ahead: number }
  | { readonly kind: 'truncateLogAfter'; readonly log: string; readonly back: number }
  | { readonly kind: 'flush' }
  | { readonly kind: 'crash' }
  | { readonly kind: 'check' }

function opsArbitrary(withCrash: boolean): fc.Arbitrary<Op[]> {
  const part = fc.constantFrom('a', 'b', 'bc', '')
  const key = fc.array(part, { minLength: 1, maxLength: 3 })
  const data = fc.uint8Array({ maxLength: 12 })
  const log = fc.constantFrom('x', 'y')
  const weighted: fc.WeightedArbitrary<Op>[] = [
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('save' as const), key, data }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), key }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('removeRange' as const),
        prefix: fc.array(part, { maxLength: 2 }),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('append' as const),
        log,
        records: fc.array(data, { maxLength: 4 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('truncateLog' as const), log, ahead: fc.integer({ min: -1, max: 8 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('truncateLogAfter' as const),
        log,
        back: fc.integer({ min: -1, max: 6 }),
      }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'check' as const }) },
  ]
  if (withCrash) weighted.push({ weight: 2, arbitrary: fc.constant({ kind: 'crash' as const }) })
  return fc.array(fc.oneof(...weighted), { maxLength: 40 })
}

async function runOps(
  make: MakeAdapter,
  ops: readonly Op[],
  crash: ((adapter: StorageAdapter) => Promise<StorageAdapter>) | undefined,
): Promise<void> {
  const model = new Model()
  await withAdapter(make, async (session) => {
    for (const op of ops) {
      const adapter = session.adapter
      switch (op.kind) {
        case 'save':
          await adapter.save(op.key, op.data)
          model.save(op.key, op.data)
          break
        case 'remove':
          await adapter.remove(op.key)
          if (model.blobs.has(JSON.stringify(op.key))) model.save(op.key, undefined)
          break
        case 'removeRange':
          await adapter.removeRange(op.prefix)
          model.removeRange(op.prefix)
          break
        case 'append': {
          const last = await adapter.append(op.log, op.records)
          model.append(op.log, op.records)
          expect(last, 'append resolves with the last index').toBe(model.last(op.log))
          break
        }
        case 'truncateLog': {
          const beforeIndex = Math.max(1, model.log(op.log).first + op.ahead)
          await adapter.truncateLog(op.log, beforeIndex)
          model.truncateLog(op.log, beforeIndex)
          break
        }
        case 'truncateLogAfter': {
          const index = Math.max(0, model.last(op.log) - op.back)
          await adapter.truncateLogAfter(op.log, index)
          model.truncateLogAfter(op.log, index)
          break
        }
        case 'flush':
          await adapter.flush()
          model.markDurable()
          break
        case 'check':
          await expectMatchesModel(adapter, model)
          break
        case 'crash':
          if (!crash) throw new Error('crash op generated without a crash function')
          session.adapter = await crash(adapter)
          await expectRecoveredWithinModel(session.adapter, model)
          break
      }
    }
    await expectMatchesModel(session.adapter, model)
  })
}

// ---------------------------------------------------------------------------------------------
// the suite

/**
 * Registers the storage contract tests for one adapter implementation.
 *
 * @param name shown in the test names
 * @param makeAdapter returns a fresh, empty adapter on every call
 * @param options `crash` enables the crash-recovery tests [SG1]
 *
 * @example
 * ```ts
 * runStorageContract('memory', () => new MemoryStorageAdapter(), {
 *   crash: async (adapter) => (adapter as MemoryStorageAdapter).crash(),
 * })
 * ```
 */
export function runStorageContract(
  name: string,
  makeAdapter: MakeAdapter,
  options: StorageContractOptions = {},
): void {
  const make: MakeAdapter = makeAdapter
  const numRuns = options.numRuns ?? 100
  const run = (body: (session: { adapter: StorageAdapter }) => Promise<void>) => () => withAdapter(make, body)

  describe(`StorageAdapter contract: ${name}`, () => {
    describe('blobs', () => {
      it(
        '[§6] save then load round-trips the bytes',
        run(async ({ adapter }) => {
          await adapter.save(['doc', '1'], bytes(1, 2, 3))
          expect(plain(await adapter.load(['doc', '1']))).toEqual([1, 2, 3])
        }),
      )

      it(
        '[§6] a missing key loads as undefined',
        run(async ({ adapter }) => {
          expect(await adapter.load(['nothing'])).toBeUndefined()
          await adapter.save(['doc', '1'], bytes(1))
          expect(await adapter.load(['doc'])).toBeUndefined()
          expect(await adapter.load(['doc', '1', 'x'])).toBeUndefined()
        }),
      )

      it(
        '[§6] an empty blob is stored, not missing',
        run(async ({ adapter }) => {
          await adapter.save(['empty'], new Uint8Array(0))
          const loaded = await adapter.load(['empty'])
          expect(loaded).toBeInstanceOf(Uint8Array)
          expect(loaded?.length).toBe(0)
          expect((await adapter.loadRange(['empty'])).length).toBe(1)
        }),
      )

      it(
        '[§6] save overwrites the previous value',
        run(async ({ adapter }) => {
          await adapter.save(['k'], pattern(100, 1))
          await adapter.save(['k'], bytes(9))
          expect(plain(await adapter.load(['k']))).toEqual([9])
          expect((await adapter.loadRange(['k'])).length).toBe(1)
        }),
      )

      it(
        '[§6] remove deletes exactly that key; removing a missing key is a no-op',
        run(async ({ adapter }) => {
          await adapter.save(['a'], bytes(1))
          await adapter.save(['a', 'b'], bytes(2))
          await adapter.remove(['a'])
          expect(await adapter.load(['a'])).toBeUndefined()
          expect(plain(await adapter.load(['a', 'b']))).toEqual([2])
          await adapter.remove(['a'])
          await adapter.remove(['never', 'there'])
          expect(plain(await adapter.load(['a', 'b']))).toEqual([2])
        }),
      )

      it(
        '[§6] loadRange matches whole components: [a,b] never matches [a,bc]',
        run(async ({ adapter }) => {
          await adapter.save(['a', 'b'], bytes(1))
          await adapter.save(['a', 'b', 'c'], bytes(2))
          await adapter.save(['a', 'bc'], bytes(3))
          await adapter.save(['ab'], bytes(4))
          await adapter.save(['b'], bytes(5))
          const range = await adapter.loadRange(['a', 'b'])
          expect(range.map((c) => [...c.key])).toEqual([
            ['a', 'b'],
            ['a', 'b', 'c'],
          ])
          expect(range.map((c) => plain(c.data))).toEqual([[1], [2]])
          expect((await adapter.loadRange(['a'])).map((c) => [...c.key])).toEqual([
            ['a', 'b'],
            ['a', 'b', 'c'],
            ['a', 'bc'],
          ])
          expect(await adapter.loadRange(['c'])).toEqual([])
        }),
      )

      it(
        '[§6] loadRange([]) returns every blob in ascending key order',
        run(async ({ adapter }) => {
          const keys: string[][] = [['b'], ['a', 'z'], ['a'], ['B'], ['a', 'b', 'c'], ['a', '']]
          for (const [i, key] of keys.entries()) await adapter.save(key, bytes(i))
          const all = await adapter.loadRange([])
          expect(all.map((c) => [...c.key])).toEqual([['B'], ['a'], ['a', ''], ['a', 'b', 'c'], ['a', 'z'], ['b']])
        }),
      )

      it(
        '[§6] keys that differ only in case, separators or dots stay distinct',
        run(async ({ adapter }) => {
          const keys: string[][] = [
            ['a/b'],
            ['a', 'b'],
            ['a\\b'],
            ['A', 'b'],
            ['.'],
            ['..'],
            [''],
            ['', ''],
            ['con'],
            ['x'.repeat(300)],
            ['ü', '日本', '🙂'],
            ['a%2Fb'],
            ['a b'],
          ]
          for (const [i, key] of keys.entries()) await adapter.save(key, bytes(i))
          for (const [i, key] of keys.entries()) expect(plain(await adapter.load(key)), JSON.stringify(key)).toEqual([i])
          const all = await adapter.loadRange([])
          expect(all.length).toBe(keys.length)
          expect(all.map((c) => JSON.stringify(c.key)).sort()).toEqual(keys.map((k) => JSON.stringify(k)).sort())
        }),
      )

      it(
        '[§6] removeRange removes the prefix and nothing beside it',
        run(async ({ adapter }) => {
          await adapter.save(['a', 'b'], bytes(1))
          await adapter.save(['a', 'b', 'c'], bytes(2))
          await adapter.save(['a', 'bc'], bytes(3))
          await adapter.save(['a'], bytes(4))
          await adapter.removeRange(['a', 'b'])
          expect((await adapter.loadRange([])).map((c) => [...c.key])).toEqual([['a'], ['a', 'bc']])
          await adapter.removeRange(['nothing'])
          await adapter.removeRange([])
          expect(await adapter.loadRange([])).toEqual([])
        }),
      )

      it(
        '[§6] a large blob round-trips',
        run(async ({ adapter }) => {
          const big = pattern(3 * 1024 * 1024 + 7, 42)
          await adapter.save(['big'], big)
          expect(bytesEqual(await adapter.load(['big']), big)).toBe(true)
        }),
      )

      it(
        '[§6] stored bytes are isolated from the buffers passed in and handed out',
        run(async ({ adapter }) => {
          const input = bytes(1, 2, 3)
          await adapter.save(['k'], input)
          input[0] = 99
          const first = await adapter.load(['k'])
          expect(plain(first)).toEqual([1, 2, 3])
          if (first) first[1] = 99
          const [chunk] = await adapter.loadRange(['k'])
          expect(plain(chunk?.data)).toEqual([1, 2, 3])
          if (chunk) chunk.data[2] = 99
          expect(plain(await adapter.load(['k']))).toEqual([1, 2, 3])
          // A view into a larger buffer stores only the view.
          const backing = bytes(7, 8, 9, 10)
          await adapter.save(['view'], backing.subarray(1, 3))
          expect(plain(await adapter.load(['view']))).toEqual([8, 9])
        }),
      )

      it(
        '[§6] mutating a key array after the call does not move the blob',
        run(async ({ adapter }) => {
          const key = ['a', 'b']
          await adapter.save(key, bytes(1))
          key[1] = 'c'
          expect(plain(await adapter.load(['a', 'b']))).toEqual([1])
          const [chunk] = await adapter.loadRange(['a'])
          ;(chunk?.key as string[] | undefined)?.push('zzz')
          expect((await adapter.loadRange(['a'])).map((c) => [...c.key])).toEqual([['a', 'b']])
        }),
      )

      it(
        '[§6] malformed keys are rejected with invalid-argument',
        run(async ({ adapter }) => {
          await expectStorageError(() => adapter.save([], bytes(1)), 'invalid-argument')
          await expectStorageError(() => adapter.load([]), 'invalid-argument')
          await expectStorageError(() => adapter.remove([]), 'invalid-argument')
          await expectStorageError(() => adapter.save([1 as unknown as string], bytes(1)), 'invalid-argument')
        }),
      )
    })

    describe('logs', () => {
      it(
        '[§6] a log never written is empty at index 0 and reads as []',
        run(async ({ adapter }) => {
          expect(await adapter.logBounds('none')).toEqual({ firstIndex: 1, lastIndex: 0 })
          expect(await adapter.readLog('none', 1)).toEqual([])
          expect(await adapter.append('none', [])).toBe(0)
        }),
      )

      it(
        '[§6] append returns the last index; indices are dense across calls',
        run(async ({ adapter }) => {
          expect(await adapter.append('log', [bytes(1)])).toBe(1)
          expect(await adapter.append('log', [bytes(2), bytes(3), bytes(4)])).toBe(4)
          expect(await adapter.append('log', [])).toBe(4)
          expect(await adapter.append('log', [bytes(5)])).toBe(5)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 5 })
          expect((await adapter.readLog('log', 1)).map(plain)).toEqual([[1], [2], [3], [4], [5]])
        }),
      )

      it(
        '[§6] readLog reads an inclusive range, clipped at the end',
        run(async ({ adapter }) => {
          await adapter.append('log', [1, 2, 3, 4, 5].map((n) => bytes(n)))
          expect((await adapter.readLog('log', 2, 4)).map(plain)).toEqual([[2], [3], [4]])
          expect((await adapter.readLog('log', 3, 3)).map(plain)).toEqual([[3]])
          expect((await adapter.readLog('log', 4, 100)).map(plain)).toEqual([[4], [5]])
          expect((await adapter.readLog('log', 5)).map(plain)).toEqual([[5]])
          expect(await adapter.readLog('log', 6)).toEqual([])
          expect(await adapter.readLog('log', 60, 70)).toEqual([])
          expect(await adapter.readLog('log', 4, 3)).toEqual([])
        }),
      )

      it(
        '[§6] logs are independent of each other and of blobs with the same name',
        run(async ({ adapter }) => {
          await adapter.append('x', [bytes(1), bytes(2)])
          await adapter.append('y', [bytes(9)])
          await adapter.save(['x'], bytes(7))
          await adapter.truncateLogAfter('y', 0)
          expect((await adapter.readLog('x', 1)).map(plain)).toEqual([[1], [2]])
          expect(await adapter.logBounds('y')).toEqual({ firstIndex: 1, lastIndex: 0 })
          expect(plain(await adapter.load(['x']))).toEqual([7])
          await adapter.removeRange([])
          expect(await adapter.logBounds('x')).toEqual({ firstIndex: 1, lastIndex: 2 })
        }),
      )

      it(
        '[§6] empty records are kept as records',
        run(async ({ adapter }) => {
          expect(await adapter.append('log', [new Uint8Array(0), bytes(1), new Uint8Array(0)])).toBe(3)
          const read = await adapter.readLog('log', 1)
          expect(read.map(plain)).toEqual([[], [1], []])
          expect(read.every((r) => r instanceof Uint8Array)).toBe(true)
        }),
      )

      it(
        '[§6] many records keep their order and content',
        run(async ({ adapter }) => {
          const count = 5000
          const records = Array.from({ length: count }, (_, i) => pattern(i % 37, i))
          for (let i = 0; i < 2500; i += 100) {
            expect(await adapter.append('log', records.slice(i, i + 100))).toBe(i + 100)
          }
          // The rest one by one without awaiting: call order must still be index order.
          const pending = records.slice(2500).map((r) => adapter.append('log', [r]))
          expect(await Promise.all(pending)).toEqual(Array.from({ length: 2500 }, (_, i) => 2501 + i))
          const read = await adapter.readLog('log', 1)
          expect(read.length).toBe(count)
          for (let i = 0; i < count; i++) {
            if (!bytesEqual(read[i], records[i])) expect.fail(`record ${i + 1} differs`)
          }
          expect((await adapter.readLog('log', 4000, 4002)).map(plain)).toEqual(
            records.slice(3999, 4002).map(plain),
          )
        }),
      )

      it(
        '[§6] a large record round-trips',
        run(async ({ adapter }) => {
          const big = pattern(2 * 1024 * 1024 + 3, 7)
          await adapter.append('log', [bytes(1), big, bytes(3)])
          const read = await adapter.readLog('log', 1)
          expect(read.length).toBe(3)
          expect(bytesEqual(read[1], big)).toBe(true)
          expect(plain(read[2])).toEqual([3])
        }),
      )

      it(
        '[§6] records are isolated from the buffers passed in and handed out',
        run(async ({ adapter }) => {
          const input = bytes(1, 2)
          await adapter.append('log', [input])
          input[0] = 99
          const [first] = await adapter.readLog('log', 1)
          expect(plain(first)).toEqual([1, 2])
          if (first) first[1] = 99
          expect((await adapter.readLog('log', 1)).map(plain)).toEqual([[1, 2]])
        }),
      )

      it(
        '[SG2] truncateLog prunes the prefix; later indices keep their numbers',
        run(async ({ adapter }) => {
          await adapter.append('log', [1, 2, 3, 4, 5].map((n) => bytes(n)))
          await adapter.truncateLog('log', 3)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 3, lastIndex: 5 })
          expect((await adapter.readLog('log', 3)).map(plain)).toEqual([[3], [4], [5]])
          expect(await adapter.append('log', [bytes(6)])).toBe(6)
          // Never un-prunes.
          await adapter.truncateLog('log', 1)
          await adapter.truncateLog('log', 3)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 3, lastIndex: 6 })
        }),
      )

      it(
        '[ST6] reading below the first retained index rejects with pruned, never skips the gap',
        run(async ({ adapter }) => {
          await adapter.append('log', [1, 2, 3, 4].map((n) => bytes(n)))
          await adapter.truncateLog('log', 3)
          await expectStorageError(() => adapter.readLog('log', 2), 'pruned')
          await expectStorageError(() => adapter.readLog('log', 1, 4), 'pruned')
          expect((await adapter.readLog('log', 3, 3)).map(plain)).toEqual([[3]])
        }),
      )

      it(
        '[ST6] truncateLog past the end empties the log and moves its append point',
        run(async ({ adapter }) => {
          await adapter.append('log', [bytes(1), bytes(2)])
          await adapter.truncateLog('log', 3)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 3, lastIndex: 2 })
          await adapter.truncateLog('log', 100)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 100, lastIndex: 99 })
          expect(await adapter.readLog('log', 100)).toEqual([])
          expect(await adapter.append('log', [bytes(7)])).toBe(100)
          expect((await adapter.readLog('log', 100)).map(plain)).toEqual([[7]])
          await adapter.truncateLog('fresh', 10)
          expect(await adapter.append('fresh', [bytes(1)])).toBe(10)
        }),
      )

      it(
        '[ST5] truncateLogAfter drops the divergent suffix; the next append reuses its indices',
        run(async ({ adapter }) => {
          await adapter.append('log', [1, 2, 3, 4, 5].map((n) => bytes(n)))
          await adapter.truncateLogAfter('log', 3)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 3 })
          expect(await adapter.readLog('log', 4)).toEqual([])
          expect(await adapter.append('log', [bytes(40), bytes(50)])).toBe(5)
          expect((await adapter.readLog('log', 1)).map(plain)).toEqual([[1], [2], [3], [40], [50]])
          // At or past the end: nothing to drop.
          await adapter.truncateLogAfter('log', 5)
          await adapter.truncateLogAfter('log', 50)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 5 })
          await adapter.truncateLogAfter('log', 0)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 0 })
          expect(await adapter.append('log', [bytes(1)])).toBe(1)
        }),
      )

      it(
        '[ST5] truncateLogAfter below the pruned prefix empties the log at index + 1',
        run(async ({ adapter }) => {
          await adapter.append('log', [1, 2, 3, 4, 5, 6].map((n) => bytes(n)))
          await adapter.truncateLog('log', 5)
          await adapter.truncateLogAfter('log', 4)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 5, lastIndex: 4 })
          await adapter.append('log', [bytes(7), bytes(8)])
          await adapter.truncateLogAfter('log', 2)
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 3, lastIndex: 2 })
          expect(await adapter.append('log', [bytes(3)])).toBe(3)
          expect((await adapter.readLog('log', 3)).map(plain)).toEqual([[3]])
        }),
      )

      it(
        '[§6] malformed log arguments are rejected with invalid-argument',
        run(async ({ adapter }) => {
          await adapter.append('log', [bytes(1)])
          await expectStorageError(() => adapter.append('', [bytes(1)]), 'invalid-argument')
          await expectStorageError(() => adapter.readLog('log', 0), 'invalid-argument')
          await expectStorageError(() => adapter.readLog('log', 1.5), 'invalid-argument')
          await expectStorageError(() => adapter.readLog('log', 1, -1), 'invalid-argument')
          await expectStorageError(() => adapter.truncateLog('log', 0), 'invalid-argument')
          await expectStorageError(() => adapter.truncateLogAfter('log', -1), 'invalid-argument')
          await expectStorageError(() => adapter.truncateLogAfter('log', Number.NaN), 'invalid-argument')
          await expectStorageError(
            () => adapter.append('log', ['nope' as unknown as Uint8Array]),
            'invalid-argument',
          )
          // A rejected append appends nothing, not even the valid records before the bad one.
          await expectStorageError(
            () => adapter.append('log', [bytes(2), 3 as unknown as Uint8Array]),
            'invalid-argument',
          )
          expect(await adapter.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 1 })
        }),
      )
    })

    describe('ordering and lifecycle', () => {
      it(
        '[§6] operations take effect in call order even when not awaited',
        run(async ({ adapter }) => {
          const calls = [
            adapter.save(['k'], bytes(1)),
            adapter.save(['k'], bytes(2)),
            adapter.append('log', [bytes(1), bytes(2), bytes(3)]),
            adapter.truncateLogAfter('log', 1),
            adapter.append('log', [bytes(20)]),
            adapter.remove(['gone']),
            adapter.save(['gone'], bytes(5)),
          ]
          const loaded = adapter.load(['k'])
          const read = adapter.readLog('log', 1)
          const flushed = adapter.flush()
          await Promise.all([...calls, flushed])
          expect(plain(await loaded)).toEqual([2])
          expect((await read).map(plain)).toEqual([[1], [20]])
          expect(plain(await adapter.load(['gone']))).toEqual([5])
        }),
      )

      it(
        '[SG1] flush resolves, repeatedly and with nothing to flush',
        run(async ({ adapter }) => {
          await adapter.flush()
          await adapter.append('log', [bytes(1)])
          await Promise.all([adapter.flush(), adapter.flush()])
          await adapter.flush()
        }),
      )

      it('[§6] after close every call rejects with closed; close is idempotent', async () => {
        const adapter = await make()
        await adapter.save(['k'], bytes(1))
        await adapter.close()
        await adapter.close()
        await expectStorageError(() => adapter.load(['k']), 'closed')
        await expectStorageError(() => adapter.save(['k'], bytes(1)), 'closed')
        await expectStorageError(() => adapter.append('log', [bytes(1)]), 'closed')
        await expectStorageError(() => adapter.readLog('log', 1), 'closed')
        await expectStorageError(() => adapter.flush(), 'closed')
      })

      it('[§6] random operations read back exactly what was written (read-your-writes)', async () => {
        await fc.assert(
          fc.asyncProperty(opsArbitrary(false), (ops) => runOps(make, ops, undefined)),
          { numRuns },
        )
      })
    })

    const crash = options.crash
    if (crash) {
      describe('crash recovery', () => {
        it(
          '[SG1] flushed blobs and records survive a crash',
          run(async (session) => {
            const before = session.adapter
            await before.save(['meta'], bytes(1, 2))
            await before.append('log', [bytes(1), bytes(2)])
            await before.flush()
            session.adapter = await crash(before)
            const after = session.adapter
            expect(plain(await after.load(['meta']))).toEqual([1, 2])
            expect(await after.logBounds('log')).toEqual({ firstIndex: 1, lastIndex: 2 })
            expect((await after.readLog('log', 1)).map(plain)).toEqual([[1], [2]])
            expect(await after.append('log', [bytes(3)])).toBe(3)
          }),
        )

        it(
          '[SG1] unflushed writes may be lost, but the log stays a prefix containing everything flushed',
          run(async (session) => {
            const before = session.adapter
            await before.append('log', [bytes(1), bytes(2)])
            await before.save(['k'], bytes(1))
            await before.flush()
            await before.append('log', [bytes(3), bytes(4), bytes(5)])
            await before.save(['k'], bytes(2))
            await before.remove(['k'])
            session.adapter = await crash(before)
            const after = session.adapter
            const { firstIndex, lastIndex } = await after.logBounds('log')
            expect(firstIndex).toBe(1)
            expect(lastIndex).toBeGreaterThanOrEqual(2)
            expect(lastIndex).toBeLessThanOrEqual(5)
            expect((await after.readLog('log', 1)).map(plain)).toEqual([[1], [2], [3], [4], [5]].slice(0, lastIndex))
            expect([[1], [2], undefined]).toContainEqual(plain(await after.load(['k'])))
          }),
        )

        it(
          '[SG1] flushed truncations survive a crash',
          run(async (session) => {
            const before = session.adapter
            await before.append('a', [1, 2, 3, 4].map((n) => bytes(n)))
            await before.append('b', [1, 2, 3, 4].map((n) => bytes(n)))
            await before.truncateLog('a', 3)
            await before.truncateLogAfter('b', 2)
            await before.truncateLog('c', 10)
            await before.flush()
            session.adapter = await crash(before)
            const after = session.adapter
            expect(await after.logBounds('a')).toEqual({ firstIndex: 3, lastIndex: 4 })
            expect(await after.logBounds('b')).toEqual({ firstIndex: 1, lastIndex: 2 })
            expect(await after.logBounds('c')).toEqual({ firstIndex: 10, lastIndex: 9 })
            expect(await after.append('b', [bytes(30)])).toBe(3)
            expect((await after.readLog('b', 1)).map(plain)).toEqual([[1], [2], [30]])
          }),
        )

        it(
          '[SG1] the recovered state is durable: a second crash loses nothing more',
          run(async (session) => {
            await session.adapter.append('log', [bytes(1)])
            await session.adapter.flush()
            await session.adapter.append('log', [bytes(2), bytes(3)])
            session.adapter = await crash(session.adapter)
            const first = await observeLog(session.adapter, 'log')
            session.adapter = await crash(session.adapter)
            const second = await observeLog(session.adapter, 'log')
            expect(logsEqual(first, second)).toBe(true)
          }),
        )

        it('[SG1] recovery yields a prefix containing everything flushed (random interleavings)', async () => {
          await fc.assert(
            fc.asyncProperty(opsArbitrary(true), (ops) => runOps(make, ops, crash)),
            { numRuns },
          )
        })
      })
    }
  })
}

import fc from 'fast-check'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryClientStore } from '../../client/store.js'
import { decodeChange, encodeChange } from '../../core/codec/index.js'
import type { Change } from '../../core/types.js'
import { toPlain } from '../core/codec/plain.js'
import { arbChange } from '../helpers/arbitraries.js'
import { HAVE_CHROMIUM, launchChromium, servePage } from './harness.js'

/**
 * The IndexedDB client store in real Chromium: calls made in the page, the page reloaded in between
 * (a real reopen of the database), the result checked against the memory store as the model.
 */

interface PageApi {
  open(name: string): Promise<string>
  append(changes: number[][]): Promise<void>
  dropChanges(upTo: [string, number][]): Promise<void>
  load(): number[][]
  close(): Promise<void>
}
declare global {
  // eslint-disable-next-line no-var
  var meridianIdb: PageApi
}

const ORIGINS = ['eu-1', 'us-1', 'c-7f3a']
const arbChangeAt = fc.tuple(arbChange, fc.constantFrom(...ORIGINS), fc.integer({ min: 1, max: 30 })).map(([c, origin, seq]): Change => ({ ...c, origin, seq }))
type Op = { kind: 'append'; changes: Change[] } | { kind: 'drop'; upTo: [string, number][] } | { kind: 'reload' }
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.array(arbChangeAt, { minLength: 1, maxLength: 5 }).map((changes) => ({ kind: 'append' as const, changes })) },
  { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(...ORIGINS), fc.integer({ min: 0, max: 30 })), { maxLength: 2 }).map((upTo) => ({ kind: 'drop' as const, upTo })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reload' as const }) },
)
const byId = (a: Change, b: Change): number => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq)
const wire = (change: Change): number[] => [...encodeChange(change)]

describe.skipIf(!HAVE_CHROMIUM)('[§8] the IndexedDB client store in Chromium', () => {
  let browser: Browser
  let page: Page
  let served: Awaited<ReturnType<typeof servePage>>
  let databases = 0

  beforeAll(async () => {
    served = await servePage('idb-page.ts')
    browser = await launchChromium()
    page = await (await browser.newContext()).newPage()
    await load()
  })
  afterAll(async () => {
    await browser?.close()
    await served?.close()
  })

  async function load(): Promise<void> {
    await page.goto(served.url)
    await page.waitForFunction(() => document.title === 'ready')
  }

  const reopen = async (name: string): Promise<void> => {
    await page.evaluate(() => globalThis.meridianIdb.close())
    await load()
    await page.evaluate((db) => globalThis.meridianIdb.open(db), name)
  }

  it('keeps the writer id and every change across page reloads, as the memory model does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { minLength: 1, maxLength: 10 }), async (ops) => {
        const name = `contract-${++databases}`
        const clientId = await page.evaluate((db) => globalThis.meridianIdb.open(db), name)
        const model = memoryClientStore()
        const seen = new Set<string>()
        for (const op of ops) {
          if (op.kind === 'reload') {
            await reopen(name)
            continue
          }
          if (op.kind === 'drop') {
            model.dropChanges(new Map(op.upTo))
            await page.evaluate((upTo) => globalThis.meridianIdb.dropChanges(upTo), op.upTo)
            continue
          }
          // A client appends each change once: ids are not reused.
          const fresh = op.changes.filter((c) => !seen.has(`${c.origin}:${c.seq}`) && seen.add(`${c.origin}:${c.seq}`))
          for (const change of fresh) model.append(change)
          await page.evaluate((changes) => globalThis.meridianIdb.append(changes), fresh.map(wire))
        }
        await reopen(name)
        const kept = (await page.evaluate(() => globalThis.meridianIdb.load())).map((bytes) => decodeChange(Uint8Array.from(bytes)))
        expect(toPlain(kept.sort(byId))).toEqual(toPlain([...model.load()].sort(byId)))
        expect(await page.evaluate((db) => globalThis.meridianIdb.open(db), name)).toBe(clientId)
        await page.evaluate(() => globalThis.meridianIdb.close())
      }),
      { numRuns: 8 },
    )
  })
})

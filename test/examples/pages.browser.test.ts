/**
 * The browser examples (docs/examples.md) in headless Chromium against `npm start` on free ports: the
 * collaborative text page and the kanban page, each opened twice, served by two different regions, in two
 * browser contexts; edits in both must converge. Skipped, like the other browser tests, without Chromium
 * (test/browser/chromium.ts).
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HAVE_CHROMIUM, launchChromium } from '../browser/harness.js'
import { npmStart, type NpmStart } from './npm-start.js'

let cluster: NpmStart
let browser: Browser
const pageErrors: string[] = []

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return
  cluster = await npmStart()
  browser = await launchChromium()
}, 90_000)

afterAll(async () => {
  await browser?.close()
  await cluster?.stop()
})

/** Opens `path` as served by region `i` (0 eu-1, 2 ap-1), in a browser context of its own. */
async function open(i: number, path: string): Promise<Page> {
  const context = await browser.newContext()
  const page = await context.newPage()
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`))
  await page.goto(`${cluster.url(i)}${path}`)
  await page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-connection') === 'connected', null, { timeout: 20_000 })
  return page
}

describe.skipIf(!HAVE_CHROMIUM)('the browser examples in Chromium, against npm start', () => {
  it('/examples/text/: two tabs on two regions type at once and show the same text', async () => {
    const doc = `t-${Date.now().toString(36)}`
    const [eu, ap] = await Promise.all([open(0, `/examples/text/?doc=${doc}`), open(2, `/examples/text/?doc=${doc}`)])
    await eu.locator('#editor').pressSequentially('Hello from eu.')
    await ap.waitForFunction(() => (document.querySelector('#editor') as HTMLTextAreaElement).value === 'Hello from eu.', null, { timeout: 10_000 })
    // At once: eu types at the end, ap at the start.
    await ap.locator('#editor').evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(0, 0))
    await Promise.all([eu.locator('#editor').pressSequentially(' Bye.'), ap.locator('#editor').pressSequentially('Hi! ')])
    const value = (page: Page) => page.locator('#editor').inputValue()
    await expect.poll(async () => [await value(eu), await value(ap)], { timeout: 10_000 }).toEqual(['Hi! Hello from eu. Bye.', 'Hi! Hello from eu. Bye.'])
    expect(pageErrors).toEqual([])
  })

  it('/examples/kanban/: a card moved in two tabs on two regions ends in one column, the same in both', async () => {
    const board = `b-${Date.now().toString(36)}`
    const [eu, ap] = await Promise.all([open(0, `/examples/kanban/?board=${board}`), open(2, `/examples/kanban/?board=${board}`)])
    await eu.fill('#new-title', 'Ship it')
    await eu.press('#new-title', 'Enter')
    const card = (page: Page) => page.locator('.card', { hasText: 'Ship it' })
    await expect.poll(() => card(ap).count(), { timeout: 10_000 }).toBe(1)
    // Both move it right at once. Whichever tab sees the other's move first moves it on from there, so the
    // card ends in doing or done; a second click that waited for a column would race that sync.
    await Promise.all([card(eu).locator('.right').click(), card(ap).locator('.right').click()])
    const where = (page: Page) =>
      page.evaluate(() => Array.from(document.querySelectorAll('.card')).map((el) => `${el.closest('.column')?.getAttribute('data-column')}:${el.textContent?.replace(/[←→×]/g, '')}`))
    await expect.poll(async () => {
      const [a, b] = [await where(eu), await where(ap)]
      return a.length === 1 && JSON.stringify(a) === JSON.stringify(b) ? a : [a, b]
    }, { timeout: 10_000 }).toEqual([expect.stringMatching(/^(doing|done):Ship it$/)])
    expect(pageErrors).toEqual([])
  })
})

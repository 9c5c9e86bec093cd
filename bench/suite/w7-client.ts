/**
 * W7, the browser client: the size of every bundle `npm run build` writes (minified and gzipped, as a CDN
 * would serve it), and a cold start from IndexedDB with 10,000 documents in headless Chromium (store open,
 * client restore, first screen of 100 rows). Without Chromium the cold start is skipped, said loudly.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { encodeStoredDocumentState } from '../../core/codec/document-state.js'
import { LwwReplica, lwwPutPayload } from '../../core/crdt/lww.js'
import { HAVE_CHROMIUM, SKIPPED_MESSAGE } from '../../test/browser/chromium.js'
import { REPO_ROOT } from '../../test/helpers/cluster.js'
import { percentile, progress, WorkloadResults, type Workload } from './figures.js'

const DOCUMENTS = 10_000
const COLD_START_GOAL_MS = 150

export const w7: Workload = async (options) => {
  const results = new WorkloadResults('W7')
  const dir = join(REPO_ROOT, 'dist', 'browser')
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js') || f.endsWith('.wasm')).sort()) {
    const bytes = readFileSync(join(dir, file))
    results.figure(`bundle.${file}.minKiB`, 'meridian', `${file}, minified`, bytes.length / 1024, 'KiB', 'lower')
    results.figure(`bundle.${file}.gzipKiB`, 'meridian', `${file}, gzipped`, gzipSync(bytes, { level: 9 }).length / 1024, 'KiB', 'lower')
  }
  if (!HAVE_CHROMIUM) {
    console.warn(SKIPPED_MESSAGE)
    results.note(`cold start NOT measured: no Chromium (${SKIPPED_MESSAGE.split('\n')[0]})`)
    results.goal(`cold start of ${DOCUMENTS.toLocaleString('en')} documents < ${COLD_START_GOAL_MS} ms`, null, 'not measured: no Chromium')
    return results
  }
  const { launchChromium, servePage } = await import('../../test/browser/harness.js')
  progress('W7', `seeding IndexedDB with ${DOCUMENTS.toLocaleString('en')} documents…`)
  const served = await servePage('../../bench/suite/w7-page.ts')
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    await page.goto(served.url)
    await page.waitForFunction(() => document.title === 'ready')
    await page.evaluate(([documents, covered]) => (globalThis as unknown as { coldStartBench: { seed(d: number[][], c: [string, number][]): Promise<void> } }).coldStartBench.seed(documents, covered), [
      storedDocuments(DOCUMENTS),
      [['eu-1', DOCUMENTS]] as [string, number][],
    ] as const)
    const runs = options.quick ? 3 : 7
    const open: number[] = []
    const restore: number[] = []
    const firstScreen: number[] = []
    // The first reload folds the seeded documents into the store's pack; it is not counted.
    for (let i = 0; i <= runs; i++) {
      await page.reload()
      await page.waitForFunction(() => document.title === 'ready')
      const t = await page.evaluate(() => (globalThis as unknown as { coldStartBench: { coldStart(): Promise<{ open: number; restore: number; firstScreen: number; documents: number }> } }).coldStartBench.coldStart())
      if (t.documents !== DOCUMENTS) throw new Error(`cold start restored ${t.documents} documents of ${DOCUMENTS}`)
      if (i === 0) continue
      open.push(t.open)
      restore.push(t.restore)
      firstScreen.push(t.firstScreen)
      progress('W7', `cold start ${i}/${runs}: store ${t.open.toFixed(0)} ms + client ${t.restore.toFixed(0)} ms → first screen ${t.firstScreen.toFixed(0)} ms`)
    }
    results.figure('coldStart.storeOpenMs', 'meridian', `open IndexedDB store, ${DOCUMENTS} docs (median)`, percentile(open, 50), 'ms', 'lower')
    results.figure('coldStart.restoreMs', 'meridian', `restore client from it (median)`, percentile(restore, 50), 'ms', 'lower')
    const median = results.figure('coldStart.firstScreenMs', 'meridian', `store open → first screen (median of ${runs})`, percentile(firstScreen, 50), 'ms', 'lower')
    results.distribution('coldStart.firstScreen', 'meridian', `cold start, ${DOCUMENTS} documents`, firstScreen)
    results.goal(`cold start of ${DOCUMENTS.toLocaleString('en')} documents < ${COLD_START_GOAL_MS} ms`, median < COLD_START_GOAL_MS, `median ${median.toFixed(0)} ms (store ${percentile(open, 50).toFixed(0)} + restore ${percentile(restore, 50).toFixed(0)} + first screen)`)
    results.note('W7 cold start: headless Chromium, a bare page (no app code), from opening IndexedDB to the first frame with 100 rows; page load and bundle fetch not included.')
  } finally {
    await browser.close()
    await served.close()
  }
  return results
}

/** `count` LWW documents of the collection `notes`, as the client stores them (encoded stored states). */
function storedDocuments(count: number): number[][] {
  const out: number[][] = []
  const wallMs = 1_700_000_000_000
  for (let i = 0; i < count; i++) {
    const replica = new LwwReplica({ collection: 'notes', docId: `n${i}` })
    const hlc = { wallMs: wallMs + i, counter: 0, node: 'eu-1' }
    replica.apply({ origin: 'eu-1', seq: i + 1, hlc, collection: 'notes', docId: `n${i}`, docType: 'lww', payload: lwwPutPayload(replica, { title: `todo number ${i}`, done: false, createdAt: i }) })
    const state = encodeStoredDocumentState({ document: { collection: 'notes', docId: `n${i}`, docType: 'lww', state: replica.encodeState() }, ownSeq: 0, ownHlc: null, remoteHlc: hlc })
    out.push([...state])
  }
  return out
}

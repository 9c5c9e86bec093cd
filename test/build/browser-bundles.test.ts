/**
 * The browser bundles (docs/client.md, Bundles): the base client stays within its gzip budget and
 * carries no Yjs, Automerge or strict-mode code; Automerge's WebAssembly is a file of its own.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BASE_CLIENT_BUDGET_BYTES, buildBrowserBundles, checkBudget, type BundleSize } from '../../scripts/build-browser.mjs'

let outdir: string
let rows: BundleSize[]

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'meridian-bundles-'))
  rows = await buildBrowserBundles({ outdir, quiet: true })
  console.log(rows.map((r) => `${r.name} ${(r.gzip / 1024).toFixed(1)} KiB gz`).join(', '))
}, 60_000)

afterAll(() => rmSync(outdir, { recursive: true, force: true }))

describe('browser bundles', () => {
  it(`the base client is at most ${BASE_CLIENT_BUDGET_BYTES / 1024} KiB gzipped`, () => {
    const base = rows.find((r) => r.name === 'meridian-client')
    expect(base?.gzip).toBeLessThanOrEqual(BASE_CLIENT_BUDGET_BYTES)
    expect(() => checkBudget(rows)).not.toThrow()
    // The check itself fails when a bundle is over.
    expect(() => checkBudget(rows.map((r) => (r.name === 'meridian-client' ? { ...r, gzip: BASE_CLIENT_BUDGET_BYTES + 1 } : r)))).toThrow(/over its budget/)
  })

  it('the base client carries neither Yjs, Automerge nor the strict-mode client', () => {
    const base = readFileSync(join(outdir, 'meridian-client.js'), 'utf8')
    // Strings each of them holds (error texts and names that minification keeps).
    expect(base).not.toContain('Changed the client-id because another client seems to be using it')
    expect(base).not.toMatch(/automerge_wasm|__wbindgen/)
    expect(base).not.toContain('strictMaxInFlight must be an integer')
    expect(readFileSync(join(outdir, 'meridian-yjs.js'), 'utf8')).toContain('Changed the client-id because another client seems to be using it')
    expect(readFileSync(join(outdir, 'meridian-strict.js'), 'utf8')).toContain('strictMaxInFlight must be an integer')
  })

  it("Automerge's WebAssembly is a file of its own, not base64 inside a bundle", () => {
    const wasm = readFileSync(join(outdir, 'automerge.wasm'))
    expect([...wasm.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d])
    for (const r of rows.filter((row) => row.name.startsWith('meridian-'))) expect(r.raw).toBeLessThan(200 * 1024)
  })
})

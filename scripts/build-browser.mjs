// The browser bundles (docs/client.md, Bundles): minified ES modules for <script type="module"> without
// a bundler, one self-contained file per client entry, and Automerge's WebAssembly in a file of its own.
// Every region serves them at /bundle/. Used by scripts/build.mjs and by the browser tests (which build
// into a directory of their own).
//
// Self-contained rather than split into shared chunks: a page that uses only the base client loads one
// file of ~24 KiB gzipped; split, the same code came to 29 KiB in six files (each compressed alone, and
// a chunk holds whole modules, so code only the add-ons use rode along). An add-on repeats a few KiB of
// the core (lib0 encoding, codec primitives); nothing in it depends on sharing an instance with the base
// client, and Yjs, whose identity matters, lives only in meridian-yjs.js.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

/** Bundle name → source entry. */
export const BROWSER_ENTRIES = {
  'meridian-client': 'client/index.ts',
  'meridian-strict': 'client/strict.ts',
  'meridian-yjs': 'client/yjs.ts',
  'meridian-automerge': 'client/automerge-browser.ts',
  'meridian-idb': 'client/idb.ts',
  'meridian-tabs': 'client/tabs.ts',
}

/**
 * The base client, gzipped, at most (issue 11: Electric's is ~18 KB, Replicache's ~36 KB). Raised from 25
 * to 26 KiB by issue 14: signed-token sessions (`getToken`, renewing after TOKEN_EXPIRED) took the base
 * client from 25.0 to 25.2 KiB, and every client needs them. Raised to 27 KiB by refused writes (the
 * `Rejected` frame, rolling a document back to the region's copy, `WriteRejectedError`): 25.2 → 26.5 KiB. Raised to 28 KiB as the same issue ended at 27.3 KiB: batches
 * capped by bytes, refusals grouped per document, and the region's side of refusals, which MeshNode carries
 * to clients too (splitting the region's half out of the shared mesh is the way back under 27).
 */
export const BASE_CLIENT_BUDGET_BYTES = 28 * 1024

/**
 * Automerge's default entries load their WebAssembly themselves (as an ES module import, or inlined as
 * base64). The bundles use its `/slim` entry instead, whose wasm `loadAutomergeSupport` fetches from
 * `automerge.wasm` next to the bundle: an app that uses no automerge collection never downloads it.
 */
const automergeSlim = {
  name: 'automerge-slim',
  setup(build) {
    build.onResolve({ filter: /^@automerge\/automerge$/ }, (args) =>
      build.resolve('@automerge/automerge/slim', { kind: args.kind, resolveDir: args.resolveDir }),
    )
  },
}

/**
 * Builds the bundles into `outdir` (emptied first) and returns, per entry, what a page that imports it
 * loads: the entry and every chunk it imports statically, minified and gzipped.
 * @param {{ outdir: string, quiet?: boolean }} options
 */
export async function buildBrowserBundles({ outdir, quiet = false }) {
  const esbuild = await import('esbuild')
  rmSync(outdir, { recursive: true, force: true })
  mkdirSync(outdir, { recursive: true })
  await Promise.all(
    Object.entries(BROWSER_ENTRIES).map(([name, entry]) =>
      esbuild.build({
        absWorkingDir: root,
        entryPoints: [entry],
        outfile: join(outdir, `${name}.js`),
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        minify: true,
        sourcemap: true,
        legalComments: 'none',
        logLevel: quiet ? 'error' : 'warning',
        plugins: [automergeSlim],
      }),
    ),
  )
  copyFileSync(require.resolve('@automerge/automerge/automerge.wasm'), join(outdir, 'automerge.wasm'))
  return [...Object.keys(BROWSER_ENTRIES).map((name) => `${name}.js`), 'automerge.wasm'].map((file) => {
    const bytes = readFileSync(join(outdir, file))
    return { name: file.replace(/\.js$/, ''), file: relative(root, join(outdir, file)), raw: bytes.length, gzip: gzipSync(bytes).length }
  })
}

/** Throws when the base client is over its budget. */
export function checkBudget(rows) {
  const base = rows.find((row) => row.name === 'meridian-client')
  if (base === undefined) throw new Error('build: no meridian-client bundle was built')
  if (base.gzip > BASE_CLIENT_BUDGET_BYTES) {
    throw new Error(
      `build: the base client bundle is ${(base.gzip / 1024).toFixed(1)} KiB gzipped, over its budget of ` +
        `${BASE_CLIENT_BUDGET_BYTES / 1024} KiB (scripts/build-browser.mjs): something it imports pulled in code it should not`,
    )
  }
}

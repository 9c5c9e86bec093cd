#!/usr/bin/env node
// Builds the package into dist/:
//   dist/types/    declarations (tsc -p tsconfig.build.json)
//   dist/node/     one ESM module per package entry, dependencies left as imports, shared code in chunks/
//   dist/browser/  the browser bundles (scripts/build-browser.mjs): meridian-client.js, -strict, -yjs,
//                  -automerge (+ automerge.wasm), -idb: self-contained minified ESM for <script type="module">
// and prints the size of every bundle, raw and gzipped; fails when the base client is over its budget.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { BASE_CLIENT_BUDGET_BYTES, BROWSER_ENTRIES, buildBrowserBundles, checkBudget } from './build-browser.mjs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

/** Package entries; keep in step with "exports" in package.json. */
const NODE_ENTRIES = [
  'core/index.ts',
  'client/index.ts',
  'client/node.ts',
  'client/idb.ts',
  'client/strict.ts',
  'client/yjs.ts',
  'client/automerge.ts',
  'server/index.ts',
  'server/cli.ts',
  'core/storage/contract.ts',
]
const BROWSER_OUT = 'dist/browser'

let esbuild
try {
  esbuild = await import('esbuild')
} catch (err) {
  // esbuild finds its native binary in the optional dependency for this platform (@esbuild/linux-x64 …);
  // its postinstall script only checks and speeds that up, so installs without scripts still work.
  // Reaching here means the platform package is missing, e.g. after `npm ci --omit=optional`.
  console.error(
    'esbuild could not load its native binary. Reinstall with optional dependencies (`npm ci`), ' +
      'or point ESBUILD_BINARY_PATH at an esbuild binary of the same version.\n',
  )
  throw err
}

function step(label) {
  process.stdout.write(`${label}\n`)
}

const missing = [...new Set([...NODE_ENTRIES, ...Object.values(BROWSER_ENTRIES)])].filter((entry) => !existsSync(join(root, entry)))
if (missing.length > 0) {
  console.error(`build: entry points missing: ${missing.join(', ')}`)
  process.exit(1)
}

rmSync(join(root, 'dist'), { recursive: true, force: true })

step('types    tsc -p tsconfig.build.json')
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  })
} catch {
  console.error('build: declaration emit failed (see tsc output above)')
  process.exit(1)
}

step('bundle   esbuild (node, browser)')
const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
}
const [nodeResult, browserRows] = await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: NODE_ENTRIES,
    outbase: '.',
    outdir: 'dist/node',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // Shared code goes to chunks/ so that `meridian/core` and `meridian/client` share one copy of
    // every class (instanceof checks and error classes keep working across entries).
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true,
  }),
  buildBrowserBundles({ outdir: join(root, BROWSER_OUT) }),
])

// Sizes of the emitted files, raw and gzipped (what a server would send with compression).
const kib = (n) => (n / 1024).toFixed(1)
const rows = browserRows.map((r) => ({ file: r.file, minified: true, raw: r.raw, gzip: r.gzip }))
for (const file of Object.keys(nodeResult.metafile.outputs)) {
  if (!file.endsWith('.js')) continue
  const bytes = readFileSync(join(root, file))
  rows.push({ file: relative(root, join(root, file)), minified: false, raw: bytes.length, gzip: gzipSync(bytes).length })
}
const notes = rows.some((r) => r.note !== undefined)
const header = ['bundle', 'minified', 'size KiB', 'gzip KiB', ...(notes ? [''] : [])]
const table = [
  header,
  ...rows.map((r) => [r.file, r.minified ? 'yes' : 'no', kib(r.raw), kib(r.gzip), ...(notes ? [r.note ?? ''] : [])]),
]
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)))
for (const [i, row] of table.entries()) {
  console.log(
    row
      .map((cell, c) => (c === 2 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  )
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  ').trimEnd())
}

const base = browserRows.find((r) => r.name === 'meridian-client')
if (base) console.log(`\nbase client (meridian-client.js): ${kib(base.gzip)} KiB gzipped, budget ${kib(BASE_CLIENT_BUDGET_BYTES)} KiB`)
try {
  checkBudget(browserRows)
} catch (err) {
  console.error(err.message)
  process.exit(1)
}

#!/usr/bin/env node
// Builds the package into dist/:
//   dist/types/    declarations (tsc -p tsconfig.build.json)
//   dist/node/     one ESM module per package entry, dependencies left as imports, shared code in chunks/
//   dist/browser/  meridian-client.js: one self-contained, minified ESM file for <script type="module">
// and prints the size of every bundle, raw and gzipped.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

/** Package entries; keep in step with "exports" in package.json. */
const NODE_ENTRIES = ['core/index.ts', 'client/index.ts', 'client/node.ts', 'client/idb.ts', 'server/index.ts', 'server/cli.ts', 'core/storage/contract.ts']
const BROWSER_ENTRY = 'client/index.ts'
const BROWSER_OUT = 'dist/browser/meridian-client.js'

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

/**
 * @automerge/automerge resolves, under esbuild's "browser" condition, to an entry that imports the
 * .wasm file as an ES module (wasm ESM integration), which esbuild cannot bundle. The package ships
 * an entry that embeds the same wasm as base64 and instantiates it synchronously at import; the
 * self-contained browser bundle uses that one. Bundlers that consume dist/node pick their own entry.
 */
const automergeBase64 = {
  name: 'automerge-base64',
  setup(build) {
    build.onResolve({ filter: /^@automerge\/automerge$/ }, async (args) => {
      // "./automerge.wasm.base64" is an exported subpath; the base64 entry sits next to it in the package.
      const wasm = await build.resolve('@automerge/automerge/automerge.wasm.base64', {
        kind: args.kind,
        resolveDir: args.resolveDir,
      })
      if (wasm.errors.length > 0) return { errors: wasm.errors }
      return { path: join(dirname(wasm.path), '..', '..', 'entrypoints', 'fullfat_base64.js') }
    })
  },
}

function step(label) {
  process.stdout.write(`${label}\n`)
}

const missing = [...new Set([...NODE_ENTRIES, BROWSER_ENTRY])].filter((entry) => !existsSync(join(root, entry)))
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
const [nodeResult, browserResult] = await Promise.all([
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
  esbuild.build({
    ...common,
    entryPoints: [BROWSER_ENTRY],
    outfile: BROWSER_OUT,
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    plugins: [automergeBase64],
  }),
])

// Sizes of the emitted JavaScript, raw and gzipped (what a server would send with compression).
const kib = (n) => (n / 1024).toFixed(1)
const rows = []
for (const [result, minified] of [
  [browserResult, true],
  [nodeResult, false],
]) {
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith('.js')) continue
    const bytes = readFileSync(join(root, file))
    rows.push({ file: relative(root, join(root, file)), minified, raw: bytes.length, gzip: gzipSync(bytes).length })
    if (minified) {
      // The embedded Automerge wasm dominates the browser bundle; show its share.
      let automerge = 0
      for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
        if (input.includes('@automerge/automerge/')) automerge += bytesInOutput
      }
      if (automerge > 0) rows.at(-1).note = `of which @automerge/automerge ${kib(automerge)} KiB`
    }
  }
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

/**
 * Real-browser tests (docs/client.md): Debian's Chromium driven by playwright-core, never a browser
 * download (chromium.ts says where and whether). Without Chromium the tests are skipped, loudly, with the
 * command that installs it; under .ci/run a missing Chromium fails the run.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium, type Browser } from 'playwright-core'
import { BROWSER_TESTS_REQUIRED, CHROMIUM_PATH, HAVE_CHROMIUM, SKIPPED_MESSAGE } from './chromium.js'

export { HAVE_CHROMIUM }

if (!HAVE_CHROMIUM) {
  console.warn(SKIPPED_MESSAGE)
  if (BROWSER_TESTS_REQUIRED) throw new Error(SKIPPED_MESSAGE)
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS })
}

const here = dirname(fileURLToPath(import.meta.url))

/** Serves one page (an empty document running `entry`, bundled for the browser) on 127.0.0.1. */
export async function servePage(entry: string): Promise<{ url: string; close(): Promise<void> }> {
  const bundled = await build({
    entryPoints: [join(here, entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  })
  const script = bundled.outputFiles[0]?.text ?? ''
  const server: Server = createServer((request, response) => {
    if (request.url === '/page.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' })
      response.end(script)
      return
    }
    response.writeHead(200, { 'content-type': 'text/html' })
    response.end('<!doctype html><meta charset="utf-8"><title>loading</title><script type="module" src="/page.js"></script>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

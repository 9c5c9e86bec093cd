/**
 * The browser bundle's Automerge module (/bundle/meridian-automerge.js, built by scripts/build-browser.mjs
 * with `@automerge/automerge` resolved to its `/slim` entry): Automerge's WebAssembly is a file of its
 * own (`automerge.wasm`, next to the bundle), fetched only when an app calls `loadAutomergeSupport`,
 * instead of base64 inside the bundle.
 *
 * @example
 * ```js
 * import { createClient } from '/bundle/meridian-client.js'
 * import { loadAutomergeSupport } from '/bundle/meridian-automerge.js'
 * const client = createClient({ urls, use: [await loadAutomergeSupport()] })
 * ```
 */
import { initializeWasm, isWasmInitialized } from '@automerge/automerge/slim'
import type { ClientModule } from './modules.js'
import { automergeSupport } from './automerge.js'

let loading: Promise<void> | null = null

/**
 * Fetches and starts Automerge's WebAssembly (once; later calls share it), then returns the module.
 * `wasmUrl`: where `automerge.wasm` is, by default next to this bundle.
 */
export async function loadAutomergeSupport(wasmUrl: string | URL = new URL('./automerge.wasm', import.meta.url)): Promise<ClientModule> {
  if (!isWasmInitialized()) {
    loading ??= initializeWasm(String(wasmUrl)).catch((err: unknown) => {
      loading = null
      throw new Error(`Meridian client: could not load Automerge's WebAssembly from ${String(wasmUrl)}: ${String(err)}`, { cause: err })
    })
    await loading
  }
  return automergeSupport
}

export { automergeSupport }
export type { AutomergeCollection } from './automerge-collection.js'

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

/**
 * The directory of the `meridian` package: the nearest ancestor of this module holding a package.json
 * named "meridian". Works from the sources (server/*.ts under tsx) and from builds (dist/node/…).
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached
  const start = dirname(fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'meridian') {
          cached = dir
          return dir
        }
      } catch {
        // An unreadable package.json is not ours; keep walking.
      }
    }
    if (dirname(dir) === dir) throw new Error(`meridian: no package.json named "meridian" above ${start}`)
  }
}

import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve, sep } from 'node:path'

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
}

export interface StaticFile {
  readonly body: Uint8Array
  readonly contentType: string
}

/**
 * Reads `relative` under `root`, refusing anything that would leave `root` (`..`, absolute paths).
 * A directory serves its index.html. Null when there is no such file.
 */
export async function readStatic(root: string, relative: string): Promise<StaticFile | null> {
  const base = resolve(root)
  let decoded: string
  try {
    decoded = decodeURIComponent(relative)
  } catch {
    return null
  }
  if (decoded.includes('\0')) return null
  let path = resolve(base, normalize(`.${sep}${decoded}`))
  if (path !== base && !path.startsWith(base + sep)) return null
  try {
    if ((await stat(path)).isDirectory()) path = join(path, 'index.html')
    const body = await readFile(path)
    return { body, contentType: CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream' }
  } catch {
    return null
  }
}

export const DASHBOARD_PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Meridian</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>Meridian</h1>
<p>The dashboard is not built: <code>server/dashboard/index.html</code> is missing.</p>
<p>This node is up: see <a href="/status">/status</a>, <a href="/healthz">/healthz</a> and <a href="/metrics">/metrics</a>.</p>
</body></html>
`

import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { packageRoot } from '../../server/package-root.js'
import { readStatic } from '../../server/static.js'

describe('static files', () => {
  const root = mkdtempSync(join(tmpdir(), 'meridian-static-'))
  mkdirSync(join(root, 'site', 'sub'), { recursive: true })
  writeFileSync(join(root, 'site', 'index.html'), '<p>home</p>')
  writeFileSync(join(root, 'site', 'sub', 'app.js'), 'x')
  writeFileSync(join(root, 'secret.txt'), 'no')

  it('serves files with a content type, and index.html for directories', async () => {
    expect((await readStatic(join(root, 'site'), 'sub/app.js'))?.contentType).toMatch(/javascript/)
    expect(Buffer.from((await readStatic(join(root, 'site'), ''))?.body ?? []).toString()).toBe('<p>home</p>')
  })

  it('never leaves its root', async () => {
    for (const path of ['../secret.txt', '..%2fsecret.txt', 'sub/../../secret.txt', '/etc/passwd', '%2e%2e/secret.txt', 'a%00b']) {
      expect(await readStatic(join(root, 'site'), path)).toBeNull()
    }
  })

  it('finds the package root of meridian', () => {
    expect(packageRoot()).toBe(join(import.meta.dirname, '..', '..'))
  })
})

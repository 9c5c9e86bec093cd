// The dashboard's collection digest panel (docs/crdt.md "Divergence digest", docs/server.md "Dashboard"):
// server/dashboard/dashboard.js builds it with pure functions, checked here in Node without a DOM.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'

interface VNode {
  readonly tag: string
  readonly attrs: Record<string, unknown>
  readonly children: (VNode | string)[]
}
interface Entry {
  nodeId: string
  status: unknown
  error: string | null
  okAt: number | null
}
interface Dashboard {
  digestPanel(entries: Entry[]): VNode | null
  digestVerdict(entries: Entry[], collection: string): { state: string; suspects: string[] }
  toHtml(node: VNode | string): string
}

const dashboardUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'server', 'dashboard', 'dashboard.js')).href
const load = async (): Promise<Dashboard> => (await import(dashboardUrl)) as Dashboard

function entry(nodeId: string, notes: { digest: string; vector: Record<string, number> } | null, error: string | null = null): Entry {
  const collections = notes === null ? {} : { notes: { type: 'lww', documents: 3, token: 't', ...notes } }
  return { nodeId, status: { nodeId, collections }, error, okAt: 1 }
}

const V = { a: 2, b: 1 }

describe('dashboard: collection digests', () => {
  it('equal vectors and digests: converged; different vectors: catching up; one region alone: unknown', async () => {
    const d = await load()
    expect(d.digestVerdict([entry('a', { digest: 'd1', vector: V }), entry('b', { digest: 'd1', vector: { b: 1, a: 2 } })], 'notes')).toEqual({ state: 'converged', suspects: [] })
    expect(d.digestVerdict([entry('a', { digest: 'd1', vector: V }), entry('b', { digest: 'd2', vector: { a: 1, b: 1 } })], 'notes')).toEqual({ state: 'catching up', suspects: [] })
    expect(d.digestVerdict([entry('a', { digest: 'd1', vector: V }), entry('b', { digest: 'd2', vector: V }, 'timed out')], 'notes').state).toBe('unknown')
  })

  it('equal vectors with different digests: DIVERGED, naming the region outside the majority (or all of a tie)', async () => {
    const d = await load()
    const three = [entry('a', { digest: 'd1', vector: V }), entry('b', { digest: 'd1', vector: V }), entry('c', { digest: 'd9', vector: V })]
    expect(d.digestVerdict(three, 'notes')).toEqual({ state: 'diverged', suspects: ['c'] })
    expect(d.digestVerdict(three.slice(1), 'notes')).toEqual({ state: 'diverged', suspects: ['b', 'c'] })
    // A region still catching up does not hide a divergence among the others.
    expect(d.digestVerdict([...three, entry('e', { digest: 'd0', vector: { a: 1 } })], 'notes')).toEqual({ state: 'diverged', suspects: ['c'] })
    const html = d.toHtml(d.digestPanel(three) as VNode)
    expect(html).toContain('>DIVERGED</span>')
    expect(html).toContain('<td class="diverged"')
    expect(html).toContain('equal vectors, different digests: c')
  })

  it('the panel shows each region\'s digest and documents, and is absent when no region reports collections', async () => {
    const d = await load()
    const html = d.toHtml(d.digestPanel([entry('a', { digest: '0123456789abcdef', vector: V }), entry('b', { digest: '0123456789abcdef', vector: V })]) as VNode)
    expect(html).toContain('<code>01234567</code> · 3 docs')
    expect(html).toContain('converged')
    expect(html).not.toContain('>DIVERGED</span>')
    expect(d.digestPanel([entry('a', null), entry('b', null)])).toBeNull()
    expect(d.digestPanel([])).toBeNull()
  })
})

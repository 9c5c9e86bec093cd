/**
 * Compares two V8 heap snapshots (.heapsnapshot, as written by `--heapsnapshot-signal` or the inspector) of
 * the same process: object counts and self sizes per constructor (per node type and name), the largest
 * growths first, so that "what grows" has a name. With `--retainers NAME`, also a few retainer paths of
 * objects named NAME that exist only in the later snapshot (what keeps them alive).
 *
 *   node --max-old-space-size=6144 --import tsx lab/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top 30] [--retainers AuthorEntry]
 *
 * Self sizes only (no dominator tree): enough to see which objects multiply; the retainer paths say who holds them.
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[], ...unknown[]]; readonly edge_fields: string[]; readonly edge_types: [string[], ...unknown[]] } }
  readonly nodes: number[]
  readonly edges: number[]
  readonly strings: string[]
}

interface Parsed {
  readonly raw: Snapshot
  readonly nodeFieldCount: number
  readonly edgeFieldCount: number
  readonly nodeCount: number
  /** Index of the first edge of node i (in edge records). */
  readonly firstEdge: Uint32Array
  readonly ids: Map<number, number>
}

function parse(path: string): Parsed {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Snapshot
  const meta = raw.snapshot.meta
  const nodeFieldCount = meta.node_fields.length
  const edgeFieldCount = meta.edge_fields.length
  const nodeCount = raw.nodes.length / nodeFieldCount
  const edgeCountField = meta.node_fields.indexOf('edge_count')
  const idField = meta.node_fields.indexOf('id')
  const firstEdge = new Uint32Array(nodeCount + 1)
  const ids = new Map<number, number>()
  for (let i = 0, e = 0; i < nodeCount; i++) {
    firstEdge[i] = e
    e += raw.nodes[i * nodeFieldCount + edgeCountField] as number
    ids.set(raw.nodes[i * nodeFieldCount + idField] as number, i)
  }
  firstEdge[nodeCount] = raw.edges.length / edgeFieldCount
  return { raw, nodeFieldCount, edgeFieldCount, nodeCount, firstEdge, ids }
}

function field(p: Parsed, node: number, name: string): number {
  return p.raw.nodes[node * p.nodeFieldCount + p.raw.snapshot.meta.node_fields.indexOf(name)] as number
}

/** "object:AuthorEntry", "closure:onClose", "string", "array:(object elements)" … */
function label(p: Parsed, node: number): string {
  const type = p.raw.snapshot.meta.node_types[0][field(p, node, 'type')] as string
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'bigint') return type
  const name = p.raw.strings[field(p, node, 'name')] ?? ''
  return `${type}:${name.length > 80 ? `${name.slice(0, 77)}...` : name}`
}

interface Totals {
  count: number
  size: number
}

function byLabel(p: Parsed): Map<string, Totals> {
  const out = new Map<string, Totals>()
  for (let i = 0; i < p.nodeCount; i++) {
    const key = label(p, i)
    const totals = out.get(key) ?? { count: 0, size: 0 }
    totals.count += 1
    totals.size += field(p, i, 'self_size')
    out.set(key, totals)
  }
  return out
}

/** Reverse edges (retainers) of every node, skipping weak edges. */
function retainers(p: Parsed): Map<number, { from: number; edge: string }[]> {
  const meta = p.raw.snapshot.meta
  const typeField = meta.edge_fields.indexOf('type')
  const nameField = meta.edge_fields.indexOf('name_or_index')
  const toField = meta.edge_fields.indexOf('to_node')
  const edgeTypes = meta.edge_types[0]
  const out = new Map<number, { from: number; edge: string }[]>()
  for (let node = 0; node < p.nodeCount; node++) {
    for (let e = p.firstEdge[node] as number; e < (p.firstEdge[node + 1] as number); e++) {
      const base = e * p.edgeFieldCount
      const type = edgeTypes[p.raw.edges[base + typeField] as number] as string
      if (type === 'weak' || type === 'shortcut') continue
      const to = (p.raw.edges[base + toField] as number) / p.nodeFieldCount
      const nameOrIndex = p.raw.edges[base + nameField] as number
      const edge = type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : (p.raw.strings[nameOrIndex] ?? '?')
      let list = out.get(to)
      if (list === undefined) out.set(to, (list = []))
      list.push({ from: node, edge })
    }
  }
  return out
}

/** One retainer path from `node` up to a root-ish node, preferring retainers not yet on the path. */
function path(p: Parsed, reverse: Map<number, { from: number; edge: string }[]>, node: number, depth = 14): string {
  const steps: string[] = [label(p, node)]
  const seen = new Set([node])
  let at = node
  for (let d = 0; d < depth; d++) {
    const next = (reverse.get(at) ?? []).find((r) => !seen.has(r.from))
    if (next === undefined) break
    steps.push(`  <-${next.edge}- ${label(p, next.from)}`)
    seen.add(next.from)
    at = next.from
  }
  return steps.join('\n')
}

const args = process.argv.slice(2)
const files = args.filter((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'))
const top = Number(args[args.indexOf('--top') + 1] ?? 30) || 30
const retainerName = args.includes('--retainers') ? args[args.indexOf('--retainers') + 1] : undefined
if (files.length !== 2) {
  process.stderr.write('usage: lab/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top N] [--retainers NAME]\n')
  process.exit(2)
}
const before = parse(files[0] as string)
const a = byLabel(before)
const after = parse(files[1] as string)
const b = byLabel(after)
const total = (m: Map<string, Totals>) => [...m.values()].reduce((s, t) => ({ count: s.count + t.count, size: s.size + t.size }), { count: 0, size: 0 })
const ta = total(a)
const tb = total(b)
const MiB = 1024 * 1024
console.log(`nodes ${ta.count} -> ${tb.count}, self size ${(ta.size / MiB).toFixed(1)} -> ${(tb.size / MiB).toFixed(1)} MiB`)
const rows = [...new Set([...a.keys(), ...b.keys()])].map((key) => {
  const x = a.get(key) ?? { count: 0, size: 0 }
  const y = b.get(key) ?? { count: 0, size: 0 }
  return { key, count: y.count - x.count, kib: (y.size - x.size) / 1024, countAfter: y.count, kibAfter: y.size / 1024 }
})
console.log('\nlargest growth by self size:')
console.table(rows.sort((r, s) => s.kib - r.kib).slice(0, top).map((r) => ({ ...r, kib: r.kib.toFixed(0), kibAfter: r.kibAfter.toFixed(0) })))
console.log('\nlargest growth by count:')
console.table(rows.sort((r, s) => s.count - r.count).slice(0, top).map((r) => ({ ...r, kib: r.kib.toFixed(0), kibAfter: r.kibAfter.toFixed(0) })))

if (retainerName !== undefined) {
  const reverse = retainers(after)
  const fresh: number[] = []
  for (let i = 0; i < after.nodeCount && fresh.length < 4000; i++) {
    if (label(after, i) === retainerName && !before.ids.has(field(after, i, 'id'))) fresh.push(i)
  }
  console.log(`\n${fresh.length} ${retainerName} only in the later snapshot; retainer paths of a few:`)
  for (const node of [fresh[0], fresh[Math.floor(fresh.length / 2)], fresh[fresh.length - 1]]) {
    if (node !== undefined) console.log(`\n${path(after, reverse, node)}`)
  }
}

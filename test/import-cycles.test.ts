import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// No module of the package may import itself back, even type-only: a cycle ties the files' load order
// together and lets a refactor turn it into a runtime one. Relative imports and re-exports, static and
// dynamic, `import type` included, across core/, server/ and client/.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DIRS = ['core', 'server', 'client']

const IMPORT = /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/** Each file (relative to the package root) with the package files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of DIRS.flatMap((dir) => sources(join(ROOT, dir)))) {
    // Drop comments first: doc examples contain imports (`import { createServer } from 'meridian/server'`).
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
    const targets = new Set<string>()
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? ''
      if (!specifier.startsWith('.')) continue
      targets.add(relative(ROOT, resolve(dirname(file), specifier)).replace(/\.js$/, '.ts'))
    }
    graph.set(relative(ROOT, file), [...targets].filter((target) => DIRS.some((dir) => target.startsWith(`${dir}/`))))
  }
  return graph
}

/** The strongly connected components with a cycle (Tarjan), each as one cycle through its first file. */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (file: string): void => {
    index.set(file, index.size)
    low.set(file, index.get(file) as number)
    stack.push(file)
    onStack.add(file)
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number))
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file) as number, index.get(next) as number))
      }
    }
    if (low.get(file) !== index.get(file)) return
    const component = new Set<string>()
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      onStack.delete(top)
      component.add(top)
      if (top === file) break
    }
    if (component.size > 1 || (graph.get(file) ?? []).includes(file)) found.push(pathWithin(graph, component, file))
  }
  for (const file of graph.keys()) if (!index.has(file)) visit(file)
  return found
}

/** A shortest cycle from `start` back to itself inside `component` (breadth-first). */
function pathWithin(graph: Map<string, string[]>, component: Set<string>, start: string): string[] {
  const previous = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i] as string
    for (const next of graph.get(file) ?? []) {
      if (!component.has(next)) continue
      if (next === start) {
        const path = [file]
        while (path[0] !== start) path.unshift(previous.get(path[0] as string) as string)
        return [...path, start]
      }
      if (!previous.has(next)) {
        previous.set(next, file)
        queue.push(next)
      }
    }
  }
  return [start]
}

describe('import graph', () => {
  it('reads the imports of every source file', () => {
    const graph = importGraph()
    expect(graph.size).toBeGreaterThan(50)
    // Multi-line, type-only and dynamic imports are all seen.
    expect(graph.get('server/strict/strict-host.ts')).toContain('server/strict/strict-requests.ts')
    expect(graph.get('server/storage-factory.ts')).toContain('server/storage/file-adapter.ts')
  })

  it('has no cycle in core/, server/ or client/', () => {
    expect(cycles(importGraph()).map((cycle) => cycle.join(' -> '))).toEqual([])
  })

  it('finds a cycle when there is one', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['d.ts']],
      ['e.ts', ['a.ts']],
    ])
    expect(cycles(graph)).toEqual([
      ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
      ['d.ts', 'd.ts'],
    ])
  })
})

export type Topology = 'mesh' | 'star' | 'chain'
export const TOPOLOGIES: readonly Topology[] = ['mesh', 'star', 'chain']

/** Server-to-server links of a topology over servers `s0 … s(n-1)`: full mesh, star around s0, or a line. */
export function serverEdges(topology: Topology, servers: readonly string[]): [string, string][] {
  const edges: [string, string][] = []
  servers.forEach((a, i) => {
    servers.forEach((b, j) => {
      if (j <= i) return
      const linked = topology === 'mesh' || (topology === 'star' && i === 0) || (topology === 'chain' && j === i + 1)
      if (linked) edges.push([a, b])
    })
  })
  return edges
}

export function edgeKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}

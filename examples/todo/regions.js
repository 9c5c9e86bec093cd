// The regions this page can talk to, and which of them it uses.

const toWs = (httpUrl) => `${httpUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}/sync`

/** This server and its peers from /status; else ports 4101–4103 on this host (the `npm start` cluster). */
export async function loadRegions() {
  try {
    const res = await fetch('/status', { cache: 'no-store' })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const s = await res.json()
    const self = { nodeId: s.nodeId, region: s.region, wsUrl: toWs(location.origin), self: true }
    const peers = (s.peers ?? []).map((p) => ({ nodeId: p.nodeId, region: p.region, wsUrl: toWs(p.httpUrl), self: false }))
    return [self, ...peers.sort((a, b) => a.nodeId.localeCompare(b.nodeId))]
  } catch {
    const proto = location.protocol === 'https:' ? 'https:' : 'http:'
    return [4101, 4102, 4103].map((port) => ({
      nodeId: `${location.hostname}:${port}`,
      region: '',
      wsUrl: toWs(`${proto}//${location.hostname}:${port}`),
      self: location.port === String(port),
    }))
  }
}

/**
 * `?region=<nodeId>` picks the region (default: the server that served the page); `?failover=off` keeps
 * the page on that region alone, so that stopping it takes the page offline (the outbox demo).
 */
export function chooseRegion(regions, params = new URLSearchParams(location.search)) {
  const wanted = params.get('region')
  const chosen = regions.find((r) => r.nodeId === wanted) ?? regions.find((r) => r.self) ?? regions[0]
  const failover = params.get('failover') !== 'off'
  const urls = [chosen.wsUrl, ...(failover ? regions.filter((r) => r !== chosen).map((r) => r.wsUrl) : [])]
  return { chosen, failover, urls }
}

/** Fills the region <select>; changing it reloads the page with the new `?region=`. */
export function regionPicker(select, regions, chosen) {
  for (const r of regions) {
    const label = `${r.nodeId}${r.region && !r.nodeId.startsWith(r.region) ? ` (${r.region})` : ''}${r.self ? ' · this server' : ''}`
    const option = new Option(label, r.nodeId)
    option.selected = r === chosen
    select.append(option)
  }
  select.addEventListener('change', () => {
    const params = new URLSearchParams(location.search)
    params.set('region', select.value)
    location.search = params.toString()
  })
}

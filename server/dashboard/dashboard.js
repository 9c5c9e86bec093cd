// Meridian dashboard: polls /status of the server that served this page, then /status of every peer it
// names (through their httpUrl; /status allows any origin), and redraws region cards, the strict-mode
// panel (roles, epochs, replica lag, recent events), the links between regions and the version vectors
// once a second. A region that does not answer is shown down, and is polled again on every round.
// Plain browser JavaScript, no build step, no dependencies.
//
// The strict panel is built by pure functions (strictPanel → a tree of { tag, attrs, children }) so that
// tests can import this module in Node and render it to HTML with toHtml; polling only starts in a page.

const POLL_MS = 1000
const TIMEOUT_MS = 1500
const SVG_NS = 'http://www.w3.org/2000/svg'

/** nodeId -> { nodeId, region, httpUrl, self, status, error, okAt } (status is the last one received). */
const nodes = new Map()
let selfId = null
let selfError = null

// ---------------------------------------------------------------- polling

async function fetchStatus(httpUrl) {
  const ctrl = new AbortController()
  const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS)
  try {
    const res = await fetch(`${httpUrl.replace(/\/+$/, '')}/status`, { signal: ctrl.signal, cache: 'no-store' })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    return await res.json()
  } catch (err) {
    throw new Error(err?.name === 'AbortError' ? 'timed out' : (err?.message ?? String(err)))
  } finally {
    clearTimeout(timer)
  }
}

function record(httpUrl, status, self) {
  const entry = nodes.get(status.nodeId) ?? { nodeId: status.nodeId }
  Object.assign(entry, { region: status.region, httpUrl, status, error: null, okAt: Date.now() })
  entry.self = self || entry.self === true
  nodes.set(status.nodeId, entry)
  // Learn the peers this node names, so that every region is polled even if this server goes down.
  for (const peer of status.peers ?? []) {
    const known = nodes.get(peer.nodeId)
    if (!known) {
      nodes.set(peer.nodeId, { nodeId: peer.nodeId, region: peer.region, httpUrl: peer.httpUrl, self: false, status: null, error: null, okAt: null })
    } else if (!known.self && peer.httpUrl) {
      known.httpUrl = peer.httpUrl
    }
  }
}

function markDown(nodeId, err) {
  const entry = nodes.get(nodeId)
  if (entry) entry.error = err.message
}

async function poll() {
  const started = Date.now()
  try {
    const status = await fetchStatus(location.origin)
    selfId = status.nodeId
    selfError = null
    record(location.origin, status, true)
  } catch (err) {
    selfError = err.message
    if (selfId) markDown(selfId, err)
  }
  const others = [...nodes.values()].filter((n) => !n.self && n.httpUrl)
  await Promise.allSettled(
    others.map(async (n) => {
      try {
        record(n.httpUrl, await fetchStatus(n.httpUrl), false)
      } catch (err) {
        markDown(n.nodeId, err)
      }
    }),
  )
  try {
    render()
  } catch (err) {
    console.error('dashboard: render failed', err)
  }
  setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)))
}

// ---------------------------------------------------------------- helpers

/** Creates an element; `tag` "svg:line" makes an SVG element. Children are nodes or text (never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:') ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v))
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

const isUp = (n) => n.status !== null && n.status !== undefined && n.error === null
const sorted = () => [...nodes.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId))
const dash = (v) => (v === null || v === undefined ? '—' : v)

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return fmtUptime(ms)
}

function fmtUptime(ms) {
  const s = Math.floor(ms / 1000)
  const pad = (n) => String(n).padStart(2, '0')
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86400)}d ${pad(Math.floor(s / 3600) % 24)}h`
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '—'
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

const fmtVector = (v) =>
  Object.entries(v ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}:${n}`)
    .join('  ') || 'empty'

/** A node's own report of its link to `other`, if it is up and lists it. */
const view = (from, to) => (isUp(from) ? from.status.peers?.find((p) => p.nodeId === to.nodeId) : undefined)

function linkState(a, b) {
  if (!isUp(a) || !isUp(b)) return 'down'
  const sa = view(a, b)?.state
  const sb = view(b, a)?.state
  if (sa === 'connected' && sb === 'connected') return 'connected'
  if (sa === 'down' || sb === 'down') return 'down'
  return 'connecting'
}

// ---------------------------------------------------------------- rendering

function render() {
  const all = sorted()
  const up = all.filter(isUp).length
  const where = selfId ?? location.host
  const summary = all.length === 0 ? `cannot reach ${where}: ${selfError}` : `${up}/${all.length} regions up · polled from ${where}`
  document.getElementById('summary').textContent = selfError && all.length > 0 ? `${summary} (this server: ${selfError})` : summary
  document.title = `${all.length ? `${up}/${all.length} up · ` : ''}Meridian dashboard`
  renderCards(all)
  const panel = strictPanel(all)
  document.getElementById('strict')?.replaceChildren(...(panel ? [toDom(panel)] : []))
  renderGraph(all)
  renderLinks(all)
  renderVectors(all)
  const digests = digestPanel(all)
  document.getElementById('digests')?.replaceChildren(...(digests ? [toDom(digests)] : []))
}

function renderCards(all) {
  const cards = all.map((n) => {
    const s = n.status
    const strictRole = isUp(n) && s.strict ? s.role : null
    const head = h('h3', {}, n.nodeId, h('span', { class: 'tag' }, n.region ?? '?'), h('span', { class: `pill ${isUp(n) ? 'up' : 'down'}` }, isUp(n) ? 'up' : 'down'),
      strictRole ? h('span', { class: `pill ${strictRole}` }, strictRole) : null, n.self ? h('span', { class: 'you' }, 'this server') : null)
    if (!isUp(n)) {
      return h('div', { class: 'card down' }, head,
        h('dl', {}, h('dt', {}, 'address'), h('dd', {}, dash(n.httpUrl)), h('dt', {}, 'last seen'), h('dd', {}, n.okAt ? `${fmtUptime(Date.now() - n.okAt)} ago` : 'never')),
        h('div', { class: 'err' }, `unreachable: ${n.error ?? 'no answer yet'}`))
    }
    const rows = [
      ['role', s.role], ['pid', s.pid], ['uptime', fmtUptime(s.uptimeMs ?? 0)], ['documents', s.documents], ['changes in log', s.changes], ['clients', s.clients],
      ['storage', s.storage ? `${s.storage.kind}${s.storage.logRecords !== undefined ? `, ${s.storage.logRecords} records` : ''}` : null],
      ['snapshots', s.storage?.snapshotRounds !== undefined ? `${s.storage.snapshotRounds} rounds, ${s.storage.compactedChanges} changes compacted, ${s.storage.stateTransfersSent}↑ ${s.storage.stateTransfersReceived}↓ state transfers` : null],
    ]
    if (s.epoch !== null && s.epoch !== undefined) rows.push(['epoch', s.epoch], ['primary', dash(s.primary)], ['commit index', dash(s.commitIndex)])
    return h('div', { class: 'card up' }, head,
      h('dl', {}, rows.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      s.strict?.degraded ? h('div', { class: 'warn' }, '⚠ degraded: `one` writes acknowledged without a replica') : null,
      s.strict?.storageFailed ? h('div', { class: 'err' }, `storage failed: ${s.strict.storageFailed}`) : null,
      h('div', { class: 'vv', title: 'version vector' }, fmtVector(s.vector)))
  })
  document.getElementById('cards').replaceChildren(...(cards.length ? cards : [h('p', { class: 'err' }, `Cannot reach ${location.origin}/status: ${selfError ?? 'waiting'}`)]))
}

const COLORS = { connected: 'var(--ok)', connecting: 'var(--warn)', down: 'var(--bad)' }

function pairs(all) {
  const out = []
  for (let i = 0; i < all.length; i++)
    for (let j = i + 1; j < all.length; j++) {
      const [a, b] = [all[i], all[j]]
      // Draw a link only where the topology has one: either side lists the other.
      const listed = (x, y) => x.status?.peers?.some((p) => p.nodeId === y.nodeId)
      if (listed(a, b) || listed(b, a)) out.push([a, b])
    }
  return out
}

function renderGraph(all) {
  const svg = document.getElementById('graph')
  const [cx, cy, r] = [160, 128, 88]
  const pos = new Map(all.map((n, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(all.length, 1)
    return [n.nodeId, { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle) }]
  }))
  const edges = pairs(all).map(([a, b]) => {
    const [pa, pb] = [pos.get(a.nodeId), pos.get(b.nodeId)]
    const state = linkState(a, b)
    const lag = (x, y) => dash(view(x, y)?.lagEntries)
    const label = `${lag(a, b)} / ${lag(b, a)}`
    return h('svg:g', {},
      h('svg:title', {}, `${a.nodeId} ↔ ${b.nodeId}: ${state}; lag ${a.nodeId}→${b.nodeId} ${lag(a, b)}, ${b.nodeId}→${a.nodeId} ${lag(b, a)} entries`),
      h('svg:line', { x1: pa.x, y1: pa.y, x2: pb.x, y2: pb.y, style: `stroke:${COLORS[state]}`, 'stroke-width': 4, 'stroke-dasharray': state === 'connecting' ? '6 5' : null, 'stroke-linecap': 'round' }),
      h('svg:text', { x: (pa.x + pb.x) / 2, y: (pa.y + pb.y) / 2 + 4, 'text-anchor': 'middle', class: 'lag', 'paint-order': 'stroke', stroke: '#fff', 'stroke-width': 4 }, `lag ${label}`))
  })
  const circles = all.map((n) => {
    const p = pos.get(n.nodeId)
    return h('svg:g', {},
      h('svg:title', {}, `${n.nodeId} (${n.region ?? '?'}): ${isUp(n) ? 'up' : 'down'}`),
      h('svg:circle', { cx: p.x, cy: p.y, r: 27, 'stroke-width': 3, style: `fill:${isUp(n) ? 'var(--ok)' : 'var(--bad)'};stroke:${n.self ? 'var(--ink)' : '#fff'}` }),
      h('svg:text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle', fill: '#fff', style: 'fill:#fff;font-weight:600' }, n.nodeId))
  })
  svg.replaceChildren(...edges, ...circles)
}

function renderLinks(all) {
  const head = h('tr', {}, ['from → to', 'state', 'lag entries', 'lag bytes', 'lag age', 'sent', 'received', 'last heard'].map((t, i) => h('th', { class: i >= 2 ? 'num' : null }, t)))
  const rows = []
  for (const n of all) {
    if (!isUp(n)) {
      rows.push(h('tr', {}, h('td', {}, `${n.nodeId} → *`), h('td', {}, h('span', { class: 'pill down' }, 'down')), h('td', { colspan: 6, class: 'muted' }, `${n.nodeId} unreachable`)))
      continue
    }
    for (const p of n.status.peers ?? []) {
      const state = p.state ?? 'connecting'
      rows.push(h('tr', {},
        h('td', {}, `${n.nodeId} → ${p.nodeId}`),
        h('td', {}, h('span', { class: `pill ${state}` }, state)),
        h('td', { class: 'num' }, dash(p.lagEntries)),
        h('td', { class: 'num' }, fmtBytes(p.lagBytes)),
        h('td', { class: 'num' }, fmtMs(p.lagMs)),
        h('td', { class: 'num' }, dash(p.sentChanges)),
        h('td', { class: 'num' }, dash(p.receivedChanges)),
        h('td', { class: 'num' }, p.lastHeardMs === null || p.lastHeardMs === undefined ? '—' : `${fmtMs(p.lastHeardMs)} ago`)))
    }
  }
  document.getElementById('links').replaceChildren(h('thead', {}, head), h('tbody', {}, rows))
}

function renderVectors(all) {
  const upNodes = all.filter(isUp)
  const source = upNodes.find((n) => n.self) ?? upNodes[0]
  const replicated = source?.status.replicatedVector ?? {}
  const origins = new Set(Object.keys(replicated))
  for (const n of upNodes) for (const o of Object.keys(n.status.vector ?? {})) origins.add(o)
  const head = h('tr', {}, h('th', {}, 'origin'), all.map((n) => h('th', { class: 'num' }, n.nodeId)), h('th', { class: 'num' }, source ? `replicated (per ${source.nodeId})` : 'replicated'))
  const rows = [...origins].sort().map((o) => {
    const max = Math.max(0, ...upNodes.map((n) => n.status.vector?.[o] ?? 0))
    const cell = (v, known) => {
      if (!known) return h('td', { class: 'num missing' }, '—')
      return h('td', { class: `num${v < max ? ' behind' : ''}` }, v)
    }
    return h('tr', {}, h('td', {}, o), all.map((n) => cell(n.status?.vector?.[o] ?? 0, isUp(n))), cell(replicated[o] ?? 0, source !== undefined))
  })
  const body = rows.length ? rows : [h('tr', {}, h('td', { colspan: all.length + 2, class: 'muted' }, 'no changes yet'))]
  document.getElementById('vectors').replaceChildren(h('thead', {}, head), h('tbody', {}, body))
}

// ---------------------------------------------------------------- strict mode (pure: testable in Node)

/** A virtual element: `{ tag, attrs, children }`; children are virtual elements or text. */
export function v(tag, attrs = {}, ...children) {
  return { tag, attrs, children: children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'object' ? c : String(c))) }
}

/** A virtual element as DOM (through h, so text is never parsed as HTML). */
export function toDom(node) {
  return typeof node === 'string' ? node : h(node.tag, node.attrs, node.children.map(toDom))
}

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c])

/** A virtual element as HTML text (tests, and anything without a DOM). */
export function toHtml(node) {
  if (typeof node === 'string') return escapeHtml(node)
  const attrs = Object.entries(node.attrs ?? {})
    .filter(([, value]) => value !== null && value !== undefined && value !== false)
    .map(([k, value]) => ` ${k}="${escapeHtml(value)}"`)
    .join('')
  return `<${node.tag}${attrs}>${node.children.map(toHtml).join('')}</${node.tag}>`
}

const num = (value) => v('td', { class: 'num' }, value === null || value === undefined ? '—' : value)
const pill = (cls, text, title) => v('span', { class: `pill ${cls}`, title }, text)
const strictOf = (n) => n.status?.strict ?? null
const up = (n) => n.status !== null && n.status !== undefined && n.error === null

function ago(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  return `${fmtMs(Math.max(0, ms))} ago`
}

/**
 * The recent strict events of every node (the last known ones of nodes that are down), each tagged
 * with its node, newest first.
 */
export function mergeStrictEvents(entries, limit = 30) {
  const events = []
  for (const n of entries) for (const e of strictOf(n)?.events ?? []) events.push({ nodeId: n.nodeId, ...e, time: Date.parse(e.at) })
  events.sort((a, b) => (b.time || 0) - (a.time || 0) || a.nodeId.localeCompare(b.nodeId))
  return events.slice(0, limit)
}

function strictWarnings(entries) {
  const live = entries.filter((n) => up(n) && strictOf(n))
  const out = []
  for (const n of live) {
    const s = strictOf(n)
    if (s.degraded) out.push(v('div', { class: 'warn-box degraded' }, `⚠ ${n.nodeId} is degraded: semi-sync fell back to local — \`one\` writes are acknowledged without waiting for a replica until one catches up.`))
    if (s.storageFailed) out.push(v('div', { class: 'warn-box bad' }, `✖ ${n.nodeId}: storage failed (${s.storageFailed}); it takes no strict writes.`))
  }
  const primaries = live.filter((n) => n.status.role === 'primary').sort((a, b) => b.status.epoch - a.status.epoch)
  if (live.length > 0 && primaries.length === 0) {
    out.push(v('div', { class: 'warn-box' }, 'No primary among the reachable nodes: strict writes wait until an election is won.'))
  } else if (primaries.length > 1) {
    const [newest, ...stale] = primaries
    out.push(v('div', { class: 'warn-box' },
      `${primaries.length} nodes report primary: ${primaries.map((n) => `${n.nodeId} (epoch ${n.status.epoch})`).join(', ')}. ` +
      `Only ${newest.nodeId}'s epoch can commit; ${stale.map((n) => n.nodeId).join(', ')} will step down when it hears of it.`))
  }
  return out
}

function strictNodesTable(entries, now) {
  const head = v('tr', {}, ['node', 'role', 'epoch', 'primary', 'commit index', 'applied', 'durable', 'last LSN', 'pending', 'staleness', 'state'].map((t, i) => v('th', { class: i >= 2 && i !== 3 && i !== 10 ? 'num' : null }, t)))
  const rows = entries.map((n) => {
    const s = strictOf(n)
    if (!up(n)) {
      const last = s ? `; last seen${n.okAt ? ` ${ago(now - n.okAt)}` : ''} as ${s.role} in epoch ${s.epoch}, commit index ${s.commitIndex}` : ''
      return v('tr', { class: 'down', 'data-node': n.nodeId }, v('td', {}, n.nodeId), v('td', {}, pill('down', 'down')), v('td', { colspan: 9, class: 'muted' }, `unreachable: ${n.error ?? 'no answer yet'}${last}`))
    }
    if (!s) {
      return v('tr', { 'data-node': n.nodeId }, v('td', {}, n.nodeId), v('td', {}, pill('crdt', 'crdt')), v('td', { colspan: 9, class: 'muted' }, 'no strict collections'))
    }
    const flags = [
      s.degraded ? pill('degraded', 'degraded', 'semi-sync fell back to local') : null,
      s.storageFailed ? pill('bad', 'storage failed', s.storageFailed) : null,
    ].filter(Boolean)
    // Staleness [RD3]: how old the state this node serves may be (time since it was last caught up).
    const stale = s.stalenessMs ?? s.sincePrimaryContactMs
    const contact = s.role === 'primary' ? '—' : ago(stale)
    return v('tr', { 'data-node': n.nodeId, class: s.degraded ? 'degraded' : null },
      v('td', {}, n.nodeId),
      v('td', {}, pill(s.role, s.role)),
      num(s.epoch),
      v('td', {}, s.primary ?? '—'),
      num(s.commitIndex),
      num(s.appliedLsn),
      num(s.durableLsn),
      v('td', { class: 'num', title: `epoch of the last entry: ${s.lastEpoch}` }, s.lastLsn),
      num(s.pendingWrites),
      v('td', { class: 'num' }, contact),
      v('td', {}, flags.length ? flags : v('span', { class: 'muted' }, 'ok')))
  })
  return v('div', { class: 'panel' }, v('table', { class: 'strict-nodes' }, v('thead', {}, head), v('tbody', {}, rows)))
}

function replicaTable(primary) {
  const s = strictOf(primary)
  const head = v('tr', {}, ['replica', 'link', 'sync role', 'sent', 'received', 'durable', 'applied', 'lag entries', 'lag bytes', 'lag age', 'last reply'].map((t, i) => v('th', { class: i >= 3 ? 'num' : null }, t)))
  const rows = (s.replicas ?? []).map((r) => v('tr', { 'data-replica': r.nodeId },
    // Cascading: a replica streamed by a relay says so; its lag is still end to end (the relay's panel row has the hop's).
    v('td', {}, r.via ? [r.nodeId, v('span', { class: 'muted', title: 'cascading: streams the log from this relay' }, ` via ${r.via}`)] : r.nodeId),
    v('td', {}, pill(r.link, r.link)),
    v('td', {}, v('span', { class: `tag ${r.syncRole}`, title: r.syncRole === 'sync' ? 'semi-sync (`one`) writes wait for this replica' : 'counted for `majority` and `all`' }, r.syncRole)),
    num(r.sentLsn),
    num(r.receivedLsn),
    num(r.durableLsn),
    num(r.appliedLsn),
    v('td', { class: `num${r.lag?.entries > 0 ? ' behind' : ''}` }, r.lag?.entries ?? '—'),
    num(fmtBytes(r.lag?.bytes)),
    v('td', { class: 'num' }, r.lag?.ms === null || r.lag?.ms === undefined ? 'idle' : fmtMs(r.lag.ms)),
    v('td', { class: 'num' }, r.lastReplyMs === null || r.lastReplyMs === undefined ? 'never' : ago(r.lastReplyMs))))
  const body = rows.length ? rows : [v('tr', {}, v('td', { colspan: 11, class: 'muted' }, 'no replicas configured'))]
  return [
    v('h3', { class: 'strict-sub' }, `Replicas of ${primary.nodeId} (primary, epoch ${s.epoch}, last LSN ${s.lastLsn})`),
    v('div', { class: 'panel' }, v('table', { class: 'strict-replicas', 'data-primary': primary.nodeId }, v('thead', {}, head), v('tbody', {}, body))),
  ]
}

function eventsTable(entries, now) {
  const events = mergeStrictEvents(entries)
  const head = v('tr', {}, ['when', 'node', 'kind', 'event'].map((t) => v('th', {}, t)))
  const rows = events.map((e) => v('tr', { class: `event ${e.kind}` },
    v('td', { class: 'num', title: e.at }, Number.isFinite(e.time) ? ago(now - e.time) : e.at),
    v('td', {}, e.nodeId),
    v('td', {}, pill(e.kind, e.kind)),
    v('td', { class: 'wrap' }, e.message)))
  const body = rows.length ? rows : [v('tr', {}, v('td', { colspan: 4, class: 'muted' }, 'no events yet'))]
  return v('div', { class: 'panel' }, v('table', { class: 'strict-events' }, v('thead', {}, head), v('tbody', {}, body)))
}

/**
 * The strict-mode panel for the polled nodes (`{ nodeId, status, error, okAt }`, status being the
 * last `GET /status` received), or null when no node has reported strict collections.
 */
export function strictPanel(entries, now = Date.now()) {
  const all = [...entries].sort((a, b) => a.nodeId.localeCompare(b.nodeId))
  if (!all.some((n) => strictOf(n))) return null
  const primaries = all.filter((n) => up(n) && strictOf(n)?.role === 'primary').sort((a, b) => strictOf(b).epoch - strictOf(a).epoch)
  return v('section', { class: 'strict' },
    v('h2', {}, 'Strict mode'),
    strictWarnings(all),
    strictNodesTable(all, now),
    primaries.length ? primaries.map(replicaTable) : v('p', { class: 'muted' }, 'No reachable primary: replica lag is reported by the primary.'),
    v('h3', { class: 'strict-sub' }, 'Recent events (all nodes, newest first)'),
    eventsTable(all, now))
}

// ---------------------------------------------------------------- divergence digests (pure: testable in Node)

/** A vector as text with its origins sorted, so equal vectors compare equal whatever their key order. */
const vectorKey = (vector) => JSON.stringify(Object.entries(vector ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

/**
 * Compares one collection's digests across the regions that answered (docs/crdt.md "Divergence digest"):
 * regions that report the same vector claim the same changes, so their digests must be equal.
 * `diverged` when some regions with equal vectors report different digests (`suspects`: the regions whose
 * digest is not the most common one of their vector), `converged` when every answering region reports
 * the same vector and digest, `catching up` when the vectors differ; `unknown` with fewer than two regions.
 */
export function digestVerdict(entries, collection) {
  const reports = entries.filter((n) => up(n) && n.status.collections?.[collection]).map((n) => ({ nodeId: n.nodeId, ...n.status.collections[collection] }))
  if (reports.length < 2) return { state: 'unknown', suspects: [] }
  const groups = new Map()
  for (const r of reports) {
    const key = vectorKey(r.vector)
    if (!groups.has(key)) groups.set(key, [])
    groups.get(key).push(r)
  }
  const suspects = []
  for (const group of groups.values()) {
    const counts = new Map()
    for (const r of group) counts.set(r.digest, (counts.get(r.digest) ?? 0) + 1)
    if (counts.size < 2) continue
    const common = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0]
    // With a tie nobody is the majority: every region of the group is named.
    const tie = [...counts.values()].filter((c) => c === counts.get(common)).length > 1
    for (const r of group) if (tie || r.digest !== common) suspects.push(r.nodeId)
  }
  if (suspects.length > 0) return { state: 'diverged', suspects: suspects.sort() }
  return { state: groups.size === 1 ? 'converged' : 'catching up', suspects: [] }
}

const VERDICT_TEXT = { converged: 'converged', 'catching up': 'catching up', diverged: 'DIVERGED', unknown: '—' }
const VERDICT_CLASS = { converged: 'up', 'catching up': 'catch-up', diverged: 'bad', unknown: 'replica' }

/**
 * Per crdt collection, each region's digest and document count, and the verdict (`digestVerdict`); null
 * when no region reports collections.
 */
export function digestPanel(entries) {
  const all = [...entries].sort((a, b) => a.nodeId.localeCompare(b.nodeId))
  const names = new Set()
  for (const n of all) if (up(n)) for (const name of Object.keys(n.status.collections ?? {})) names.add(name)
  if (names.size === 0) return null
  const head = v('tr', {}, v('th', {}, 'collection'), all.map((n) => v('th', {}, n.nodeId)), v('th', {}, 'state'))
  const rows = [...names].sort().map((name) => {
    const verdict = digestVerdict(all, name)
    const cells = all.map((n) => {
      const c = up(n) ? n.status.collections?.[name] : undefined
      if (!c) return v('td', { class: 'missing' }, '—')
      const suspect = verdict.suspects.includes(n.nodeId)
      return v('td', { class: suspect ? 'diverged' : null, title: `digest ${c.digest} at ${fmtVector(c.vector)}` }, v('code', {}, c.digest.slice(0, 8)), ` · ${c.documents} docs`)
    })
    const marker = pill(VERDICT_CLASS[verdict.state], VERDICT_TEXT[verdict.state], verdict.state === 'diverged' ? `equal vectors, different digests: ${verdict.suspects.join(', ')}` : null)
    return v('tr', { class: verdict.state === 'diverged' ? 'down' : null }, v('td', {}, name, v('span', { class: 'tag' }, n0type(all, name))), cells, v('td', {}, marker))
  })
  return v('section', { class: 'digests' },
    v('h2', {}, 'Collection digests'),
    v('table', {}, v('thead', {}, head), v('tbody', {}, rows)),
    v('p', { class: 'muted' },
      'A digest of each crdt collection\'s state (docs/crdt.md, "Divergence digest"). Regions reporting the same version vector hold the same changes, so their digests must match; ',
      'DIVERGED means they do not. Different vectors: still catching up.'))
}

const n0type = (all, name) => all.find((n) => up(n) && n.status.collections?.[name])?.status.collections[name].type ?? '?'

if (typeof document !== 'undefined' && typeof location !== 'undefined') poll()

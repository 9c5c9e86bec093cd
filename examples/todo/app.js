// Meridian example: a todo list in the `notes` collection (crdt, lww), served at /app/ by every regional
// server. Plain browser JavaScript; the client comes from the server's ES module bundle.
//
// Client API used (client/client.ts): createClient({ urls }); client.status ('connecting' | 'connected' |
// 'offline'), client.server, client.onStatus(cb), client.onError(cb); client.lww(name) -> { put, patch,
// delete, get, ids, subscribeAll((id, doc | null) => …) }; every write returns a handle whose `local`,
// `durable` and `replicated` promises resolve as it reaches each level.

const $ = (sel) => document.querySelector(sel)

// ---------------------------------------------------------------- regions

/** The regions this page can talk to: this server and its peers from /status, else ports 4101–4103. */
async function loadRegions() {
  const toWs = (httpUrl) => `${httpUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}/sync`
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

function showFatal(message) {
  const el = $('#fatal')
  el.textContent = message
  el.hidden = false
  setStatus('offline')
}

// ---------------------------------------------------------------- status and ack badges

function setStatus(status, server) {
  const el = $('#status')
  el.textContent = status === 'connected' && server ? `connected · ${server.nodeId}` : status
  el.className = `badge ${status}`
  el.title = server ? `connected to ${server.nodeId} (region ${server.region})` : 'connection to the region'
}

const ACK_TEXT = { pending: 'sending', local: 'local', durable: 'durable', replicated: 'replicated', error: 'failed' }
const ACK_TITLE = {
  pending: 'not applied yet',
  local: 'applied in this tab; not yet stored by the region',
  durable: 'stored durably by the region this tab is connected to',
  replicated: 'durable in every region',
}

// ---------------------------------------------------------------- state

const todos = new Map() // id -> { title, done, createdAt }
const acks = new Map() // id -> { n, stage, error? }: how far the item's last write got
const rows = new Map() // id -> <li>
let notes

function apply(id, doc) {
  if (doc === null || doc === undefined) todos.delete(id)
  else todos.set(id, doc)
}

/** Runs a write and follows its acknowledgements: pending -> local -> durable -> replicated (last write only). */
function track(id, start) {
  const n = (acks.get(id)?.n ?? 0) + 1
  acks.set(id, { n, stage: 'pending' })
  const set = (stage, error) => {
    if (acks.get(id)?.n !== n) return
    acks.set(id, { n, stage, error })
    render()
  }
  let write
  try {
    write = start()
  } catch (err) {
    return set('error', err?.message ?? String(err))
  }
  const reach = (promise, stage) => Promise.resolve(promise).then(() => set(stage))
  reach(write?.local, 'local')
    .then(() => reach(write?.durable, 'durable'))
    .then(() => reach(write?.replicated, 'replicated'))
    .catch((err) => set('error', err?.message ?? String(err)))
  render()
}

const newId = () =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

// ---------------------------------------------------------------- rendering

function createRow(id) {
  const li = document.createElement('li')
  li.innerHTML =
    '<input type="checkbox" class="toggle" aria-label="done"><span class="title"></span>' +
    '<input class="edit" aria-label="rename" maxlength="500"><span class="badge ack"></span>' +
    '<button class="remove" title="delete" aria-label="delete">×</button>'
  const [toggle, title, edit, remove] = ['.toggle', '.title', '.edit', '.remove'].map((s) => li.querySelector(s))
  toggle.addEventListener('change', () => track(id, () => notes.patch(id, { done: toggle.checked })))
  remove.addEventListener('click', () => track(id, () => notes.delete(id)))
  title.addEventListener('dblclick', () => {
    li.classList.add('editing')
    edit.value = todos.get(id)?.title ?? ''
    edit.focus()
    edit.select()
  })
  const finish = (save) => {
    if (!li.classList.contains('editing')) return
    li.classList.remove('editing')
    const value = edit.value.trim()
    if (save && value && value !== todos.get(id)?.title) track(id, () => notes.patch(id, { title: value }))
    else render()
  }
  edit.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') finish(true)
    if (e.key === 'Escape') finish(false)
  })
  edit.addEventListener('blur', () => finish(true))
  return li
}

function updateRow(li, id) {
  const doc = todos.get(id)
  const ack = acks.get(id)
  li.classList.toggle('done', doc.done === true)
  li.querySelector('.toggle').checked = doc.done === true
  li.querySelector('.title').textContent = typeof doc.title === 'string' ? doc.title : '(untitled)'
  const badge = li.querySelector('.badge')
  badge.hidden = !ack
  if (ack) {
    badge.className = `badge ack ${ack.stage}`
    badge.textContent = ACK_TEXT[ack.stage]
    badge.title = ack.stage === 'error' ? `write failed: ${ack.error}` : ACK_TITLE[ack.stage]
  }
}

function render() {
  const ids = [...todos.keys()].sort(
    (a, b) => (todos.get(a).createdAt ?? 0) - (todos.get(b).createdAt ?? 0) || a.localeCompare(b),
  )
  const list = $('#list')
  // Update rows in place and move only those out of order, so an open rename field keeps its focus.
  ids.forEach((id, i) => {
    let li = rows.get(id)
    if (!li) rows.set(id, (li = createRow(id)))
    updateRow(li, id)
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null)
  })
  for (const [id, li] of rows) {
    if (!todos.has(id)) {
      rows.delete(id)
      li.remove()
    }
  }
  const done = ids.filter((id) => todos.get(id).done === true).length
  $('#empty').hidden = ids.length > 0
  $('#count').textContent = ids.length ? `${ids.length} item${ids.length === 1 ? '' : 's'}, ${done} done` : ''
}

// ---------------------------------------------------------------- start

async function main() {
  const regions = await loadRegions()
  const wanted = new URLSearchParams(location.search).get('region')
  const chosen = regions.find((r) => r.nodeId === wanted) ?? regions.find((r) => r.self) ?? regions[0]

  const select = $('#region')
  for (const r of regions) {
    const option = new Option(`${r.nodeId}${r.region && !r.nodeId.startsWith(r.region) ? ` (${r.region})` : ''}${r.self ? ' · this server' : ''}`, r.nodeId)
    option.selected = r === chosen
    select.append(option)
  }
  // Switching region starts a fresh client: reload with ?region=.
  select.addEventListener('change', () => {
    const params = new URLSearchParams(location.search)
    params.set('region', select.value)
    location.search = params.toString()
  })

  let createClient
  try {
    ;({ createClient } = await import('/bundle/meridian-client.js'))
  } catch (err) {
    return showFatal(`Could not load the client bundle /bundle/meridian-client.js (${err.message}). Run \`npm run build\`.`)
  }
  if (typeof createClient !== 'function') {
    return showFatal('The client bundle does not export createClient yet: rebuild with `npm run build`.')
  }

  // The chosen region first; the others are failover targets if it goes down.
  const urls = [chosen.wsUrl, ...regions.filter((r) => r !== chosen).map((r) => r.wsUrl)]
  const client = createClient({ urls })
  const showStatus = () => setStatus(client.status, client.status === 'connected' ? client.server : null)
  showStatus()
  client.onStatus(showStatus)
  client.onError((err) => {
    if (err.fatal) showFatal(`Disconnected for good: ${err.message}`)
  })

  notes = client.lww('notes')
  notes.subscribeAll((id, doc) => {
    apply(id, doc)
    render()
  })
  for (const id of notes.ids()) apply(id, notes.get(id))

  $('#add').addEventListener('submit', (e) => {
    e.preventDefault()
    const input = $('#new-title')
    const title = input.value.trim()
    if (!title) return
    input.value = ''
    const id = newId()
    track(id, () => notes.put(id, { title, done: false, createdAt: Date.now() }))
  })
  render()
}

main().catch((err) => {
  console.error(err)
  showFatal(`The app failed to start: ${err?.message ?? err}`)
})

// Meridian example app, served at /app/ by every regional server: a todo list in a crdt collection and a
// bank in a strict one, kept in IndexedDB so that it works offline and across reloads. Plain browser
// JavaScript; the client comes from the server's ES module bundles (/bundle/).
//
// Client API used (docs/client.md): openTabClient({ name, urls, use: [strictSupport] }) from
// meridian-tabs.js (every tab of the app shares one IndexedDB store and one connection; tabRole says
// which tab holds them); client.syncState / onSyncState; client.lww(name) with writeStatus,
// onWriteStatus, conflicts; client.strict(name) with batch, pending, onOutcome, subscribe.

import { bank } from './bank.js'
import { chooseRegion, loadRegions, regionPicker } from './regions.js'
import { showSyncState } from './status.js'
import { todoList } from './todos.js'

const $ = (sel) => document.querySelector(sel)

function showFatal(message) {
  const el = $('#fatal')
  el.textContent = message
  el.hidden = false
}

async function loadBundles() {
  try {
    const [tabs, strict] = await Promise.all([import('/bundle/meridian-tabs.js'), import('/bundle/meridian-strict.js')])
    return { openTabClient: tabs.openTabClient, strictSupport: strict.strictSupport }
  } catch (err) {
    throw new Error(`could not load the client bundles from /bundle/ (${err.message}); run \`npm run build\``)
  }
}

/**
 * The client: one IndexedDB database per region choice (`meridian-app-<nodeId>`), shared by every tab of
 * the app with that choice; one of them holds it and the connection, the others follow. Without
 * IndexedDB, a client in memory (from meridian-client.js) and a note saying so.
 */
async function openClient(openTabClient, options) {
  try {
    return { client: await openTabClient(options), note: '' }
  } catch (err) {
    const { createClient } = await import('/bundle/meridian-client.js')
    const { name: _name, ...memoryOptions } = options
    return { client: createClient(memoryOptions), note: `IndexedDB unavailable (${err?.code ?? err?.message ?? err}): data is kept in memory only.` }
  }
}

function showTabRole(client, el, store) {
  const show = () => {
    el.textContent = !client.tabRole
      ? 'memory'
      : `IndexedDB · ${store} · ${client.tabRole === 'leader' ? 'this tab holds the connection' : 'follows the tab that holds the connection'}`
  }
  show()
  client.onTabRole?.(show)
}

async function main() {
  const regions = await loadRegions()
  performance.mark('meridian:regions')
  const { chosen, failover, urls } = chooseRegion(regions)
  regionPicker($('#region'), regions, chosen)
  $('#failover').textContent = failover ? 'fails over to the other regions' : 'this region only (failover=off)'

  const { openTabClient, strictSupport } = await loadBundles()
  performance.mark('meridian:bundles')
  const started = performance.now()
  const storeName = `meridian-app-${chosen.nodeId}`
  const { client, note } = await openClient(openTabClient, { name: storeName, urls, use: [strictSupport] })
  performance.mark('meridian:store')
  showTabRole(client, $('#storage'), storeName)
  if (note) showFatal(note)
  const clientReady = performance.now()
  let filledAt = null
  window.meridianClient = client // for the console and the browser tests
  showSyncState(client, $('#status'), $('#unsynced'))
  client.onError((err) => {
    if (err.fatal) showFatal(`Disconnected for good: ${err.message}`)
  })

  todoList(client.lww('notes'), {
    list: $('#list'),
    empty: $('#empty'),
    count: $('#count'),
    form: $('#add'),
    input: $('#new-title'),
    conflictsBox: $('#conflicts'),
    // Every row in the list (a long one fills in chunks after its first screen).
    onFilled: () => {
      filledAt ??= performance.now()
      if (window.meridianFirstRender) window.meridianFirstRender.filled = filledAt
    },
  })
  bank(client.strict('accounts'), {
    balances: $('#balances'),
    form: $('#transfer'),
    from: $('#from'),
    to: $('#to'),
    amount: $('#amount'),
    open: $('#open-accounts'),
    transfers: $('#transfers'),
    message: $('#bank-message'),
  })
  // Page load → the restored documents on screen (the browser tests read it; docs/client.md, cold start):
  // taken in a task after the next frame, so that style, layout and paint of the rows are counted.
  requestAnimationFrame(() => setTimeout(() => {
    const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null
    window.meridianFirstRender = {
      regions: at('meridian:regions'),
      bundles: at('meridian:bundles'),
      store: at('meridian:store'),
      ready: clientReady,
      rendered: performance.now(),
      rows: $('#list').children.length,
      listed: Number.parseInt($('#count').textContent, 10) || 0,
      filled: filledAt,
    }
    document.body.dataset.ready = String(Math.round(performance.now() - started))
  }, 0))
}

main().catch((err) => {
  console.error(err)
  showFatal(`The app failed to start: ${err?.message ?? err}`)
})

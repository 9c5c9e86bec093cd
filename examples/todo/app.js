// Meridian example app, served at /app/ by every regional server: a todo list in a crdt collection and a
// bank in a strict one, kept in IndexedDB so that it works offline and across reloads. Plain browser
// JavaScript; the client comes from the server's ES module bundles (/bundle/).
//
// Client API used (docs/client.md): openIdbClientStore(name) from meridian-idb.js; createClient({ urls,
// store, use: [strictSupport] }); client.syncState / onSyncState; client.lww(name) with writeStatus,
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
    const [client, strict, idb] = await Promise.all([
      import('/bundle/meridian-client.js'),
      import('/bundle/meridian-strict.js'),
      import('/bundle/meridian-idb.js'),
    ])
    return { createClient: client.createClient, strictSupport: strict.strictSupport, openIdbClientStore: idb.openIdbClientStore }
  } catch (err) {
    throw new Error(`could not load the client bundles from /bundle/ (${err.message}); run \`npm run build\``)
  }
}

/**
 * The store: IndexedDB, one database per region choice (`meridian-app-<nodeId>`). It holds a Web Lock
 * while open; a second tab on the same database runs in memory and says so (tabs sharing one store and
 * one connection are not built yet).
 */
async function openStore(openIdbClientStore, nodeId) {
  try {
    return { store: await openIdbClientStore(`meridian-app-${nodeId}`), note: '' }
  } catch (err) {
    if (err?.code === 'locked') return { store: undefined, note: 'Another tab has this region’s offline store open: this tab keeps its data in memory only.' }
    return { store: undefined, note: `IndexedDB unavailable (${err?.code ?? err?.message ?? err}): data is kept in memory only.` }
  }
}

async function main() {
  const regions = await loadRegions()
  performance.mark('meridian:regions')
  const { chosen, failover, urls } = chooseRegion(regions)
  regionPicker($('#region'), regions, chosen)
  $('#failover').textContent = failover ? 'fails over to the other regions' : 'this region only (failover=off)'

  const { createClient, strictSupport, openIdbClientStore } = await loadBundles()
  performance.mark('meridian:bundles')
  const started = performance.now()
  const { store, note } = await openStore(openIdbClientStore, chosen.nodeId)
  performance.mark('meridian:store')
  $('#storage').textContent = store ? `IndexedDB · meridian-app-${chosen.nodeId}` : 'memory'
  if (note) showFatal(note)

  const client = createClient({ urls, store, use: [strictSupport] })
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

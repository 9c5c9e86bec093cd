// The page: one Automerge document of the `boards` collection, rendered as three columns. Plain browser
// JavaScript; the client and Automerge come from the region's bundles (/bundle/), the region list from the
// todo example, the board's model from board.js (shared with the Node variant, kanban.mjs).
//
// Client API used (docs/client.md): createClient({ urls, use: [await loadAutomergeSupport()] });
// client.automerge('boards') with change(id, fn), get(id) and subscribe(id, fn).

import { chooseRegion, loadRegions, regionPicker } from '../todo/regions.js'
import { showSyncState } from '../todo/status.js'
import { COLUMNS, addCard, cardsIn, moveCard, removeCard } from './board.js'

const $ = (sel) => document.querySelector(sel)

async function main() {
  const [{ createClient }, { loadAutomergeSupport }] = await Promise.all([import('/bundle/meridian-client.js'), import('/bundle/meridian-automerge.js')])
  const regions = await loadRegions()
  const { chosen, urls } = chooseRegion(regions)
  regionPicker($('#region'), regions, chosen)

  const client = createClient({ urls, use: [await loadAutomergeSupport()] }) // fetches automerge.wasm
  window.meridianClient = client // for the console
  showSyncState(client, $('#status'), $('#unsynced'))

  const boardId = new URLSearchParams(location.search).get('board') || 'team'
  $('#board-id').textContent = boardId
  const boards = client.automerge('boards')
  const change = (fn) => boards.change(boardId, fn) // subscribe() below renders it

  const render = (board) => {
    $('#board').replaceChildren(...COLUMNS.map((col, i) => column(board, col, i)))
  }
  const column = (board, col, i) => {
    const el = document.createElement('section')
    el.className = 'column'
    el.dataset.column = col.id
    el.innerHTML = '<h2></h2>'
    el.querySelector('h2').textContent = `${col.title} (${cardsIn(board, col.id).length})`
    for (const card of cardsIn(board, col.id)) el.append(cardElement(card, i))
    // Drop: to the bottom of this column, or above the card dropped on.
    el.addEventListener('dragover', (e) => {
      e.preventDefault()
      el.classList.add('over')
    })
    el.addEventListener('dragleave', () => el.classList.remove('over'))
    el.addEventListener('drop', (e) => {
      e.preventDefault()
      const id = e.dataTransfer.getData('text/plain')
      const before = e.target.closest('.card')?.dataset.card ?? null
      change((d) => moveCard(d, id, col.id, before === id ? null : before))
    })
    return el
  }
  const cardElement = (card, i) => {
    const el = document.createElement('div')
    el.className = 'card'
    el.draggable = true
    el.dataset.card = card.id
    el.innerHTML = '<button class="left" aria-label="move left">←</button><span class="title"></span><button class="right" aria-label="move right">→</button><button class="remove" aria-label="remove">×</button>'
    el.querySelector('.title').textContent = card.title
    el.querySelector('.left').disabled = i === 0
    el.querySelector('.right').disabled = i === COLUMNS.length - 1
    el.querySelector('.left').addEventListener('click', () => change((d) => moveCard(d, card.id, COLUMNS[i - 1].id)))
    el.querySelector('.right').addEventListener('click', () => change((d) => moveCard(d, card.id, COLUMNS[i + 1].id)))
    el.querySelector('.remove').addEventListener('click', () => change((d) => removeCard(d, card.id)))
    el.addEventListener('dragstart', (e) => e.dataTransfer.setData('text/plain', card.id))
    return el
  }

  boards.subscribe(boardId, render) // every local or remote change; also keeps the board syncing
  render(boards.get(boardId))

  $('#add').addEventListener('submit', (e) => {
    e.preventDefault()
    const title = $('#new-title').value.trim()
    if (!title) return
    change((d) => addCard(d, `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`, title))
    $('#new-title').value = ''
  })
}

main().catch((err) => {
  console.error(err)
  document.body.prepend(Object.assign(document.createElement('pre'), { textContent: `The example failed to start: ${err?.message ?? err}` }))
})

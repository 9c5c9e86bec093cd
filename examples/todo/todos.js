// The todo list: the `notes` collection (crdt, last writer wins per field). Each row shows how far this
// tab's last write to it got (`writeStatus`), and the conflicts this client saw on it.

const STATUS_TITLE = {
  pending: 'applied here; being saved in this browser',
  local: 'saved in this browser (survives a reload); not yet at a region',
  durable: 'stored durably by a region',
  replicated: 'durable in every region',
}

const newId = () => globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

const describeValue = (side) => (side.deleted ? '(deleted)' : JSON.stringify(side.value))

export function todoList(notes, { list, empty, count, form, input, conflictsBox, onFilled }) {
  const rows = new Map() // id -> <li>
  const template = document.createElement('li')
  template.innerHTML =
    '<input type="checkbox" class="toggle" aria-label="done"><span class="title"></span>' +
    '<input class="edit" aria-label="rename" maxlength="500"><span class="conflict badge" hidden>conflict</span>' +
    '<span class="badge ack"></span><button class="remove" title="delete" aria-label="delete">×</button>'

  // One listener per kind of event on the list, not per row: a list of 10,000 stays cheap to build.
  const rowOf = (el) => el.closest('li[data-id]')
  list.addEventListener('change', (e) => {
    const li = rowOf(e.target)
    if (li && e.target.classList.contains('toggle')) notes.patch(li.dataset.id, { done: e.target.checked })
  })
  list.addEventListener('click', (e) => {
    const li = rowOf(e.target)
    if (li && e.target.classList.contains('remove')) notes.delete(li.dataset.id)
  })
  list.addEventListener('dblclick', (e) => {
    const li = rowOf(e.target)
    if (!li || !e.target.classList.contains('title')) return
    const edit = li.querySelector('.edit')
    li.classList.add('editing')
    edit.value = notes.get(li.dataset.id)?.title ?? ''
    edit.focus()
    edit.select()
  })
  const finish = (li, save) => {
    if (!li.classList.contains('editing')) return
    li.classList.remove('editing')
    const id = li.dataset.id
    const value = li.querySelector('.edit').value.trim()
    if (save && value && value !== notes.get(id)?.title) notes.patch(id, { title: value })
  }
  list.addEventListener('keydown', (e) => {
    const li = rowOf(e.target)
    if (!li || !e.target.classList.contains('edit')) return
    if (e.key === 'Enter') finish(li, true)
    if (e.key === 'Escape') finish(li, false)
  })
  list.addEventListener('focusout', (e) => {
    const li = rowOf(e.target)
    if (li && e.target.classList.contains('edit')) finish(li, true)
  })

  const createRow = (id) => {
    const li = template.cloneNode(true)
    li.dataset.id = id
    return li
  }

  const showStatus = (li, status) => {
    const badge = li.querySelector('.ack')
    if (badge.dataset.status === status) return
    badge.className = `badge ack ${status}`
    badge.dataset.status = status
    badge.textContent = status
    badge.title = STATUS_TITLE[status]
  }

  const updateRow = (li, id, doc) => {
    li.classList.toggle('done', doc.done === true)
    li.querySelector('.toggle').checked = doc.done === true
    li.querySelector('.title').textContent = typeof doc.title === 'string' ? doc.title : '(untitled)'
    const conflicts = notes.conflicts(id)
    if (conflicts.length > 0) conflicted.add(id)
    const marker = li.querySelector('.conflict')
    marker.hidden = conflicts.length === 0
    if (conflicts.length > 0) {
      const last = conflicts.at(-1)
      marker.title = `${conflicts.length} conflict(s); last: field "${last.field}" kept ${describeValue(last.winner)} from ${last.winner.origin}, over ${describeValue(last.loser)} from ${last.loser.origin}`
    }
    showStatus(li, notes.writeStatus(id))
  }

  // The list in display order: createdAt, then id. Kept between renders, so that a frame in which a
  // few documents changed costs those few (a first sync brings thousands, a frame at a time).
  let order = []
  const orderKey = new Map() // id -> createdAt as ordered
  const before = (a, b) => orderKey.get(a) - orderKey.get(b) || (a < b ? -1 : a > b ? 1 : 0)
  const indexFor = (id) => {
    let lo = 0
    let hi = order.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (before(order[mid], id) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const dirty = new Set()
  let everything = true

  // A whole list (the first render, 10,000 documents from IndexedDB) is built a screenful first, then the
  // rest in chunks between frames: the page shows its data at once and stays responsive while it fills.
  const FIRST_ROWS = 100
  const ROWS_PER_CHUNK = 1000
  let filling = false

  const fill = (from) => {
    const fragment = document.createDocumentFragment()
    const to = Math.min(order.length, from + (from === 0 ? FIRST_ROWS : ROWS_PER_CHUNK))
    for (let i = from; i < to; i++) fragment.append(buildRow(order[i]))
    list.append(fragment)
    if (to < order.length) {
      filling = true
      setTimeout(() => fill(to), 0)
      return
    }
    filling = false
    onFilled?.()
    // Changes that came while filling.
    if (dirty.size > 0) schedule()
  }

  const buildRow = (id) => {
    let li = rows.get(id)
    if (!li) rows.set(id, (li = createRow(id)))
    updateRow(li, id, notes.get(id))
    return li
  }

  const render = () => {
    if (filling && !everything) return // the changes wait in `dirty` until the list is whole
    const ids = everything ? notes.ids() : [...dirty]
    const all = everything
    everything = false
    dirty.clear()
    if (all) {
      for (const li of rows.values()) li.remove()
      rows.clear()
      orderKey.clear()
      for (const id of ids) orderKey.set(id, typeof notes.get(id)?.createdAt === 'number' ? notes.get(id).createdAt : 0)
      order = ids.filter((id) => notes.get(id) !== null).sort(before)
      fill(0)
    } else {
      for (const id of ids) {
        const doc = notes.get(id)
        if (orderKey.has(id)) {
          // Changed or gone: take it out of the order; it goes back in below if it still exists.
          order.splice(indexFor(id), 1)
          orderKey.delete(id)
        }
        if (doc === null) {
          rows.get(id)?.remove()
          rows.delete(id)
          continue
        }
        orderKey.set(id, typeof doc.createdAt === 'number' ? doc.createdAt : 0)
        const at = indexFor(id)
        order.splice(at, 0, id)
        const li = buildRow(id)
        const next = order[at + 1]
        const nextLi = next === undefined ? null : rows.get(next)
        // Left where it is when already in place, so that an open rename field keeps its focus.
        if (li.parentNode !== list || li.nextSibling !== nextLi) list.insertBefore(li, nextLi)
      }
    }
    let done = 0
    for (const id of order) if (notes.get(id)?.done === true) done += 1
    empty.hidden = order.length > 0
    count.textContent = order.length ? `${order.length} item${order.length === 1 ? '' : 's'}, ${done} done` : ''
    showConflicts(order)
  }

  const conflicted = new Set()
  const showConflicts = () => {
    const all = [...conflicted].filter((id) => rows.has(id)).flatMap((id) => notes.conflicts(id).map((c) => ({ id, c })))
    conflictsBox.hidden = all.length === 0
    const ul = conflictsBox.querySelector('ul')
    ul.replaceChildren(
      ...all.slice(-5).map(({ id, c }) => {
        const li = document.createElement('li')
        const title = notes.get(id)?.title ?? id
        li.textContent = `"${title}": field ${c.field} is ${describeValue(c.winner)} (from ${c.winner.origin}); ${describeValue(c.loser)} from ${c.loser.origin} lost`
        return li
      }),
    )
  }

  // One render per frame however many changes arrive (a synced batch brings many).
  let scheduled = false
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    requestAnimationFrame(() => {
      scheduled = false
      render()
    })
  }
  notes.subscribeAll((id) => {
    dirty.add(id)
    schedule()
  })
  // One subscription for every row's status badge.
  notes.onAnyWriteStatus((id, status) => {
    const li = rows.get(id)
    if (li) showStatus(li, status)
  })

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const title = input.value.trim()
    if (!title) return
    input.value = ''
    notes.put(newId(), { title, done: false, createdAt: Date.now() })
  })
  render()
}

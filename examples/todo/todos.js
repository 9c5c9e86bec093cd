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

export function todoList(notes, { list, empty, count, form, input, conflictsBox }) {
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
    const marker = li.querySelector('.conflict')
    marker.hidden = conflicts.length === 0
    if (conflicts.length > 0) {
      const last = conflicts.at(-1)
      marker.title = `${conflicts.length} conflict(s); last: field "${last.field}" kept ${describeValue(last.winner)} from ${last.winner.origin}, over ${describeValue(last.loser)} from ${last.loser.origin}`
    }
    showStatus(li, notes.writeStatus(id))
  }

  const render = () => {
    const ids = notes.ids()
    const docs = new Map()
    const order = new Map()
    for (const id of ids) {
      const doc = notes.get(id)
      docs.set(id, doc)
      order.set(id, typeof doc.createdAt === 'number' ? doc.createdAt : 0)
    }
    ids.sort((a, b) => order.get(a) - order.get(b) || (a < b ? -1 : a > b ? 1 : 0))
    // Update rows in place and move only those out of order, so an open rename field keeps its focus.
    const fragment = rows.size === 0 ? document.createDocumentFragment() : null
    ids.forEach((id, i) => {
      let li = rows.get(id)
      if (!li) rows.set(id, (li = createRow(id)))
      updateRow(li, id, docs.get(id))
      if (fragment) fragment.append(li)
      else if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null)
    })
    if (fragment) list.append(fragment)
    for (const [id, li] of rows) {
      if (!docs.has(id)) {
        rows.delete(id)
        li.remove()
      }
    }
    let done = 0
    for (const doc of docs.values()) if (doc.done === true) done += 1
    empty.hidden = ids.length > 0
    count.textContent = ids.length ? `${ids.length} item${ids.length === 1 ? '' : 's'}, ${done} done` : ''
    showConflicts(ids)
  }

  const showConflicts = (ids) => {
    const all = ids.flatMap((id) => notes.conflicts(id).map((c) => ({ id, c })))
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
  notes.subscribeAll(schedule)
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

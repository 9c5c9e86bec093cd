// A textarea bound to a Y.Text: the two directions of the binding, without the DOM, so that the page
// (index.html) and the Node variant (text.mjs) share them and a test can run them.

/**
 * Applies to `ytext` the edit that turned `before` into `after`, as one transaction. A textarea reports its
 * new value, not the edit, so the edit is recovered as the span between the common prefix and suffix:
 * typing, deleting and pasting are each one such span.
 */
export function applyTextareaEdit(ytext, before, after) {
  let start = 0
  while (start < before.length && start < after.length && before[start] === after[start]) start++
  let endBefore = before.length
  let endAfter = after.length
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
    endBefore--
    endAfter--
  }
  if (endBefore === start && endAfter === start) return
  ytext.doc.transact(() => {
    if (endBefore > start) ytext.delete(start, endBefore - start)
    if (endAfter > start) ytext.insert(start, after.slice(start, endAfter))
  })
}

/**
 * Where a caret at `index` belongs after a remote change, given the change as a Y.Text event's `delta`
 * (`retain` / `insert` / `delete` runs over the old text): text inserted before it pushes it right,
 * text deleted before it pulls it left. Without this the caret would jump whenever someone else types.
 */
export function moveIndex(delta, index) {
  let old = 0 // position in the text before the change
  let moved = index
  for (const op of delta) {
    if (op.retain !== undefined) old += op.retain
    else if (op.insert !== undefined) {
      if (old < index) moved += typeof op.insert === 'string' ? op.insert.length : 1
    } else if (op.delete !== undefined) {
      if (old < index) moved -= Math.min(op.delete, index - old)
      old += op.delete
    }
  }
  return moved
}

/**
 * Binds `ytext` to a textarea-like object (`value`, `selectionStart`, `selectionEnd`, and `onInput(fn)` to
 * hear the user's edits). Remote changes update the value and keep the caret where it belongs. Returns the
 * function that ends the binding.
 */
export function bindTextarea(ytext, area) {
  let shown = ytext.toString()
  area.value = shown
  const onRemote = (event) => {
    if (event.transaction.local) return // our own edit: the textarea already shows it
    const start = moveIndex(event.delta, area.selectionStart)
    const end = moveIndex(event.delta, area.selectionEnd)
    shown = ytext.toString()
    area.value = shown
    area.selectionStart = start
    area.selectionEnd = end
  }
  ytext.observe(onRemote)
  const stopInput = area.onInput(() => {
    applyTextareaEdit(ytext, shown, area.value)
    shown = area.value
  })
  return () => {
    ytext.unobserve(onRemote)
    stopInput()
  }
}

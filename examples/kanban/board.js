// The board's model, shared by the page (index.html) and the Node variant (kanban.mjs): pure functions
// over an Automerge document of the `boards` collection, for `boards.change(id, (d) => …)` and
// `boards.get(id)`.
//
// Shape: `{ cards: { [cardId]: { title, column, rank } } }`. A card's column is a field of the card, not
// its place in a list per column: moving a card is one field write, so two regions that move the same card
// at once end with the card in exactly ONE column (Automerge picks one of the concurrent values, the same
// one everywhere). With a list per column, a concurrent move would be a delete plus an insert in each
// region, and the merge would keep both inserts: the card would show up twice.
// Order within a column is `rank`, a number between the neighbours' ranks (ties broken by id).

export const COLUMNS = [
  { id: 'todo', title: 'To do' },
  { id: 'doing', title: 'Doing' },
  { id: 'done', title: 'Done' },
]

/** Inside `change`: adds a card at the bottom of `column`. */
export function addCard(d, id, title, column = 'todo') {
  d.cards ??= {}
  d.cards[id] = { title, column, rank: bottomRank(d, column) }
}

/** Inside `change`: moves a card to the bottom of `column`, or just above `beforeId` there. */
export function moveCard(d, id, column, beforeId = null) {
  const card = d.cards?.[id]
  if (!card) return
  const others = cardsIn(d, column).filter((c) => c.id !== id)
  const at = beforeId === null ? others.length : Math.max(0, others.findIndex((c) => c.id === beforeId))
  const above = others[at - 1]?.rank ?? (others[0]?.rank ?? 1) - 1
  const below = others[at]?.rank ?? above + 2
  card.column = column
  card.rank = (above + below) / 2
}

/** Inside `change`: removes a card. */
export function removeCard(d, id) {
  if (d.cards) delete d.cards[id]
}

/** The cards of one column, in order: `[{ id, title, column, rank }]`. Works on a view or inside `change`. */
export function cardsIn(board, column) {
  return Object.entries(board.cards ?? {})
    .filter(([, c]) => c.column === column)
    .map(([id, c]) => ({ id, title: c.title, column: c.column, rank: c.rank }))
    .sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** The whole board as text, one line per column (what the Node variant prints). */
export function describe(board) {
  return COLUMNS.map((col) => `${col.title.padEnd(6)} | ${cardsIn(board, col.id).map((c) => c.title).join(', ') || '—'}`).join('\n')
}

function bottomRank(board, column) {
  const cards = cardsIn(board, column)
  return cards.length === 0 ? 1 : cards[cards.length - 1].rank + 1
}

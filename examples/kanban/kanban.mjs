// `npm run example:kanban` — a kanban board in an Automerge document (the `boards` collection), the Node
// variant of the page in this directory: alice at eu-1 and bob at ap-1 (the first and last regions that
// answer) move the same card at the same time, to different columns; both boards converge, with the card
// in exactly one column.
// Needs `npm start` running (MERIDIAN_BASE_PORT overrides its ports).
import { createNodeClient } from 'meridian/client/node'
import { RUN, requireCluster, waitUntil } from '../shared/cluster.mjs'
import { COLUMNS, addCard, cardsIn, describe, moveCard } from './board.js'

const up = await requireCluster(2) // the regions that answer: two are enough
const boardId = `board-${RUN}`
const person = (name, region) => {
  const client = createNodeClient({ urls: [region.ws] }) // one region each: their changes meet through the mesh
  const boards = client.automerge('boards')
  boards.open(boardId) // sync this board while the example runs
  return { name, region, client, boards, board: () => boards.get(boardId) }
}
const alice = person('alice', up[0])
const bob = person('bob', up[up.length - 1])
const show = (title, who) => console.log(`${title} (${who.name} at ${who.region.nodeId}):\n${indent(describe(who.board()))}\n`)
const indent = (text) => text.replace(/^/gm, '  ')
/** Comparable form of a board: every column's cards in order. */
const layout = (board) => JSON.stringify(COLUMNS.map((col) => cardsIn(board, col.id).map((c) => c.id)))

console.log(`board boards/${boardId}\n`)
alice.boards.change(boardId, (d) => {
  addCard(d, 'docs', 'Write docs')
  addCard(d, 'bug', 'Fix bug')
  addCard(d, 'release', 'Release')
})
await waitUntil(() => Object.keys(bob.board().cards ?? {}).length === 3, 'bob to see the three cards')
show('1. alice made the board; bob sees it', bob)

// At the same time, neither waiting for the other:
alice.boards.change(boardId, (d) => moveCard(d, 'bug', 'doing')) //  alice starts on the bug…
bob.boards.change(boardId, (d) => moveCard(d, 'bug', 'done')) //      …bob says it is fixed already
alice.boards.change(boardId, (d) => moveCard(d, 'docs', 'done'))
bob.boards.change(boardId, (d) => addCard(d, 'plan', 'Plan v2', 'doing'))
show('2. moved at the same time, before hearing of each other', alice)
show('   and', bob)

await waitUntil(() => layout(alice.board()) === layout(bob.board()), 'both boards to converge')
const board = alice.board()
show('3. converged: both boards are now', alice)

const ids = COLUMNS.flatMap((col) => cardsIn(board, col.id).map((c) => c.id))
const once = ids.length === new Set(ids).size && ids.length === 4
const bug = board.cards.bug.column
console.log(`the contested card "Fix bug" is in ${bug} (${bug === 'done' ? "bob's" : "alice's"} move won, in every region); every card in exactly one column: ${once ? 'yes' : 'NO'}`)

await Promise.all([alice.client.close(), bob.client.close()])
if (!once) process.exit(1)
console.log('\nok: concurrent moves from two regions, one board. The same in a browser: the URL `npm start` prints for this example.')

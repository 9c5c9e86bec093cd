// `npm run example:text` — collaborative text, the Node variant of the page in this directory: two
// writers, one connected to eu-1 and one to us-1 (the first two regions that answer), edit the same Yjs
// document of the `docs` collection at the same time, through the same textarea binding as the page;
// both end with the same text.
// Needs `npm start` running (MERIDIAN_BASE_PORT overrides its ports).
import { createNodeClient } from 'meridian/client/node'
import { RUN, requireCluster, waitUntil } from '../shared/cluster.mjs'
import { bindTextarea } from './textarea.js'

/** What the page's <textarea> is to the binding, typed into by code instead of a person. */
function fakeTextarea() {
  const listeners = new Set()
  const area = {
    value: '',
    selectionStart: 0,
    selectionEnd: 0,
    onInput(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    /** Types `text` at the caret, as a person would. */
    type(text) {
      const at = area.selectionStart
      area.value = area.value.slice(0, at) + text + area.value.slice(area.selectionEnd)
      area.selectionStart = area.selectionEnd = at + text.length
      for (const fn of listeners) fn()
    },
    moveCaret(index) {
      area.selectionStart = area.selectionEnd = index
    },
  }
  return area
}

function writer(name, region, docId) {
  const client = createNodeClient({ urls: [region.ws] }) // one region each: their edits meet through the mesh
  const { doc } = client.yjs('docs').open(docId)
  const area = fakeTextarea()
  bindTextarea(doc.getText('text'), area)
  return { name, region, client, area }
}

const up = await requireCluster(2) // the regions that answer: two are enough
const docId = `text-${RUN}`
console.log(`document docs/${docId}: alice writes at ${up[0].nodeId}, bob at ${up[1].nodeId}\n`)
const alice = writer('alice', up[0], docId)
const bob = writer('bob', up[1], docId)

alice.area.type('Hello from Alice.')
await waitUntil(() => bob.area.value === alice.area.value, "bob to see alice's first line")
console.log(`1. alice typed; bob sees:          ${JSON.stringify(bob.area.value)}`)

// Now both type at once, neither waiting for the other: alice at the end, bob at the start.
bob.area.moveCaret(0)
alice.area.type(' How are you?')
bob.area.type('Hi Alice, Bob here. ')
console.log(`2. typed at the same time:  alice: ${JSON.stringify(alice.area.value)}`)
console.log(`                              bob: ${JSON.stringify(bob.area.value)}`)

await waitUntil(() => alice.area.value === bob.area.value, 'both texts to converge')
const text = alice.area.value
console.log(`3. converged:              both: ${JSON.stringify(text)}`)
const kept = text.includes('Hi Alice, Bob here. ') && text.includes(' How are you?') && text.includes('Hello from Alice.')
console.log(`   every keystroke of both kept: ${kept ? 'yes' : 'NO'}; bob's caret still after his words: ${bob.area.selectionStart === 'Hi Alice, Bob here. '.length ? 'yes' : 'no'}`)

await Promise.all([alice.client.close(), bob.client.close()])
if (!kept) process.exit(1)
console.log('\nok: two regions, concurrent edits, one text. The same in a browser: the URL `npm start` prints for this example.')

/**
 * The browser examples' logic, in Node (docs/examples.md): the textarea binding of examples/text and the
 * board model of examples/kanban, on plain Yjs and Automerge documents that edit concurrently and then
 * exchange their changes. Random edits (fast-check; a failure prints its seed); both sides must converge.
 */
import * as Automerge from '@automerge/automerge'
import fc from 'fast-check'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ROOT } from './npm-start.js'

interface Area {
  value: string
  selectionStart: number
  selectionEnd: number
  onInput(fn: () => void): () => void
}
interface TextareaModule {
  applyTextareaEdit(ytext: Y.Text, before: string, after: string): void
  moveIndex(delta: unknown[], index: number): number
  bindTextarea(ytext: Y.Text, area: Area): () => void
}
interface Card {
  id: string
  title: string
  column: string
  rank: number
}
type Board = { cards?: Record<string, { title: string; column: string; rank: number }> }
interface BoardModule {
  COLUMNS: { id: string; title: string }[]
  addCard(d: Board, id: string, title: string, column?: string): void
  moveCard(d: Board, id: string, column: string, beforeId?: string | null): void
  removeCard(d: Board, id: string): void
  cardsIn(board: Board, column: string): Card[]
}

const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(ROOT, path)).href)) as T
const textarea = await load<TextareaModule>('examples/text/textarea.js')
const board = await load<BoardModule>('examples/kanban/board.js')

/** A textarea stand-in: `edit` replaces a span as typing or pasting would, with the caret after it. */
function fakeArea(): Area & { edit(at: number, remove: number, insert: string): void } {
  const listeners = new Set<() => void>()
  const area = {
    value: '',
    selectionStart: 0,
    selectionEnd: 0,
    onInput(fn: () => void) {
      listeners.add(fn)
      return () => void listeners.delete(fn)
    },
    edit(at: number, remove: number, insert: string) {
      const start = Math.min(at, area.value.length)
      area.value = area.value.slice(0, start) + insert + area.value.slice(start + remove)
      area.selectionStart = area.selectionEnd = start + insert.length
      for (const fn of listeners) fn()
    },
  }
  return area
}

/** Sends every update of `from` that `to` lacks, as a remote change (transaction.local is false). */
function sync(from: Y.Doc, to: Y.Doc): void {
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)), 'remote')
}

const edit = fc.record({ side: fc.constantFrom(0 as const, 1 as const), at: fc.nat(40), remove: fc.nat(4), insert: fc.string({ maxLength: 5 }), syncAfter: fc.boolean() })

describe('examples/text: the textarea binding', () => {
  it('turns any textarea change into the same Y.Text content', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (before, after) => {
        const doc = new Y.Doc()
        const text = doc.getText('text')
        text.insert(0, before)
        textarea.applyTextareaEdit(text, before, after)
        expect(text.toString()).toBe(after)
      }),
    )
  })

  it('two textareas edited concurrently converge, each showing its Y.Text, carets within the text', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 30 }), (edits) => {
        const docs = [new Y.Doc(), new Y.Doc()] as const
        const areas = [fakeArea(), fakeArea()] as const
        textarea.bindTextarea(docs[0].getText('text'), areas[0])
        textarea.bindTextarea(docs[1].getText('text'), areas[1])
        for (const e of edits) {
          areas[e.side].edit(e.at, e.remove, e.insert)
          if (e.syncAfter) sync(docs[e.side], docs[e.side === 0 ? 1 : 0])
        }
        sync(docs[0], docs[1])
        sync(docs[1], docs[0])
        const text = docs[0].getText('text').toString()
        expect(docs[1].getText('text').toString()).toBe(text)
        for (const area of areas) {
          expect(area.value).toBe(text)
          expect(area.selectionStart).toBeGreaterThanOrEqual(0)
          expect(area.selectionEnd).toBeLessThanOrEqual(text.length)
        }
      }),
    )
  })

  it('keeps the caret next to the same text when someone else types before or after it', () => {
    const [a, b] = [new Y.Doc(), new Y.Doc()]
    const [areaA, areaB] = [fakeArea(), fakeArea()]
    textarea.bindTextarea(a.getText('text'), areaA)
    textarea.bindTextarea(b.getText('text'), areaB)
    areaA.edit(0, 0, 'hello world')
    sync(a, b)
    areaB.selectionStart = areaB.selectionEnd = 5 // after "hello"
    areaA.edit(0, 0, '>> ') // before the caret: pushes it right
    areaA.edit(14, 0, '!') // after it: leaves it
    sync(a, b)
    expect(areaB.value).toBe('>> hello world!')
    expect(areaB.value.slice(0, areaB.selectionStart)).toBe('>> hello')
    areaA.edit(0, 3, '') // deleted before it: pulls it left
    sync(a, b)
    expect(areaB.value.slice(0, areaB.selectionStart)).toBe('hello')
  })
})

describe('examples/kanban: the board model', () => {
  const CARDS = ['a', 'b', 'c', 'd']
  const columns = board.COLUMNS.map((c) => c.id)
  const move = fc.record({
    side: fc.integer({ min: 0, max: 1 }),
    card: fc.constantFrom(...CARDS),
    column: fc.constantFrom(...columns),
    before: fc.option(fc.constantFrom(...CARDS), { nil: null }),
    mergeAfter: fc.boolean(),
  })
  const layout = (doc: Board) => columns.map((c) => board.cardsIn(doc, c).map((card) => card.id))

  it('concurrent moves on two replicas merge to one layout with every card in exactly one column', () => {
    fc.assert(
      fc.property(fc.array(move, { maxLength: 25 }), (moves) => {
        let start = Automerge.from<Board>({})
        start = Automerge.change(start, (d) => CARDS.forEach((id) => board.addCard(d, id, id.toUpperCase())))
        const replicas: Automerge.Doc<Board>[] = [Automerge.clone(start), Automerge.clone(start)]
        for (const m of moves) {
          replicas[m.side] = Automerge.change(replicas[m.side]!, (d) => board.moveCard(d, m.card, m.column, m.before === m.card ? null : m.before))
          if (m.mergeAfter) replicas[1 - m.side] = Automerge.merge(replicas[1 - m.side]!, replicas[m.side]!)
        }
        const left = Automerge.merge(Automerge.clone(replicas[0]!), replicas[1]!)
        const right = Automerge.merge(Automerge.clone(replicas[1]!), replicas[0]!)
        expect(layout(left)).toEqual(layout(right))
        expect(layout(left).flat().sort()).toEqual(CARDS)
      }),
    )
  })

  it('moves a card to the bottom of a column, or just above the card named', () => {
    let doc = Automerge.from<Board>({})
    doc = Automerge.change(doc, (d) => ['a', 'b', 'c'].forEach((id) => board.addCard(d, id, id)))
    doc = Automerge.change(doc, (d) => board.moveCard(d, 'a', 'done'))
    doc = Automerge.change(doc, (d) => board.moveCard(d, 'b', 'done'))
    doc = Automerge.change(doc, (d) => board.moveCard(d, 'c', 'done', 'b'))
    expect(layout(doc)).toEqual([[], [], ['a', 'c', 'b']])
    doc = Automerge.change(doc, (d) => board.moveCard(d, 'b', 'done', 'a'))
    expect(layout(doc)).toEqual([[], [], ['b', 'a', 'c']])
    doc = Automerge.change(doc, (d) => board.removeCard(d, 'a'))
    expect(layout(doc)).toEqual([[], [], ['b', 'c']])
  })
})

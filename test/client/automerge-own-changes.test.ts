/**
 * `client.automerge(name).subscribe` / `subscribeAll` hear the client's own changes too (docs/client.md,
 * Subscriptions; found by the kanban example, docs/examples.md): `automergeEdit` puts the change in the
 * document before the client commits it, so applying it showed no new heads ([CV3]: a duplicate) and
 * the listeners were never called for it.
 */
import { describe, expect, it } from 'vitest'
import { createNodeClient } from '../../client/node.js'

describe('Automerge: own changes reach listeners', () => {
  it('subscribeAll is called for own changes to any document of the collection', async () => {
    const client = createNodeClient({ urls: ['ws://127.0.0.1:1'] })
    try {
      const boards = client.automerge<{ n?: number }>('boards')
      const seen: string[] = []
      const stop = boards.subscribeAll((id, doc) => seen.push(`${id}:${doc.n}`))
      boards.change('b1', (d) => {
        d.n = 1
      })
      boards.change('b2', (d) => {
        d.n = 2
      })
      expect(seen).toEqual(['b1:1', 'b2:2'])
      stop()
    } finally {
      await client.close()
    }
  })

  it('a listener that throws does not stop change() nor the other listeners; its error is reported from a fresh task', async () => {
    const client = createNodeClient({ urls: ['ws://127.0.0.1:1'] })
    const reported: unknown[] = []
    const onUncaught = (error: unknown) => reported.push(error)
    process.prependListener('uncaughtException', onUncaught)
    try {
      const boards = client.automerge<{ n?: number }>('boards')
      const seen: number[] = []
      boards.subscribe('b1', () => {
        throw new Error('listener failed')
      })
      boards.subscribe('b1', (doc) => seen.push(doc.n ?? 0))
      const handle = boards.change('b1', (d) => {
        d.n = 1
      })
      expect(handle).toBeDefined()
      expect(seen).toEqual([1])
      await new Promise((r) => setTimeout(r, 20))
      expect(reported.map((e) => (e as Error).message)).toContain('listener failed')
    } finally {
      process.removeListener('uncaughtException', onUncaught)
      await client.close()
    }
  })

  it('subscribe is called with the new view for a change made by the same client, offline too', async () => {
    const client = createNodeClient({ urls: ['ws://127.0.0.1:1'] }) // nothing listens: the client stays offline
    try {
      const boards = client.automerge<{ cards?: Record<string, { column: string }> }>('boards')
      const seen: unknown[] = []
      const stop = boards.subscribe('b1', (doc) => seen.push(structuredClone(doc)))
      boards.change('b1', (d) => {
        d.cards = { a: { column: 'todo' } }
      })
      boards.change('b1', (d) => {
        d.cards!.a!.column = 'done'
      })
      expect(seen).toEqual([{ cards: { a: { column: 'todo' } } }, { cards: { a: { column: 'done' } } }])
      stop()
      boards.change('b1', (d) => {
        d.cards!.a!.column = 'doing'
      })
      expect(seen).toHaveLength(2)
    } finally {
      await client.close()
    }
  })
})

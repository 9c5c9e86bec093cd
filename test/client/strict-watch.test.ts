import { afterEach, describe, expect, it, vi } from 'vitest'
import { StrictReadFailed } from '../../client/errors.js'
import { StrictWatches, type StrictChange } from '../../client/strict-watch.js'
import { MessageType, type Message } from '../../core/codec/messages.js'
import type { LogPosition, StoredDocument } from '../../core/strict/types.js'

/** StrictWatches alone: what it sends per session, and which changes reach the listener. */
function harness() {
  const sent: Message[] = []
  const advanced: LogPosition[] = []
  let nextId = 1
  let online = true
  const watches = new StrictWatches({
    send: (message) => {
      if (!online) return false
      sent.push(message)
      return true
    },
    nextRequestId: () => nextId++,
    advance: (position) => advanced.push(position),
  })
  const subscribes = () => sent.filter((m) => m.type === MessageType.StrictSubscribe)
  const changed = (requestId: number, id: string, document: StoredDocument | null, lsn: number, epoch = 1) =>
    watches.receive({ type: MessageType.StrictChanged, requestId, id, document, position: { epoch, lsn } })
  return { watches, sent, advanced, subscribes, changed, setOnline: (value: boolean) => (online = value) }
}

const doc = (version: number, n: number): StoredDocument => ({ version, value: { n } })

afterEach(() => vi.useRealTimers())

describe('strict subscriptions in the client (StrictWatches)', () => {
  it('sends nothing while offline; every session subscribes again with a fresh request id', () => {
    const h = harness()
    h.watches.subscribe('accounts', 'a', () => {})
    h.watches.subscribe('accounts', null, () => {})
    expect(h.sent).toEqual([])
    h.watches.sessionStarted()
    expect(h.subscribes()).toEqual([
      { type: MessageType.StrictSubscribe, requestId: 1, collection: 'accounts', id: 'a' },
      { type: MessageType.StrictSubscribe, requestId: 2, collection: 'accounts', id: null },
    ])
    h.watches.sessionEnded()
    h.watches.sessionStarted()
    expect(h.subscribes().map((m) => m.type === MessageType.StrictSubscribe && m.requestId)).toEqual([1, 2, 3, 4])
    // A change for a request id of the last session is not this session's.
    const seen: StrictChange[] = []
    h.watches.subscribe('accounts', 'b', (change) => seen.push(change))
    expect(h.changed(1, 'a', doc(3, 1), 3)).toBe(true)
    expect(seen).toEqual([])
  })

  it('[RD2] delivers a document only at a newer position than the last one seen for it, and not a version already delivered', () => {
    const h = harness()
    const seen: StrictChange[] = []
    h.watches.sessionStarted()
    h.watches.subscribe('accounts', null, (change) => seen.push(change))
    h.changed(1, 'a', doc(5, 1), 10) // initial state at applied lsn 10
    h.changed(1, 'b', doc(7, 2), 10)
    h.changed(1, 'a', doc(11, 3), 11)
    // Reconnected to a region that lags: its initial state is older for a, the same version for b.
    h.watches.sessionEnded()
    h.watches.sessionStarted()
    h.changed(2, 'a', doc(5, 1), 10)
    h.changed(2, 'b', doc(7, 2), 10)
    // Then it catches up and moves on.
    h.changed(2, 'a', doc(11, 3), 11)
    h.changed(2, 'b', null, 12)
    expect(seen.map((c) => [c.id, c.value, c.version, c.token])).toEqual([
      ['a', { n: 1 }, 5, '1:10'],
      ['b', { n: 2 }, 7, '1:10'],
      ['a', { n: 3 }, 11, '1:11'],
      ['b', null, 0, '1:12'],
    ])
    // Every position shown advances the session's position (the channel keeps the maximum).
    expect(h.advanced.map((p) => p.lsn)).toEqual([10, 10, 11, 10, 10, 11, 12])
  })

  it('StrictSynced ends a whole-collection state burst: a known document missing from it is shown deleted', () => {
    const h = harness()
    const seen: StrictChange[] = []
    h.watches.sessionStarted()
    h.watches.subscribe('accounts', null, (change) => seen.push(change))
    h.changed(1, 'a', doc(5, 1), 10)
    h.changed(1, 'b', doc(7, 2), 10)
    h.watches.receive({ type: MessageType.StrictSynced, requestId: 1, position: { epoch: 1, lsn: 10 } })
    expect(seen.map((c) => `${c.id}=${c.version}`)).toEqual(['a=5', 'b=7'])
    // Offline while b is deleted; the next session's state has only a (unchanged).
    h.watches.sessionEnded()
    h.watches.sessionStarted()
    h.changed(2, 'a', doc(5, 1), 14)
    h.watches.receive({ type: MessageType.StrictSynced, requestId: 2, position: { epoch: 1, lsn: 14 } })
    expect(seen.map((c) => `${c.id}=${c.version}`)).toEqual(['a=5', 'b=7', 'b=0'])
    expect(seen.at(-1)).toMatchObject({ id: 'b', value: null, token: '1:14' })
    // An empty collection at the next sync: a goes too.
    h.watches.receive({ type: MessageType.StrictSynced, requestId: 2, position: { epoch: 1, lsn: 20 } })
    expect(seen.map((c) => `${c.id}=${c.version}`)).toEqual(['a=5', 'b=7', 'b=0', 'a=0'])
  })

  it('an absent document is delivered once as value null, version 0', () => {
    const h = harness()
    const seen: StrictChange[] = []
    h.watches.sessionStarted()
    h.watches.subscribe('accounts', 'x', (change) => seen.push(change))
    h.changed(1, 'x', null, 4)
    h.changed(1, 'x', null, 6) // e.g. after a reconnect: still absent, nothing new
    expect(seen).toEqual([{ id: 'x', value: null, version: 0, token: '1:4', position: { epoch: 1, lsn: 4 } }])
  })

  it('unsubscribe sends StrictUnsubscribe on the live session and stops delivery; twice is harmless', () => {
    const h = harness()
    const seen: StrictChange[] = []
    h.watches.sessionStarted()
    const stop = h.watches.subscribe('accounts', 'a', (change) => seen.push(change))
    stop()
    stop()
    expect(h.sent.at(-1)).toEqual({ type: MessageType.StrictUnsubscribe, requestId: 1 })
    expect(h.sent).toHaveLength(2)
    h.changed(1, 'a', doc(3, 1), 3)
    expect(seen).toEqual([])
    h.watches.sessionEnded()
    h.watches.sessionStarted()
    expect(h.subscribes()).toHaveLength(1)
  })

  it('a refusal ends the subscription and goes to onError (or is reported like a listener error)', () => {
    vi.useFakeTimers()
    const h = harness()
    const errors: StrictReadFailed[] = []
    h.watches.sessionStarted()
    h.watches.subscribe('notes', 'n', () => {}, { onError: (error) => errors.push(error) })
    h.watches.subscribe('notes', null, () => {})
    const refuse = (requestId: number) =>
      h.watches.receive({ type: MessageType.StrictReadResult, requestId, reply: { status: 'rejected', error: { code: 'INVALID_REQUEST', message: 'not strict' } } })
    expect(refuse(1)).toBe(true)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(StrictReadFailed)
    expect(errors[0]?.code).toBe('INVALID_REQUEST')
    expect(refuse(2)).toBe(true)
    expect(() => vi.runAllTimers()).toThrow(StrictReadFailed)
    // A read's answer (an id no subscription holds) is left to the channel.
    expect(refuse(99)).toBe(false)
    // Ended: not sent again on the next session.
    h.watches.sessionEnded()
    h.watches.sessionStarted()
    expect(h.subscribes()).toHaveLength(2)
  })

  it('a listener that throws does not stop the others; its error is rethrown from a fresh task', () => {
    vi.useFakeTimers()
    const h = harness()
    const seen: string[] = []
    h.watches.sessionStarted()
    h.watches.subscribe('accounts', 'a', () => {
      throw new Error('boom')
    })
    h.watches.subscribe('accounts', 'a', (change) => seen.push(change.id))
    h.changed(1, 'a', doc(2, 1), 2)
    h.changed(2, 'a', doc(2, 1), 2)
    expect(seen).toEqual(['a'])
    expect(() => vi.runAllTimers()).toThrow('boom')
  })

  it('after close nothing is sent or delivered, and a new subscribe is a no-op', () => {
    const h = harness()
    const seen: StrictChange[] = []
    h.watches.sessionStarted()
    h.watches.subscribe('accounts', 'a', (change) => seen.push(change))
    h.watches.close()
    h.changed(1, 'a', doc(2, 1), 2)
    const stop = h.watches.subscribe('accounts', 'b', (change) => seen.push(change))
    h.watches.sessionStarted()
    stop()
    expect(seen).toEqual([])
    expect(h.subscribes()).toHaveLength(1)
  })

  it('a subscribe whose send fails (socket closing) waits for the next session', () => {
    const h = harness()
    h.watches.sessionStarted()
    h.setOnline(false)
    h.watches.subscribe('accounts', 'a', () => {})
    expect(h.sent).toEqual([])
    h.setOnline(true)
    h.watches.sessionEnded()
    h.watches.sessionStarted()
    expect(h.subscribes()).toHaveLength(1)
  })
})

/**
 * The issue-9 property, for any running cluster (real processes, or in-process for the mutant):
 * every hostile JSON document sent through REST or through the client, to a strict or an lww
 * collection, at any node, is either stored and read back identically in every region, or refused
 * with the typed INVALID_VALUE error — and nothing else happens (no 500, no 202 for a value that was
 * never sent, no silently changed value).
 */
import fc from 'fast-check'
import type { MeridianClient } from '../../client/client.js'
import { StrictWriteRejected } from '../../client/errors.js'
import { InvalidValueError } from '../../core/values/storable-value.js'
import { sleep } from './cluster.js'
import { arbHostileJsonText, canonicalText } from './json-arbitraries.js'

export interface RoundTripNode {
  readonly id: string
  readonly httpUrl: string
}

export interface RoundTripTarget {
  readonly nodes: readonly RoundTripNode[]
  /** One connected client per node, same order. */
  readonly clients: readonly MeridianClient[]
  /** The strict collection and the lww collection to write to. */
  readonly strict: string
  readonly lww: string
}

type Surface = 'rest' | 'client'
type Mode = 'strict' | 'lww'

interface Outcome {
  readonly stored: boolean
  /** Set when the outcome is neither "stored identically everywhere" nor "refused with INVALID_VALUE". */
  readonly failure?: string
}

let counter = 0

async function fetchJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  try {
    return { status: response.status, body: JSON.parse(text) }
  } catch {
    return { status: response.status, body: text }
  }
}

/** What every region holds for the document, polled until it matches `expected` or time runs out. */
async function readEverywhere(target: RoundTripTarget, mode: Mode, id: string, expected: string, token: string | null): Promise<string | null> {
  for (const node of target.nodes) {
    const path = mode === 'strict'
      ? `/v1/${target.strict}/${id}?read=nearest${token === null ? '' : `&after=${token}`}`
      : `/v1/${target.lww}/${id}`
    let seen = '(nothing)'
    const deadline = Date.now() + 5_000
    for (;;) {
      const { status, body } = await fetchJson(`${node.httpUrl}${path}`)
      if (status === 200) {
        seen = canonicalText(mode === 'strict' ? body.value : body.doc)
        if (seen === expected) break
      } else seen = `${status} ${JSON.stringify(body).slice(0, 200)}`
      if (Date.now() > deadline) return `${node.id} holds ${seen.slice(0, 300)}, expected ${expected.slice(0, 300)}`
      await sleep(20)
    }
  }
  return null
}

async function viaRest(target: RoundTripTarget, node: RoundTripNode, mode: Mode, id: string, text: string): Promise<Outcome & { token: string | null }> {
  const collection = mode === 'strict' ? target.strict : target.lww
  const w = mode === 'strict' ? 'majority' : 'all'
  const { status, body } = await fetchJson(`${node.httpUrl}/v1/${collection}/${id}?w=${w}`, { method: 'PUT', body: text, headers: { 'content-type': 'application/json' } })
  if (status === 400 && body?.error?.code === 'INVALID_VALUE' && typeof body.error.path === 'string') return { stored: false, token: null }
  // The body limit (maxBodyBytes) comes first for a body over it: also typed, also nothing written.
  if (status === 413 && body?.error?.code === 'PAYLOAD_TOO_LARGE') return { stored: false, token: null }
  if (status === 200 && (mode === 'lww' ? body.ack === 'all' : body.status === 'acknowledged')) {
    return { stored: true, token: mode === 'strict' ? body.token : null }
  }
  return { stored: false, token: null, failure: `REST PUT at ${node.id} answered ${status} ${JSON.stringify(body).slice(0, 300)}` }
}

async function viaClient(client: MeridianClient, target: RoundTripTarget, mode: Mode, id: string, value: unknown): Promise<Outcome & { token: string | null }> {
  if (mode === 'strict') {
    try {
      const result = await client.strict(target.strict).put(id, value as never, { w: 'majority' })
      if (result.status !== 'acknowledged') return { stored: false, token: null, failure: `client strict put: ${JSON.stringify(result)}` }
      return { stored: true, token: result.token }
    } catch (err) {
      if (err instanceof StrictWriteRejected && err.code === 'INVALID_VALUE' && err.path !== null) return { stored: false, token: null }
      return { stored: false, token: null, failure: `client strict put threw ${String(err)}` }
    }
  }
  let handle
  try {
    handle = client.lww(target.lww).put(id, value as Record<string, unknown>)
  } catch (err) {
    if (err instanceof InvalidValueError) return { stored: false, token: null }
    return { stored: false, token: null, failure: `client lww put threw ${String(err)}` }
  }
  try {
    await handle.replicated
  } catch (err) {
    return { stored: false, token: null, failure: `client lww write never replicated: ${String(err)}` }
  }
  return { stored: true, token: null }
}

/**
 * The property. `stats` counts stored and refused documents so a caller can check both happened.
 */
export function valueRoundTripProperty(target: RoundTripTarget, stats: { stored: number; refused: number }): fc.IAsyncPropertyWithHooks<[string, number, Mode, Surface]> {
  return fc.asyncProperty(
    arbHostileJsonText,
    fc.nat({ max: target.nodes.length - 1 }),
    fc.constantFrom<Mode>('strict', 'lww'),
    fc.constantFrom<Surface>('rest', 'client'),
    async (text, at, mode, surface) => {
      const node = target.nodes[at] as RoundTripNode
      const id = `v${process.pid}-${counter++}`
      const value: unknown = JSON.parse(text)
      const outcome = surface === 'rest' ? await viaRest(target, node, mode, id, text) : await viaClient(target.clients[at] as MeridianClient, target, mode, id, value)
      if (outcome.failure !== undefined) throw new Error(`${mode} via ${surface} at ${node.id}: ${outcome.failure}`)
      if (!outcome.stored) {
        stats.refused += 1
        return
      }
      stats.stored += 1
      const mismatch = await readEverywhere(target, mode, id, canonicalText(value), outcome.token)
      if (mismatch !== null) throw new Error(`${mode} via ${surface} at ${node.id}: ${mismatch}`)
    },
  )
}

/**
 * Mutation check for the issue-9 property (test/integration/values.test.ts): with the value checks
 * removed — every surface's shared definition (core/values/storable-value.ts) made to accept
 * anything — the same property, run against an in-process cluster, must fail. If it passed, it
 * would not be testing the edge validation at all.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createNodeClient, type MeridianClient } from '../../client/node.js'
import { waitFor } from '../helpers/cluster.js'
import { valueRoundTripProperty } from '../helpers/value-roundtrip.js'
import { FAST_STRICT, startCluster, type InProcessCluster } from './in-process.js'

vi.mock('../../core/values/storable-value.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../core/values/storable-value.js')>()
  return {
    ...original,
    // The mutant: nothing is ever refused.
    storableSize: () => 0,
    storableKeySize: () => 0,
    storableFieldsSize: () => 0,
    checkDocumentSize: () => undefined,
    assertStorableValue: () => 0,
    valueProblem: () => null,
  }
})

const IDS = ['a', 'b', 'c'] as const
let cluster: InProcessCluster
const clients: MeridianClient[] = []

beforeAll(async () => {
  cluster = await startCluster(IDS, 'mesh', FAST_STRICT)
  await cluster.waitConnected()
  for (const id of IDS) clients.push(createNodeClient({ urls: [cluster.server(id).url] }))
  await waitFor(() => clients.every((c) => c.status === 'connected'), 10_000, 'every client connected')
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()))
  await cluster?.close()
})

describe('[IN1] mutation check: the values property catches missing edge validation', () => {
  it('without the value checks, the property fails', async () => {
    const stats = { stored: 0, refused: 0 }
    const target = {
      nodes: IDS.map((id) => ({ id, httpUrl: cluster.server(id).httpUrl })),
      clients,
      strict: 'accounts',
      lww: 'notes',
    }
    const result = await fc.check(valueRoundTripProperty(target, stats), { numRuns: 60, seed: 9, endOnFailure: true })
    expect(result.failed, 'the property passed with the value checks removed').toBe(true)
    console.log(`mutant caught after ${result.numRuns} runs: ${String(result.errorInstance).slice(0, 200)}`)
  }, 120_000)
})

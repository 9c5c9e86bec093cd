import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Authorizer } from '../../server/auth/authorizer.js'
import { Authenticator } from '../../server/auth/authenticator.js'
import { LwwReplica } from '../../core/crdt/lww.js'
import { MemoryStorageAdapter } from '../../core/storage/index.js'
import { parseConfig } from '../../server/config.js'
import { createHttpApp } from '../../server/http.js'
import { silentLogger } from '../../server/logger.js'
import { ServerMetrics } from '../../server/metrics.js'
import { RegionNode } from '../../server/region-node.js'
import { CountingMap } from '../helpers/counting-map.js'

/**
 * [PF3] A one-field PATCH costs the field, not the document: on a document of thousands of fields the
 * REST path neither builds the view, nor lists the live fields, nor scans the registers, and its answer
 * is as small as on a one-field document. Outcomes are counted, never timed (bench/lww-patch.ts times it).
 */

const FIELDS = 5_000


let node: RegionNode
let app: ReturnType<typeof createHttpApp>
let registers: CountingMap<string, unknown>

beforeAll(async () => {
  const config = parseConfig({ nodeId: 'eu-1', region: 'eu', port: 0, storage: 'memory', collections: { notes: { mode: 'crdt', type: 'lww' } } })
  const metrics = new ServerMetrics({ defaultMetrics: false })
  node = new RegionNode({ config, storage: new MemoryStorageAdapter(), metrics, logger: silentLogger })
  await node.recover()
  app = createHttpApp({ auth: await Authenticator.create(config), authorizer: new Authorizer(config), config, node: () => node, links: () => null, strict: () => null, metrics, logger: silentLogger, storageKind: 'memory', startedAt: 0 })
  const doc: Record<string, unknown> = {}
  for (let i = 0; i < FIELDS; i++) doc[`f${i}`] = `value ${i}`
  doc['meta'] = { x: 1, y: 2 }
  await node.write('put', 'notes', 'big', doc, 'local')
  await node.write('put', 'notes', 'small', { meta: { x: 1, y: 2 } }, 'local')
  const replica = node.mesh.existingReplica('notes', 'big')
  if (!(replica instanceof LwwReplica)) throw new Error('expected the lww replica')
  const holder = replica as unknown as { fields: Map<string, unknown> }
  expect(holder.fields).toBeInstanceOf(Map)
  registers = new CountingMap(holder.fields)
  holder.fields = registers
})
afterAll(() => node.close())

async function patch(id: string, body: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const response = await app.request(`/v1/notes/${id}`, { method: 'PATCH', body: JSON.stringify(body) })
  return { status: response.status, text: await response.text() }
}

describe('a one-field PATCH on a large lww document [PF3]', () => {
  it('never builds the view, lists the fields or scans the registers, and answers as little as on a tiny document', async () => {
    const spies = (['view', 'liveFields', 'knownFields'] as const).map((name) => vi.spyOn(LwwReplica.prototype, name))
    try {
      registers.scans = 0
      const big = await patch('big', { f7: 'patched', meta: { y: null, z: 3 }, f9: null })
      const direct = await node.write('patch', 'notes', 'big', { f8: 'direct' }, 'local')
      expect(big.status).toBe(200)
      for (const spy of spies) expect(spy).not.toHaveBeenCalled()
      expect(registers.scans).toBe(0)
      expect(JSON.parse(big.text)).toMatchObject({ id: 'big', fields: { f7: 'patched', meta: { x: 1, z: 3 }, f9: null }, ack: 'local' })
      expect(direct).toMatchObject({ id: 'big', fields: { f8: 'direct' }, ack: 'local' })
      expect(direct).not.toHaveProperty('doc')
      const small = await patch('small', { f7: 'patched', meta: { y: null, z: 3 }, f9: null })
      expect(small.status).toBe(200)
      // Same fields, same answer but for the id and token: nothing in it grows with the document.
      expect(Math.abs(big.text.length - small.text.length)).toBeLessThanOrEqual(16)
    } finally {
      for (const spy of spies) spy.mockRestore()
    }
    // The document itself is whole and patched.
    const doc = node.read('notes', 'big').doc as Record<string, unknown>
    expect(Object.keys(doc)).toHaveLength(FIELDS) // f0…f4999 and meta, less the deleted f9
    expect(doc).toMatchObject({ f7: 'patched', f8: 'direct', meta: { x: 1, z: 3 } })
    expect(doc).not.toHaveProperty('f9')
  })
})

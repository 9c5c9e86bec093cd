import { describe, expect, it } from 'vitest'
import * as crdt from '../../../core/crdt/index.js'
import type { DocType } from '../../../core/types.js'
import { DOC_TYPES } from '../../../core/types.js'
import { seededRandom } from './helpers.js'

const options = { collection: 'c', docId: 'd', localOrigin: 'eu-1', random: seededRandom(1) }

describe('replica registry', () => {
  it('creates a replica of each document type', () => {
    expect(crdt.createReplica('lww', options)).toBeInstanceOf(crdt.LwwReplica)
    expect(crdt.createReplica('yjs', options)).toBeInstanceOf(crdt.YjsReplica)
    expect(crdt.createReplica('automerge', options)).toBeInstanceOf(crdt.AutomergeReplica)
    for (const docType of DOC_TYPES) expect(crdt.createReplica(docType, options).docType).toBe(docType)
  })

  it('passes an explicit Automerge actor id through', () => {
    expect(crdt.createReplica('automerge', { ...options, automergeActorId: 'beef' }).actorId).toBe('beef')
  })

  it('throws at once on bad options', () => {
    expect(() => crdt.createReplica('nope' as DocType, options)).toThrow(/unknown document type/)
    expect(() => crdt.createReplica('lww', { ...options, docId: '' })).toThrow(/docId/)
    expect(() => crdt.createReplica('yjs', { ...options, random: () => 1 })).toThrow(/\[0, 1\)/)
  })

  it('views of fresh replicas: lww null, yjs empty root and text, automerge {}', () => {
    expect(crdt.createReplica('lww', options).view()).toBeNull()
    expect(crdt.createReplica('yjs', options).view()).toEqual({ root: {}, text: '' })
    expect(crdt.createReplica('automerge', options).view()).toEqual({})
  })
})

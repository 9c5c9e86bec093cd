/**
 * The crdt hot path in core, measured against anchors in the same run [PF5]:
 *   - codec: ChangeBatch encode + decode, fresh changes (encoded once) vs forwarded ones (cached bytes)
 *   - mesh: changes streamed writer → replica through MeshNode and the real codec, for LWW and Yjs,
 *     against the anchor of applying the same payloads straight to a bare replica / Y.Doc.
 * Run: `node --import tsx bench/core-hot-path.ts [changes]` (default 50 000).
 */
import * as Y from 'yjs'
import { HlcClock } from '../core/clock/hlc.js'
import { decodeMessage, encodeMessage } from '../core/codec/index.js'
import { MessageType, type Message } from '../core/codec/messages.js'
import { createReplica, lwwPatchPayload, yjsEdit, type LwwReplica, type YjsReplica } from '../core/crdt/index.js'
import { MeshNode } from '../core/mesh/index.js'
import type { Change, DocType } from '../core/types.js'

const N = Number(process.argv[2] ?? 50_000)
let seed = 1
const random = (): number => {
  seed = (seed * 16807) % 2147483647
  return seed / 2147483647
}
let wall = 1_700_000_000_000
const wallClock = (): number => wall++

function time(run: () => void): number {
  const start = performance.now()
  run()
  return performance.now() - start
}

function node(id: string, send: (peer: string, m: Message) => void): MeshNode {
  return new MeshNode({ id, clock: new HlcClock({ node: id, wallClock }), random, createReplica, send })
}

/** Writes N changes at a writer (100 documents) and returns them with their payloads. */
function makeChanges(docType: DocType): Change[] {
  const writer = node('writer', () => {})
  const out: Change[] = []
  for (let i = 0; i < N; i++) {
    const docId = `d${i % 100}`
    const replica = writer.replica('bench', docId, docType)
    const payload =
      docType === 'lww'
        ? lwwPatchPayload(replica as LwwReplica, { title: `t${i}`, n: i })
        : yjsEdit(replica as YjsReplica, (doc) => doc.getText('text').insert(0, 'x'))
    out.push(writer.commit('bench', docId, docType, payload))
  }
  return out
}

/** Streams `changes` into a fresh replica node through encode → decode, in batches of 256. */
function throughMesh(changes: Change[]): number {
  const frames: Uint8Array[] = []
  for (let i = 0; i < changes.length; i += 256) {
    frames.push(encodeMessage({ type: MessageType.ChangeBatch, changes: changes.slice(i, i + 256) }))
  }
  const replica = node('replica', () => {})
  replica.connect('writer')
  replica.receive('writer', { type: MessageType.VersionVector, vector: new Map() })
  return time(() => {
    for (const frame of frames) replica.receive('writer', decodeMessage(frame))
  })
}

function bareApply(changes: Change[], docType: DocType): number {
  if (docType === 'yjs') {
    const docs = new Map<string, Y.Doc>()
    return time(() => {
      for (const c of changes) {
        let doc = docs.get(c.docId)
        if (!doc) docs.set(c.docId, (doc = new Y.Doc()))
        Y.applyUpdate(doc, c.payload)
      }
    })
  }
  const replicas = new Map<string, ReturnType<typeof createReplica>>()
  return time(() => {
    for (const c of changes) {
      let r = replicas.get(c.docId)
      if (!r) replicas.set(c.docId, (r = createReplica(docType, { collection: c.collection, docId: c.docId, localOrigin: 'x', random })))
      r.apply(c)
    }
  })
}

const rows: string[][] = []
const perSec = (ms: number): string => `${Math.round((N / ms) * 1000).toLocaleString('en')}`

for (const docType of ['lww', 'yjs'] as const) {
  const changes = makeChanges(docType)
  // Codec: the first encode pays for each change once; a re-encode (forwarding) reuses the cached bytes.
  const batches: Change[][] = []
  for (let i = 0; i < changes.length; i += 256) batches.push(changes.slice(i, i + 256))
  const fresh = time(() => {
    for (const b of batches) encodeMessage({ type: MessageType.ChangeBatch, changes: b })
  })
  const forwarded = time(() => {
    for (const b of batches) encodeMessage({ type: MessageType.ChangeBatch, changes: b })
  })
  const frames = batches.map((b) => encodeMessage({ type: MessageType.ChangeBatch, changes: b }))
  const decode = time(() => {
    for (const f of frames) decodeMessage(f)
  })
  const mesh = throughMesh(changes)
  const bare = bareApply(changes, docType)
  rows.push([docType, perSec(fresh), perSec(forwarded), perSec(decode), perSec(mesh), perSec(bare), (mesh / bare).toFixed(2)])
}

const header = ['type', 'encode/s', 're-encode/s', 'decode/s', 'mesh apply/s', 'bare apply/s', 'mesh÷bare time']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ')
console.log(`core hot path, ${N.toLocaleString('en')} changes over 100 documents (node ${process.version})`)
console.log(line(header))
for (const r of rows) console.log(line(r))

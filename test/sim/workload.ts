import type { DocumentReplica } from '../../core/crdt/document-type.js'
import {
  automergeEdit,
  lwwDeletePayload,
  lwwPatchPayload,
  lwwPutPayload,
  yjsEdit,
  type AutomergeReplica,
  type LwwReplica,
  type YjsReplica,
} from '../../core/crdt/index.js'
import type { DocType } from '../../core/types.js'
import type { SimRandom } from './random.js'

const FIELDS = ['title', 'done', 'owner', 'rank']

export interface Edit {
  readonly payload: Uint8Array
  readonly description: string
}

/** One random edit of a document through its type's writer API, as an app would make it. */
export function randomEdit(docType: DocType, replica: DocumentReplica, random: SimRandom): Edit {
  switch (docType) {
    case 'lww':
      return lwwEdit(replica as LwwReplica, random)
    case 'yjs':
      return yjsRandomEdit(replica as YjsReplica, random)
    case 'automerge':
      return automergeRandomEdit(replica as AutomergeReplica, random)
  }
}

function randomValue(random: SimRandom): unknown {
  return random.pick<unknown>([random.int(0, 99), `v${random.int(0, 9)}`, random.chance(0.5), null, { n: random.int(0, 9) }])
}

function lwwEdit(replica: LwwReplica, random: SimRandom): Edit {
  const roll = random.next()
  if (roll < 0.08) return { payload: lwwDeletePayload(replica), description: 'delete doc' }
  if (roll < 0.25) {
    const doc: Record<string, unknown> = {}
    for (const field of FIELDS) if (random.chance(0.5)) doc[field] = randomValue(random)
    return { payload: lwwPutPayload(replica, doc), description: `put ${JSON.stringify(doc)}` }
  }
  const field = random.pick(FIELDS)
  const value = random.chance(0.15) ? undefined : randomValue(random)
  return { payload: lwwPatchPayload(replica, { [field]: value }), description: `patch ${field}=${JSON.stringify(value)}` }
}

function yjsRandomEdit(replica: YjsReplica, random: SimRandom): Edit {
  let description = ''
  const payload = yjsEdit(replica, (doc) => {
    const text = doc.getText('text')
    const roll = random.next()
    if (roll < 0.5 || text.length === 0) {
      const at = random.int(0, text.length)
      const s = `${String.fromCharCode(97 + random.int(0, 25))}${random.int(0, 9)}`
      text.insert(at, s)
      description = `text insert ${at} ${s}`
    } else if (roll < 0.75) {
      const at = random.int(0, text.length - 1)
      const length = random.int(1, Math.min(3, text.length - at))
      text.delete(at, length)
      description = `text delete ${at}+${length}`
    } else {
      const field = random.pick(FIELDS)
      const value = random.int(0, 99)
      doc.getMap('root').set(field, value)
      description = `map set ${field}=${value}`
    }
  })
  return { payload, description }
}

function automergeRandomEdit(replica: AutomergeReplica, random: SimRandom): Edit {
  let description = ''
  const payload = automergeEdit(replica, (doc: Record<string, unknown>) => {
    const roll = random.next()
    if (roll < 0.5) {
      const field = random.pick(FIELDS)
      const value = random.int(0, 99)
      doc[field] = value
      description = `set ${field}=${value}`
    } else if (roll < 0.8) {
      if (!Array.isArray(doc.items)) doc.items = []
      const items = doc.items as unknown[]
      const at = random.int(0, items.length)
      const value = random.int(0, 99)
      items.splice(at, 0, value)
      description = `insert items[${at}]=${value}`
    } else {
      const field = random.pick(FIELDS)
      if (field in doc) delete doc[field]
      description = `delete ${field}`
    }
  })
  return { payload, description }
}

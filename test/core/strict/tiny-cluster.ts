import { StrictNode, type StrictMessage, type StrictNodeOptions, type WriteOutcome } from '../../../core/strict/index.js'

/**
 * A tiny synchronous cluster for node-level unit tests: messages queue up and are delivered in order
 * by `deliver` (optionally cutting some nodes off); `durable` marks every log durable. `extra` adds
 * callbacks or options per node.
 */
export function tinyCluster(ids: string[], extra: (id: string) => Partial<StrictNodeOptions> = () => ({})) {
  const queue: { to: string; message: StrictMessage }[] = []
  const outcomes: WriteOutcome[] = []
  let r = 0.1
  const nodes = new Map<string, StrictNode>()
  for (const id of ids) {
    nodes.set(
      id,
      new StrictNode({
        id,
        members: ids,
        random: () => (r = (r * 7.13) % 1),
        send: (to, message) => queue.push({ to, message }),
        onWriteOutcome: (o) => outcomes.push(o),
        ...extra(id),
      }),
    )
  }
  const node = (id: string) => nodes.get(id) as StrictNode
  const deliver = (blocked: Set<string> = new Set()) => {
    for (let i = 0; i < 10_000 && queue.length > 0; i++) {
      const { to, message } = queue.shift() as { to: string; message: StrictMessage }
      if (blocked.has(to) || blocked.has(message.from)) continue
      node(to).receive(message)
    }
  }
  const durable = () => {
    for (const n of nodes.values()) n.markDurable(n.lastPosition.lsn)
  }
  return { node, queue, deliver, durable, outcomes }
}

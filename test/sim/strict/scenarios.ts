import { StrictNode } from '../../../core/strict/index.js'
import type { HardState, LogEntry, StrictMessage, StrictNodeOptions } from '../../../core/strict/index.js'

/*
 * Scripted interleavings, for bugs that need a message to outlive two elections: rarer than the
 * seeded schedules of the simulator reach. The script decides every delivery, flush, crash and
 * election; the checks are the simulator's ([ST1] a primary commits only what a majority holds
 * durably; [ST2] never two different entries committed at one LSN).
 */

interface ScriptedNode {
  node: StrictNode
  hard: HardState
  entries: LogEntry[]
  durableLsn: number
}

export interface ScenarioResult {
  readonly violations: string[]
  readonly log: string[]
}

/**
 * The stale-reply interleaving (3 nodes a, b, c):
 * 1. a is primary of epoch 1, writes w at LSN 2 and replicates it to b only; a crashes before its own
 *    flush (loses w), then restarts.
 * 2. b flushes w now and reports it, in epoch 1, to a — the reply is slow.
 * 3. a wins epoch 2 with c's vote (c lacks w) and appends its no-op at LSN 2.
 * 4. b's epoch-1 reply arrives. Counted, it says b holds LSN 2 durably: a commits its no-op, which only
 *    a holds — b holds w there.
 * 5. a crashes; b wins epoch 3 with c's vote and commits w at LSN 2: a committed entry is lost.
 */
export function runStaleReplyScenario(createNode: (options: StrictNodeOptions) => StrictNode): ScenarioResult {
  const log: string[] = []
  const violations: string[] = []
  const ids = ['a', 'b', 'c']
  const inFlight: { to: string; message: StrictMessage }[] = []
  const committed = new Map<number, string>()
  const sims = new Map<string, ScriptedNode>()

  const holdsDurably = (sim: ScriptedNode, entry: LogEntry): boolean =>
    entry.lsn <= sim.durableLsn && sim.entries[entry.lsn - 1]?.epoch === entry.epoch

  const boot = (id: string): void => {
    const previous = sims.get(id)
    const sim: ScriptedNode = {
      hard: previous?.hard ?? { epoch: 0, votedFor: null },
      entries: (previous?.entries ?? []).filter((e) => e.lsn <= (previous?.durableLsn ?? 0)),
      durableLsn: previous?.durableLsn ?? 0,
      node: undefined as unknown as StrictNode,
    }
    sims.set(id, sim)
    sim.node = createNode({
      id,
      members: ids,
      random: () => 0.5,
      send: (to, message) => inFlight.push({ to, message }),
      restore: { hardState: sim.hard, entries: sim.entries },
      onHardState: (hard) => {
        sim.hard = hard
      },
      onAppend: (entries) => {
        for (const entry of entries) sim.entries.push(entry)
      },
      onTruncate: (fromLsn) => {
        sim.entries = sim.entries.filter((e) => e.lsn < fromLsn)
        sim.durableLsn = Math.min(sim.durableLsn, fromLsn - 1)
      },
      onApply: (entry) => {
        const text = `${entry.epoch}:${entry.lsn}:${JSON.stringify(entry.op)}`
        log.push(`${id} applies ${text}`)
        if (sim.node.currentRole === 'primary') {
          const holders = ids.filter((other) => holdsDurably(sims.get(other) as ScriptedNode, entry))
          if (holders.length < 2) violations.push(`[ST1] ${id} committed ${entry.epoch}:${entry.lsn} held durably only by ${holders.join(',') || 'nobody'}`)
        }
        const first = committed.get(entry.lsn)
        if (first === undefined) committed.set(entry.lsn, text)
        else if (first !== text) violations.push(`[ST2] two different entries committed at lsn ${entry.lsn}: ${first} and ${id}'s ${text}`)
      },
      onRoleChange: (role, epoch) => log.push(`${id} is ${role} in epoch ${epoch}`),
    })
  }
  const node = (id: string): StrictNode => (sims.get(id) as ScriptedNode).node
  /** Delivers (in order) the in-flight messages matching the filter; the others stay in flight. */
  const deliver = (filter: (from: string, to: string, m: StrictMessage) => boolean): void => {
    for (let i = 0; i < inFlight.length; ) {
      const { to, message } = inFlight[i] as { to: string; message: StrictMessage }
      if (!filter(message.from, to, message)) {
        i++
        continue
      }
      inFlight.splice(i, 1)
      node(to).receive(message)
    }
  }
  const drop = (filter: (from: string, to: string) => boolean): void => {
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const item = inFlight[i] as { to: string; message: StrictMessage }
      if (filter(item.message.from, item.to)) inFlight.splice(i, 1)
    }
  }
  const flush = (id: string): void => {
    const sim = sims.get(id) as ScriptedNode
    sim.durableLsn = sim.entries.at(-1)?.lsn ?? 0
    sim.node.markDurable(sim.durableLsn)
  }
  const crash = (id: string): void => {
    drop((_, to) => to === id)
    log.push(`crash ${id}`)
    boot(id)
  }

  for (const id of ids) boot(id)
  for (const id of ids) node(id).tick(0)
  // 1. a becomes primary of epoch 1 (b's vote); its no-op reaches everybody and commits.
  node('a').promote()
  deliver((from, to) => from === 'a' && to === 'b')
  deliver((_, to) => to === 'a')
  deliver((from) => from === 'a')
  flush('a')
  flush('b')
  flush('c')
  deliver(() => true)
  // w reaches b only; a crashes before flushing it.
  node('a').write({ kind: 'put', collection: 'acc', id: 'x', value: { n: 1 } }, { concern: 'majority' })
  deliver((from, to) => from === 'a' && to === 'b')
  drop((from) => from === 'a')
  drop((from, to) => from === 'b' && to === 'a')
  crash('a')
  // 2. b flushes w and reports it in epoch 1; the reply is slow (held in flight).
  flush('b')
  // 3. a wins epoch 2 with c's vote; b never hears of it.
  node('a').promote()
  deliver((from, to, m) => from === 'a' && to === 'c' && m.type === 'request-vote')
  deliver((from, to, m) => from === 'c' && to === 'a' && m.type === 'vote')
  drop((from) => from === 'a')
  flush('a')
  // 4. b's epoch-1 reply arrives.
  deliver((from, to) => from === 'b' && to === 'a')
  // 5. a crashes; b wins epoch 3 with c's vote and replicates.
  crash('a')
  node('b').promote() // epoch 2: c has voted for a in it already
  drop(() => true)
  node('b').promote()
  deliver((from, to) => from === 'b' && to === 'c')
  deliver((from, to) => from === 'c' && to === 'b')
  for (let round = 0; round < 5; round++) {
    deliver((from, to) => to !== 'a' && from !== 'a')
    flush('b')
    flush('c')
  }
  return { violations, log }
}

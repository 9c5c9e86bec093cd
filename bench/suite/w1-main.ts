/**
 * W1 alone: `node --import tsx bench/suite/w1-main.ts [--quick] [--only meridian,y-websocket,hocuspocus]`
 * prints its figures, goals and notes. (`npm run bench` runs W1 with every other workload.)
 */
import type { WorkloadResults } from './figures.js'
import { runW1, W1_SERVERS, type W1Server } from './w1-yjs-fanout.js'

const onlyAt = process.argv.indexOf('--only')
const servers = onlyAt >= 0 ? ((process.argv[onlyAt + 1] ?? '').split(',').filter((s) => (W1_SERVERS as readonly string[]).includes(s)) as W1Server[]) : W1_SERVERS

function print(results: WorkloadResults): void {
  console.table(results.figures.map((f) => ({ id: f.id, label: f.label, value: Number.isFinite(f.value) ? Number(f.value.toPrecision(5)) : f.value, unit: f.unit })))
  for (const goal of results.goals) console.log(`${goal.met === null ? '?' : goal.met ? 'MET    ' : 'NOT MET'}  ${goal.text}: ${goal.detail}`)
  for (const note of results.notes) console.log(`- ${note}`)
}

const started = performance.now()
let code = 0
try {
  print(await runW1({ quick: process.argv.includes('--quick') }, servers))
} catch (err) {
  const partial = (err as { results?: WorkloadResults }).results
  if (partial !== undefined) print(partial)
  console.error(err)
  code = 1
}
console.log(`W1 took ${((performance.now() - started) / 1000).toFixed(1)} s`)
process.exit(code)

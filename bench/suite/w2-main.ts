/**
 * W2 alone: `node --import tsx bench/suite/w2-main.ts [--quick] [--only meridian|automerge-repo]
 * [--rates 20,200]` prints
 * its figures, goal and notes. (`npm run bench` runs it with every other workload.)
 */
import { runW2 } from './w2-automerge.js'

const only = process.argv.indexOf('--only')
const servers = only >= 0 ? (process.argv[only + 1] ?? '').split(',') : undefined
const ratesArg = process.argv.indexOf('--rates')
const rates = ratesArg >= 0 ? (process.argv[ratesArg + 1] ?? '').split(',').map(Number) : undefined
const results = await runW2({ quick: process.argv.includes('--quick') }, servers, rates)
console.table(results.figures.map((f) => ({ id: f.id, server: f.server, label: f.label, value: Number.isFinite(f.value) ? Number(f.value.toFixed(2)) : f.value, unit: f.unit })))
for (const goal of results.goals) console.log(`${goal.met === null ? '?' : goal.met ? 'MET' : 'NOT MET'}  ${goal.text}: ${goal.detail}`)
for (const note of results.notes) console.log(`- ${note}`)
for (const d of results.distributions) console.log(`distribution ${d.id}: ${d.samplesMs.length} samples`)
process.exit(0)

// npm run fuzz: FUZZ_INPUTS (10,000,000) generated inputs through the decoders, the strict state machine,
// the crdt payload readers, the crdt mesh and the value checks (docs/fuzzing.md); FUZZ_SEED replays a run.
// Exits 1 on any crash.
import { formatFuzzReport, runFuzz } from './fuzz.js'

const inputs = Number(process.env.FUZZ_INPUTS ?? 10_000_000)
const seed = Number(process.env.FUZZ_SEED) || Math.floor(Math.random() * 0x7fffffff)
console.log(`fuzz: ${inputs.toLocaleString('en-US')} inputs, FUZZ_SEED=${seed}`)
const report = runFuzz({ inputs, seed, onProgress: (line) => console.log(line) })
for (const line of formatFuzzReport(report)) console.log(line)
process.exit(report.crashes.length > 0 ? 1 : 0)

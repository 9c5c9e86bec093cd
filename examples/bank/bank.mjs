// `npm run example:bank` — bank transfers on strict collections (`accounts`, `transfers`): preconditions,
// a typed rejection, and a failover of the primary with the books intact.
//
//   npm run example:bank              asks you to kill the primary region (in a terminal; else skips it)
//   npm run example:bank -- --kill    kills the primary itself (SIGKILL, by the pid its /healthz reports)
//
// Needs `npm start` running (MERIDIAN_BASE_PORT overrides its ports). The browser version of the same
// bank is the lower half of the todo app (/app/, examples/todo/bank.js).
import { createInterface } from 'node:readline'
import { StrictWriteRejected, createNodeClient } from 'meridian/client/node'
import { REGIONS, RUN, fail, health, requireCluster } from '../shared/cluster.mjs'
import { audit, readAccount, transfer, transferBatch } from './teller.mjs'

const KILL = process.argv.includes('--kill')
const INITIAL = 100
const FAILOVER_TRANSFERS = 12

await requireCluster(2)
const client = createNodeClient({ urls: REGIONS.map((r) => r.ws) }) // fails over to the next region
const accounts = client.strict('accounts')
const id = (name) => `${RUN}-${name}` // this run's accounts: every run starts from fresh books
const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(id)
const transferIds = [] // every transfer tried, for the audit
const acknowledged = [] // the transfers acknowledged to this client: none may be lost
let transferCount = 0
const nextTransferId = () => {
  const tid = id(`t${++transferCount}`)
  transferIds.push(tid)
  return tid
}
const balances = async () =>
  (await Promise.all([alice, bob, carol].map((a) => readAccount(accounts, a)))).map((a) => `${a.id.slice(RUN.length + 1)} ${a.value.balance}`).join(', ')

// 1. Open three accounts in one batch; `exists: false` makes a second run of this step fail instead of resetting them.
const opened = await accounts.batch(
  [alice, bob, carol].map((a) => ({ kind: 'put', id: a, value: { owner: a, balance: INITIAL }, exists: false })),
  { w: 'majority' },
)
console.log(`1. opened ${alice}, ${bob}, ${carol} with ${INITIAL} each: ${opened.status} at ${opened.token} (primary ${await primary()})`)

// 2. A transfer that goes through.
const t1 = await transfer(client, { id: nextTransferId(), from: alice, to: bob, amount: 30 })
if (t1.outcome === 'acknowledged') acknowledged.push(transferIds[0])
console.log(`2. alice → bob 30: ${t1.outcome} at ${t1.token}           balances: ${await balances()}`)

// 3. One the balance does not cover: the teller reads bob at the primary and does not send it.
const t2 = await transfer(client, { id: nextTransferId(), from: bob, to: carol, amount: 1000 })
console.log(`3. bob → carol 1000: ${t2.outcome} (bob has ${t2.balance}); nothing written`)

// 4. Two tellers read alice (70) at the same moment and each sends 60 of it away.
const a = await readAccount(accounts, alice)
const [toBob, toCarol] = [nextTransferId(), nextTransferId()]
const first = accounts.batch(transferBatch(toBob, a, await readAccount(accounts, bob), 60), { w: 'majority' })
const second = accounts.batch(transferBatch(toCarol, a, await readAccount(accounts, carol), 60), { w: 'majority' })
console.log(`4. two tellers both read alice at ${a.value.balance} (version ${a.version}) and each sends 60:`)
const firstResult = await first
if (firstResult.status === 'acknowledged') acknowledged.push(toBob)
console.log(`   alice → bob 60:   ${firstResult.status}`)
try {
  await second
  fail('the second transfer was acknowledged: alice would be overdrawn')
} catch (err) {
  if (!(err instanceof StrictWriteRejected)) throw err
  console.log(`   alice → carol 60: rejected, ${err.code} (${err.message})`)
}
const retried = await transfer(client, { id: toCarol, from: alice, to: carol, amount: 60 })
console.log(`   retried from a fresh read: ${retried.outcome} (alice has ${retried.balance})   balances: ${await balances()}`)

// 5. Failover: kill the primary while transfers keep coming.
await failover()

// 6. The books, read at the (new) primary.
const books = await audit(client, [alice, bob, carol], transferIds, INITIAL)
const lost = acknowledged.filter((tid) => !books.records.has(tid))
console.log(`6. audit at the primary: ${Object.entries(books.balances).map(([k, v]) => `${k.slice(RUN.length + 1)} ${v}`).join(', ')}`)
console.log(`   total ${books.total} of ${3 * INITIAL}: ${books.total === 3 * INITIAL ? 'conserved' : 'NOT CONSERVED'}`)
console.log(`   acknowledged transfers: ${acknowledged.length}, recorded: ${acknowledged.length - lost.length}, lost: ${lost.length}${lost.length ? ` (${lost.join(', ')})` : ''}`)
console.log(`   accounts matching their transfer records: ${3 - books.off.length} of 3; transfer records: ${books.records.size}`)
await client.close()
if (books.total !== 3 * INITIAL || lost.length > 0 || books.off.length > 0) fail('the books do not balance')
console.log('\nok')

// ---------------------------------------------------------------- the failover

/** The strict primary as a live region sees it (null while there is none). */
async function primary(exclude = null) {
  for (const region of REGIONS) {
    if (region.nodeId === exclude) continue
    try {
      const status = await (await fetch(`${region.http}/status`, { signal: AbortSignal.timeout(1000) })).json()
      const p = status.strict?.primary ?? status.primary ?? null
      if (p !== exclude) return p
    } catch {
      // that region is down: ask the next
    }
  }
  return null
}

async function failover() {
  const up = (await Promise.all(REGIONS.map(health))).filter((h) => h?.ok)
  const old = await primary()
  const oldRegion = REGIONS.find((r) => r.nodeId === old)
  const pid = oldRegion ? (await health(oldRegion))?.pid : undefined
  if (up.length < REGIONS.length || !oldRegion || !pid) {
    console.log(`5. failover skipped: ${up.length} of ${REGIONS.length} regions are up (it needs all three, to keep a majority after one dies); restart \`npm start\` to see it`)
    return
  }
  if (!KILL && !process.stdin.isTTY) {
    console.log('5. failover skipped: run with --kill (npm run example:bank -- --kill), or in a terminal, to see it')
    return
  }
  console.log(`5. failover: ${FAILOVER_TRANSFERS} transfers in a row, alice → bob → carol → alice, 5 each; the primary is ${old} (pid ${pid})`)
  let killedAt = null
  const stream = (async () => {
    const names = [alice, bob, carol]
    for (let i = 0; i < FAILOVER_TRANSFERS; i++) {
      const t = { id: nextTransferId(), from: names[i % 3], to: names[(i + 1) % 3], amount: 5 }
      const retries = []
      const started = Date.now()
      const r = await transfer(client, t, { onRetry: (why) => retries.push(why) })
      if (r.outcome === 'acknowledged') acknowledged.push(t.id)
      const via = client.server?.nodeId ?? '?'
      const note = retries.length ? `, after ${retries.length} retries (${[...new Set(retries)].join(', ')})` : ''
      console.log(`   ${t.id}: ${r.outcome} in ${Date.now() - started} ms via ${via}${note}`)
      if (i === 2) await kill()
    }
  })()
  async function kill() {
    if (KILL) {
      process.kill(pid, 'SIGKILL')
      console.log(`   -- killed ${old} (pid ${pid}, SIGKILL) --`)
    } else {
      console.log(`   -- now kill the primary from another terminal:  kill -9 ${pid}   (${old}); press Enter to skip --`)
      const rl = createInterface({ input: process.stdin })
      const skipped = new Promise((r) => rl.once('line', () => r(true)))
      while (!(await Promise.race([skipped, new Promise((r) => setTimeout(() => r(false), 200))])) && (await health(oldRegion))) {}
      rl.close()
      if (await health(oldRegion)) return console.log('   -- skipped: the primary stays --')
      console.log(`   -- ${old} is down --`)
    }
    killedAt = Date.now()
    void (async () => {
      let next = null
      while (!next) {
        next = await primary(old)
        if (!next) await new Promise((r) => setTimeout(r, 100))
      }
      console.log(`   -- ${next} elected primary, ${Date.now() - killedAt} ms after the kill --`)
    })()
  }
  await stream
}

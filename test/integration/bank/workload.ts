/**
 * The bank-transfer workload (issue 4, item 8): tellers in every region move money between accounts
 * for a fixed time while the cluster is partitioned for the middle third, once through a strict
 * collection and once through an lww one, then the books are audited.
 *
 * An account document is `{ balance, applied }`: `applied` lists the ids of the transfers whose debit
 * or credit this document reflects, written in the same write as the balance. A transfer is
 * acknowledged when the store acknowledged all of its writes; it is *lost* when its debit or its
 * credit is missing from the final documents (its id is not in the account's `applied` list, so
 * its effect on the balance was overwritten).
 */
import { http } from '../../server/in-process.js'
import { seededRandom } from '../../core/crdt/helpers.js'
import type { PartitionedCluster } from '../../helpers/partitioned-cluster.js'

export type Mode = 'strict' | 'lww'

export interface BankOptions {
  readonly accounts: number
  readonly initialBalance: number
  readonly tellersPerRegion: number
  readonly durationMs: number
  readonly maxAmount: number
  /** The partition, applied from `fromMs` to `toMs` after the start of the run. */
  readonly partition: { readonly minority: readonly string[]; readonly majority: readonly string[]; readonly fromMs: number; readonly toMs: number }
  /** Strict: 409s in a row before a teller gives a transfer up. */
  readonly maxRetries: number
  readonly seed: number
}

export type Outcome = 'acked' | 'declined' | 'unavailable' | 'indeterminate' | 'gave-up' | 'failed'

export interface Attempt {
  readonly id: string
  readonly teller: string
  readonly region: string
  readonly from: string
  readonly to: string
  readonly amount: number
  outcome: Outcome
  retries: number
  /**
   * Strict: reads at `read=primary` that answered 404 for an account that exists. A newly elected
   * primary serves its applied state before its first entry commits, which can miss writes the
   * previous primary committed (docs/bank-transfer.md); the teller reads again.
   */
  staleReads: number
  /** Why it was not acknowledged (status and error code of the last answer). */
  detail: string
  readonly startedAt: number
  /** When the (last) write was sent; null when none was. */
  sentAt: number | null
  endedAt: number
}

export interface AccountState {
  readonly balance: number
  readonly applied: readonly string[]
}

export interface Audit {
  readonly mode: Mode
  readonly attempted: number
  readonly acked: number
  readonly declined: number
  readonly retried: number
  readonly staleReads: number
  readonly gaveUp: number
  readonly unavailable: number
  readonly indeterminate: number
  readonly failed: number
  readonly total: number
  readonly expectedTotal: number
  readonly negative: number
  readonly min: number
  /** Acknowledged transfers whose debit or credit is not reflected in the final accounts. */
  readonly ackedLost: number
  readonly debitsLost: number
  readonly creditsLost: number
  /** Acknowledged transfers whose record does not exist. */
  readonly recordsMissing: number
  /** Transfers that took effect: records that exist (strict: acked or indeterminate that committed). */
  readonly effective: number
  /** Accounts whose balance differs from initial + incoming − outgoing over the effective transfers. */
  readonly accountsOff: number
  /** Ids in `applied` lists with no transfer record (a write without its record). */
  readonly unrecorded: number
}

export interface RunResult {
  readonly mode: Mode
  readonly attempts: Attempt[]
  readonly startedAt: number
  readonly cutAt: number
  readonly healedAt: number
  readonly endedAt: number
  /** Strict: the nodes that thought they were primary when the partition was applied, and on the majority side when it healed. */
  readonly primaryBefore: readonly string[]
  readonly primaryDuring: readonly string[]
}

// ------------------------------------------------------------------------------ HTTP

export interface Reply {
  readonly status: number
  readonly json: any
}

/** One request with a client-side timeout; status 0 when no answer came (network error or timeout). */
export async function call(base: string, method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<Reply> {
  try {
    const { status, json } = await http(base, method, path, body, undefined, AbortSignal.timeout(timeoutMs))
    return { status, json }
  } catch (err) {
    return { status: 0, json: { error: { code: 'NO_ANSWER', message: String(err) } } }
  }
}

const describeReply = (reply: Reply): string => `${reply.status} ${reply.json?.error?.code ?? reply.json?.status ?? ''}`.trim()

// ------------------------------------------------------------------------------ the two stores

export const COLLECTIONS = {
  accounts: { mode: 'strict' },
  transfers: { mode: 'strict' },
  ledger: { mode: 'crdt', type: 'lww' },
  ledger_transfers: { mode: 'crdt', type: 'lww' },
} as const

export const accountId = (i: number): string => `acct-${i}`

interface TransferRecord {
  readonly from: string
  readonly to: string
  readonly amount: number
  readonly teller: string
}

interface Store {
  readonly mode: Mode
  /** Creates every account with the initial balance, acknowledged by every node. */
  setup(cluster: PartitionedCluster, options: BankOptions): Promise<void>
  transfer(base: string, attempt: Attempt, options: BankOptions): Promise<void>
  /** After healing: waits until the store has settled, then reads the accounts and the records of `ids`. */
  settle(cluster: PartitionedCluster, options: BankOptions, ids: readonly string[]): Promise<{ accounts: Map<string, AccountState>; records: Map<string, TransferRecord> }>
}

/** Reads two accounts concurrently; null (with the reason in attempt.detail) when either read failed. */
async function readPair(attempt: Attempt, read: (id: string) => Promise<Reply>): Promise<[Reply, Reply] | null> {
  const [source, target] = await Promise.all([read(attempt.from), read(attempt.to)])
  for (const reply of [source, target]) {
    if (reply.status !== 200) {
      attempt.detail = `read ${describeReply(reply)}`
      attempt.outcome = reply.status === 503 || reply.status === 504 || reply.status === 0 ? 'unavailable' : 'failed'
      return null
    }
  }
  return [source, target]
}

const withApplied = (state: AccountState, id: string, delta: number) => ({ balance: state.balance + delta, applied: [...state.applied, id] })

/**
 * Strict: read both accounts at the primary, then ONE atomic batch at `w=majority` — both balances
 * guarded by the versions read, plus the transfer record (`exists: false`). 409 → read again and retry.
 */
async function strictTransfer(base: string, attempt: Attempt, options: BankOptions): Promise<void> {
  for (;;) {
    const reads = await Promise.all([attempt.from, attempt.to].map((id) => call(base, 'GET', `/v1/accounts/${id}?read=primary&timeoutMs=500`)))
    if (reads.some((reply) => reply.status === 404) && attempt.staleReads < options.maxRetries) {
      // Every account exists from before the run: a 404 is a stale read. Read again.
      attempt.staleReads += 1
      await new Promise((resolve) => setTimeout(resolve, 10))
      continue
    }
    const pair = await readPair(attempt, async (id) => reads[id === attempt.from ? 0 : 1] as Reply)
    if (pair === null) return
    const [source, target] = pair
    const src = source.json.value as AccountState
    const dst = target.json.value as AccountState
    if (src.balance < attempt.amount) {
      attempt.outcome = 'declined'
      return
    }
    attempt.sentAt = Date.now()
    const reply = await call(base, 'POST', '/v1/accounts/_batch?w=majority&timeoutMs=1000', {
      ops: [
        { op: 'patch', id: attempt.from, fields: withApplied(src, attempt.id, -attempt.amount), expectVersion: source.json.version },
        { op: 'patch', id: attempt.to, fields: withApplied(dst, attempt.id, attempt.amount), expectVersion: target.json.version },
        { op: 'put', collection: 'transfers', id: attempt.id, value: { from: attempt.from, to: attempt.to, amount: attempt.amount, teller: attempt.teller }, exists: false },
      ],
    })
    attempt.detail = describeReply(reply)
    if (reply.status === 200 && reply.json.status === 'acknowledged') {
      attempt.outcome = 'acked'
      return
    }
    if (reply.status === 409 && reply.json.error?.code === 'PRECONDITION_FAILED') {
      // All preconditions or nothing: nothing was written, so reading again and retrying is safe.
      if (attempt.retries >= options.maxRetries) {
        attempt.outcome = 'gave-up'
        return
      }
      attempt.retries += 1
      continue
    }
    // 202 indeterminate or no answer: the outcome is unknown — never assume either way.
    // 503 (UNAVAILABLE, NOT_PRIMARY): nothing was written; the teller moves on.
    attempt.outcome = reply.status === 503 ? 'unavailable' : reply.status === 202 || reply.status === 0 ? 'indeterminate' : 'failed'
    return
  }
}

/** Strict: accounts and transfer records in strict collections; see {@link strictTransfer}. */
export const strictStore: Store = {
  mode: 'strict',

  async setup(cluster, options) {
    const base = cluster.base(cluster.ids[0] as string)
    for (let i = 0; i < options.accounts; i++) {
      const reply = await call(base, 'PUT', `/v1/accounts/${accountId(i)}?w=all&exists=false`, { balance: options.initialBalance, applied: [] })
      if (reply.status !== 200) throw new Error(`cannot create ${accountId(i)}: ${JSON.stringify(reply.json)}`)
    }
  },

  transfer: strictTransfer,

  async settle(cluster, options, ids) {
    await cluster.waitConnected(10_000)
    const primary = await cluster.waitPrimary(cluster.ids, 10_000)
    const base = cluster.base(primary)
    // A barrier write: once it is committed everywhere, so is every entry before it in the new
    // primary's log (writes answered indeterminate may commit late, after the heal).
    const barrier = await call(base, 'PUT', '/v1/transfers/audit-barrier?w=all&timeoutMs=5000', { at: Date.now() })
    if (barrier.status !== 200) throw new Error(`barrier write failed: ${JSON.stringify(barrier.json)}`)
    const accounts = new Map<string, AccountState>()
    const records = new Map<string, TransferRecord>()
    let token = '0:0'
    // Read the accounts and the records; again if the primary applied anything meanwhile.
    for (let round = 0; ; round++) {
      accounts.clear()
      records.clear()
      let first: string | null = null
      for (let i = 0; i < options.accounts; i++) {
        const reply = await call(base, 'GET', `/v1/accounts/${accountId(i)}?read=primary`)
        if (reply.status !== 200) throw new Error(`cannot read ${accountId(i)} at the primary: ${JSON.stringify(reply.json)}`)
        accounts.set(accountId(i), reply.json.value as AccountState)
        first ??= reply.json.token as string
      }
      await inBatches(ids, 32, async (id) => {
        const reply = await call(base, 'GET', `/v1/transfers/${id}?read=primary`)
        if (reply.status === 200) records.set(id, reply.json.value as TransferRecord)
        else if (reply.status !== 404) throw new Error(`cannot read transfer ${id}: ${JSON.stringify(reply.json)}`)
      })
      const last = await call(base, 'GET', `/v1/accounts/${accountId(0)}?read=primary`)
      if (last.json.token === first) {
        token = first as string
        break
      }
      if (round >= 10) throw new Error('the strict store kept changing after the run')
    }
    // Every replica, once it has applied what the primary had, answers the same accounts.
    for (const id of cluster.ids) {
      for (const [account, state] of accounts) {
        const reply = await call(cluster.base(id), 'GET', `/v1/accounts/${account}?read=nearest&after=${token}&timeoutMs=5000`)
        if (reply.status !== 200 || canonical(reply.json.value) !== canonical(state)) {
          throw new Error(`node ${id} disagrees with the primary on ${account}: ${JSON.stringify(reply.json)}`)
        }
      }
    }
    return { accounts, records }
  },
}

/**
 * LWW: what an app naïvely does on a multi-primary store — read both balances at its own node, PATCH
 * the source, PATCH the target (w=local), PUT the transfer record.
 */
export const lwwStore: Store = {
  mode: 'lww',

  async setup(cluster, options) {
    const base = cluster.base(cluster.ids[0] as string)
    for (let i = 0; i < options.accounts; i++) {
      const reply = await call(base, 'PUT', `/v1/ledger/${accountId(i)}?w=all`, { balance: options.initialBalance, applied: [] })
      if (reply.status !== 200 || reply.json.ack !== 'all') throw new Error(`cannot create ledger ${accountId(i)}: ${JSON.stringify(reply.json)}`)
    }
  },

  async transfer(base, attempt) {
    const pair = await readPair(attempt, (id) => call(base, 'GET', `/v1/ledger/${id}`))
    if (pair === null) return
    const [source, target] = pair
    const src = source.json.doc as AccountState
    const dst = target.json.doc as AccountState
    if (src.balance < attempt.amount) {
      attempt.outcome = 'declined'
      return
    }
    attempt.sentAt = Date.now()
    const writes: [string, string, unknown][] = [
      ['PATCH', `/v1/ledger/${attempt.from}?w=local`, withApplied(src, attempt.id, -attempt.amount)],
      ['PATCH', `/v1/ledger/${attempt.to}?w=local`, withApplied(dst, attempt.id, attempt.amount)],
      ['PUT', `/v1/ledger_transfers/${attempt.id}?w=local`, { from: attempt.from, to: attempt.to, amount: attempt.amount, teller: attempt.teller }],
    ]
    for (const [method, path, body] of writes) {
      const reply = await call(base, method, path, body)
      if (reply.status !== 200) {
        attempt.detail = `${method} ${describeReply(reply)}`
        attempt.outcome = reply.status === 503 ? 'unavailable' : reply.status === 0 ? 'indeterminate' : 'failed'
        return
      }
    }
    attempt.outcome = 'acked'
  },

  async settle(cluster, options, ids) {
    await cluster.waitConnected(10_000)
    const accounts = new Map<string, AccountState>()
    const records = new Map<string, TransferRecord>()
    // Converged: every node holds every record written and the same account documents.
    const deadline = Date.now() + 10_000
    for (;;) {
      accounts.clear()
      records.clear()
      let agree = true
      for (let i = 0; i < options.accounts && agree; i++) {
        const docs = await Promise.all(cluster.ids.map((id) => call(cluster.base(id), 'GET', `/v1/ledger/${accountId(i)}`)))
        const first = canonical(docs[0]?.json.doc)
        agree = docs.every((reply) => reply.status === 200 && canonical(reply.json.doc) === first)
        if (agree) accounts.set(accountId(i), docs[0]?.json.doc as AccountState)
      }
      if (agree) {
        await inBatches(ids, 32, async (transfer) => {
          const replies = await Promise.all(cluster.ids.map((id) => call(cluster.base(id), 'GET', `/v1/ledger_transfers/${transfer}`)))
          if (replies.every((reply) => reply.status === 200)) records.set(transfer, replies[0]?.json.doc as TransferRecord)
          else if (replies.some((reply) => reply.status === 200)) agree = false
        })
      }
      if (agree) return { accounts, records }
      if (Date.now() > deadline) throw new Error('the lww ledger did not converge on all three nodes within 10 s')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  },
}

// ------------------------------------------------------------------------------ the run


/** Runs the tellers of every region against `store` for `durationMs`, cutting and healing the partition on schedule. */
export async function runWorkload(cluster: PartitionedCluster, store: Store, options: BankOptions): Promise<RunResult> {
  const attempts: Attempt[] = []
  const startedAt = Date.now()
  const end = startedAt + options.durationMs
  let cutAt = 0
  let healedAt = 0
  let primaryBefore: string[] = []
  let primaryDuring: string[] = []
  const partition = options.partition
  const cutTimer = setTimeout(() => {
    primaryBefore = cluster.primaries()
    cluster.partition(partition.minority, partition.majority)
    cutAt = Date.now()
  }, partition.fromMs)
  const healTimer = setTimeout(() => {
    primaryDuring = cluster.primaries(partition.majority)
    cluster.heal()
    healedAt = Date.now()
  }, partition.toMs)

  const teller = async (region: string, index: number) => {
    const name = `${region}${index}`
    const random = seededRandom(options.seed * 7919 + region.charCodeAt(0) * 31 + index)
    const base = cluster.base(region)
    let seq = 0
    while (Date.now() < end) {
      const from = Math.floor(random() * options.accounts)
      const to = (from + 1 + Math.floor(random() * (options.accounts - 1))) % options.accounts
      const attempt: Attempt = {
        id: `${store.mode}-${name}-${seq++}`,
        teller: name,
        region,
        from: accountId(from),
        to: accountId(to),
        amount: 1 + Math.floor(random() * options.maxAmount),
        outcome: 'failed',
        retries: 0,
        staleReads: 0,
        detail: '',
        startedAt: Date.now(),
        sentAt: null,
        endedAt: 0,
      }
      attempts.push(attempt)
      await store.transfer(base, attempt, options)
      attempt.endedAt = Date.now()
      // A teller whose node cannot serve it backs off a little instead of spinning.
      if (attempt.outcome === 'unavailable' || attempt.outcome === 'indeterminate') await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  try {
    await Promise.all(cluster.ids.flatMap((region) => Array.from({ length: options.tellersPerRegion }, (_, i) => teller(region, i))))
  } finally {
    clearTimeout(cutTimer)
    clearTimeout(healTimer)
    cluster.heal()
  }
  return { mode: store.mode, attempts, startedAt, cutAt, healedAt: healedAt || Date.now(), endedAt: Date.now(), primaryBefore, primaryDuring }
}

// ------------------------------------------------------------------------------ the audit

export async function audit(cluster: PartitionedCluster, store: Store, options: BankOptions, run: RunResult): Promise<Audit> {
  const sent = run.attempts.filter((a) => a.sentAt !== null).map((a) => a.id)
  const { accounts, records } = await store.settle(cluster, options, sent)
  const count = (outcome: Outcome) => run.attempts.filter((a) => a.outcome === outcome).length
  const acked = run.attempts.filter((a) => a.outcome === 'acked')
  const balances = [...accounts.values()].map((s) => s.balance)
  const total = balances.reduce((sum, b) => sum + b, 0)

  // Strict: every record that exists took effect (acked, or indeterminate and committed). LWW: the
  // acknowledged ones (a record is only written once both patches were acknowledged).
  const effective = store.mode === 'strict' ? [...records.keys()] : acked.filter((a) => records.has(a.id)).map((a) => a.id)
  const expected = new Map<string, number>([...accounts.keys()].map((id) => [id, options.initialBalance]))
  for (const id of effective) {
    const record = records.get(id) as TransferRecord
    expected.set(record.from, (expected.get(record.from) ?? 0) - record.amount)
    expected.set(record.to, (expected.get(record.to) ?? 0) + record.amount)
  }
  const accountsOff = [...accounts].filter(([id, state]) => state.balance !== expected.get(id)).length

  let debitsLost = 0
  let creditsLost = 0
  let ackedLost = 0
  const applied = (account: string, id: string) => accounts.get(account)?.applied.includes(id) ?? false
  for (const attempt of acked) {
    const debit = applied(attempt.from, attempt.id)
    const credit = applied(attempt.to, attempt.id)
    if (!debit) debitsLost += 1
    if (!credit) creditsLost += 1
    if (!debit || !credit || !records.has(attempt.id)) ackedLost += 1
  }
  const unrecorded = new Set([...accounts.values()].flatMap((s) => s.applied).filter((id) => !records.has(id))).size

  return {
    mode: store.mode,
    attempted: run.attempts.length,
    acked: acked.length,
    declined: count('declined'),
    retried: run.attempts.reduce((sum, a) => sum + a.retries, 0),
    staleReads: run.attempts.reduce((sum, a) => sum + a.staleReads, 0),
    gaveUp: count('gave-up'),
    unavailable: count('unavailable'),
    indeterminate: count('indeterminate'),
    failed: count('failed'),
    total,
    expectedTotal: options.accounts * options.initialBalance,
    negative: balances.filter((b) => b < 0).length,
    min: Math.min(...balances),
    ackedLost,
    debitsLost,
    creditsLost,
    recordsMissing: acked.filter((a) => !records.has(a.id)).length,
    effective: effective.length,
    accountsOff,
    unrecorded,
  }
}

/** Per region, what happened to the attempts started and finished while the partition was on. */
export function duringPartition(run: RunResult): Map<string, Record<Outcome, number>> {
  const out = new Map<string, Record<Outcome, number>>()
  for (const attempt of run.attempts) {
    if (attempt.startedAt < run.cutAt || attempt.endedAt > run.healedAt) continue
    const row = out.get(attempt.region) ?? { acked: 0, declined: 0, unavailable: 0, indeterminate: 0, 'gave-up': 0, failed: 0 }
    row[attempt.outcome] += 1
    out.set(attempt.region, row)
  }
  return out
}

// ------------------------------------------------------------------------------ helpers

/** JSON with object keys sorted, so two nodes' copies of a document compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  )
}

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each))
}

export function formatTable(audits: readonly Audit[]): string {
  const columns: [string, (a: Audit) => string | number][] = [
    ['mode', (a) => a.mode],
    ['attempted', (a) => a.attempted],
    ['acked', (a) => a.acked],
    ['declined', (a) => a.declined],
    ['retried(409)', (a) => a.retried],
    ['unavailable', (a) => a.unavailable],
    ['indeterminate', (a) => a.indeterminate],
    ['total', (a) => a.total],
    ['Δtotal', (a) => signed(a.total - a.expectedTotal)],
    ['negative', (a) => a.negative],
    ['min', (a) => a.min],
    ['acked-lost', (a) => a.ackedLost],
    ['accounts-off', (a) => a.accountsOff],
  ]
  const rows = [columns.map(([name]) => name), ...audits.map((a) => columns.map(([, get]) => String(get(a))))]
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)))
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ')).join('\n')
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n)
}

// A bank teller on strict collections (docs/client.md, Strict collections): a transfer is ONE atomic batch
// of three ops — the two new balances, each guarded by the version it was computed from, and a record
// in `transfers` that must not exist yet. So the primary applies it whole or not at all, never on top of a
// balance that changed meanwhile (PRECONDITION_FAILED), and never twice: the record's id is the
// transfer's identity, so a retry after an unknown outcome cannot apply it a second time.
import { StrictReadFailed, StrictWriteRejected } from 'meridian/client/node'

/** The batch that moves `amount` from account `a` to `b`, as read (`{ id, value, version }`). */
export function transferBatch(transferId, a, b, amount) {
  return [
    { kind: 'patch', id: a.id, fields: { balance: a.value.balance - amount }, expectVersion: a.version },
    { kind: 'patch', id: b.id, fields: { balance: b.value.balance + amount }, expectVersion: b.version },
    { kind: 'put', collection: 'transfers', id: transferId, value: { from: a.id, to: b.id, amount }, exists: false },
  ]
}

/** Reads an account at the primary, as `{ id, value, version }`. */
export async function readAccount(accounts, id) {
  const doc = await accounts.get(id)
  if (doc === null) throw new Error(`account ${id} does not exist`)
  return { id, value: doc.value, version: doc.version }
}

/**
 * Moves `amount` from `from` to `to` exactly once, retrying through rejections and failovers until the
 * outcome is known. Resolves `{ outcome, attempts, token }`:
 * - `acknowledged`: this call's batch was acknowledged at w=majority (it survives any failover [ST1]);
 * - `applied`: an earlier attempt whose outcome was unknown (indeterminate) turned out to have committed;
 * - `declined`: the balance, as read at the primary, did not cover the amount; nothing was written.
 * `onRetry(reason)` hears why an attempt did not settle it (a typed rejection's code, an indeterminate
 * outcome, a read that failed).
 */
export async function transfer(client, { id, from, to, amount }, { deadlineMs = 30_000, onRetry = () => {} } = {}) {
  const accounts = client.strict('accounts')
  const transfers = client.strict('transfers')
  const deadline = Date.now() + deadlineMs
  for (let attempts = 1; ; attempts++) {
    try {
      // Did an earlier attempt commit after all? The record says.
      if ((await transfers.get(id)) !== null) return { outcome: 'applied', attempts, token: null }
      const [a, b] = await Promise.all([readAccount(accounts, from), readAccount(accounts, to)])
      if (a.value.balance < amount) return { outcome: 'declined', attempts, token: null, balance: a.value.balance }
      const result = await accounts.batch(transferBatch(id, a, b, amount), { w: 'majority' })
      if (result.status === 'acknowledged') return { outcome: 'acknowledged', attempts, token: result.token }
      onRetry(`indeterminate (${result.reason})`) // may or may not have committed: the record tells, next round
    } catch (err) {
      const retryable =
        (err instanceof StrictWriteRejected && ['PRECONDITION_FAILED', 'UNAVAILABLE', 'NOT_PRIMARY'].includes(err.code)) ||
        (err instanceof StrictReadFailed && ['UNAVAILABLE', 'NOT_YET'].includes(err.code))
      if (!retryable) throw err
      onRetry(err.code) // nothing was written (a rejection), or nothing was read
    }
    if (Date.now() > deadline) throw new Error(`transfer ${id}: no outcome within ${deadlineMs} ms`)
    await new Promise((r) => setTimeout(r, Math.min(500, 25 * attempts)))
  }
}

/**
 * The books, read at the primary: every account, every transfer record of `transferIds`, the total, and the
 * accounts whose balance is not `initial` + incoming − outgoing over the records that exist.
 */
export async function audit(client, accountIds, transferIds, initial) {
  const read = async (collection, id) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.strict(collection).get(id)
      } catch (err) {
        if (!(err instanceof StrictReadFailed) || attempt === 100) throw err
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }
  const balances = {}
  for (const id of accountIds) balances[id] = (await read('accounts', id))?.value.balance ?? null
  const records = new Map()
  for (const id of transferIds) {
    const doc = await read('transfers', id)
    if (doc !== null) records.set(id, doc.value)
  }
  const expected = Object.fromEntries(accountIds.map((id) => [id, initial]))
  for (const t of records.values()) {
    expected[t.from] -= t.amount
    expected[t.to] += t.amount
  }
  const total = Object.values(balances).reduce((sum, b) => sum + (b ?? 0), 0)
  const off = accountIds.filter((id) => balances[id] !== expected[id])
  return { balances, records, total, off }
}

// The bank: the `accounts` collection in strict mode. One primary orders every write; a transfer is one
// atomic batch whose preconditions name the account versions it was computed from, so a transfer made
// offline against balances that changed meanwhile is rejected when it reaches the primary, never applied
// twice or on top of a newer balance.

const ACCOUNTS = ['alice', 'bob']

const describeOp = (op) =>
  op.kind === 'batch'
    ? op.ops.map((o) => `${o.id} → ${o.fields?.balance ?? o.value?.balance ?? '?'}`).join(', ')
    : `${op.id} → ${op.fields?.balance ?? op.value?.balance ?? '?'}`

const describeOutcome = (outcome) => {
  if (outcome.status === 'rejected') {
    const e = outcome.error
    if (e.code === 'PRECONDITION_FAILED') return `rejected: ${e.id} changed meanwhile (version ${e.actualVersion}, expected ${e.expected?.expectVersion})`
    return `rejected: ${e.code}`
  }
  if (outcome.status === 'indeterminate') return `unknown outcome (${outcome.result.reason}): read the balances to see`
  return `acknowledged at ${outcome.result.level} · ${outcome.result.token}`
}

export function bank(accounts, { balances, form, from, to, amount, open, transfers, message }) {
  const seen = new Map() // id -> { value, version } as the region last showed it
  const rows = new Map() // writeId -> <li>

  const showBalances = () => {
    balances.replaceChildren(
      ...ACCOUNTS.map((id) => {
        const li = document.createElement('li')
        li.dataset.account = id
        const s = seen.get(id)
        li.textContent = s === undefined ? `${id}: …` : s.value === null ? `${id}: no account` : `${id}: ${s.value.balance} (v${s.version})`
        return li
      }),
    )
    open.hidden = ACCOUNTS.every((id) => seen.get(id)?.value != null)
  }
  for (const id of ACCOUNTS) {
    accounts.subscribe(id, (change) => {
      seen.set(id, { value: change.value, version: change.version })
      showBalances()
    })
  }

  const row = (write) => {
    let li = rows.get(write.writeId)
    if (!li) {
      li = document.createElement('li')
      li.dataset.write = String(write.writeId)
      li.innerHTML = '<span class="what"></span> <span class="badge state"></span>'
      li.querySelector('.what').textContent = describeOp(write.op) + (write.restored ? ' (made before the reload)' : '')
      rows.set(write.writeId, li)
      transfers.prepend(li)
    }
    return li
  }
  const setState = (li, state, text) => {
    const badge = li.querySelector('.state')
    badge.dataset.state = state
    badge.className = `badge state ${state}`
    badge.textContent = text
  }
  const showPending = () => {
    for (const write of accounts.pending()) {
      setState(row(write), 'pending', write.state === 'queued' ? 'queued: waiting for a region' : 'sent: waiting for the primary')
    }
  }
  accounts.onOutcome((outcome) => {
    const state = outcome.status === 'acknowledged' ? 'replicated' : outcome.status === 'rejected' ? 'error' : 'local'
    setState(row(outcome.write), state, describeOutcome(outcome))
    showPending()
  })

  const say = (text) => {
    message.textContent = text
  }

  open.addEventListener('click', () => {
    for (const id of ACCOUNTS) {
      if (seen.get(id)?.value != null) continue
      accounts.put(id, { owner: id, balance: 100 }, { exists: false }).catch(() => undefined)
    }
    showPending()
  })

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const a = seen.get(from.value)
    const b = seen.get(to.value)
    const n = Number(amount.value)
    if (from.value === to.value) return say('pick two different accounts')
    if (!a?.value || !b?.value) return say('the accounts are not known yet: open them, or connect once')
    if (!(Number.isInteger(n) && n > 0)) return say('the amount must be a whole number above 0')
    if (a.value.balance < n) return say(`${from.value} has only ${a.value.balance}`)
    say('')
    // Computed from the balances last seen; the versions make the primary refuse it if either changed.
    accounts
      .batch(
        [
          { kind: 'patch', id: from.value, fields: { balance: a.value.balance - n }, expectVersion: a.version },
          { kind: 'patch', id: to.value, fields: { balance: b.value.balance + n }, expectVersion: b.version },
        ],
        { w: 'majority' },
      )
      .catch(() => undefined) // shown through onOutcome
    showPending()
  })

  showBalances()
  showPending()
}

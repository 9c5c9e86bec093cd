import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MessageType, type Message } from '../../core/codec/index.js'
import { FAST_STRICT, acceptedClient, http, primaryOf, startCluster, type InProcessCluster } from './in-process.js'

describe('strict collections over REST and WebSocket (in-process cluster of 3)', () => {
  let cluster: InProcessCluster
  let primary: string
  let replicas: string[]
  const base = (id: string) => cluster.server(id).httpUrl

  beforeAll(async () => {
    cluster = await startCluster(['a', 'b', 'c'], 'mesh', FAST_STRICT)
    await cluster.waitConnected()
    primary = await primaryOf(cluster)
    replicas = ['a', 'b', 'c'].filter((id) => id !== primary)
  })
  afterAll(() => cluster.close())

  it('[ST1] a majority write sent to a replica is forwarded, acknowledged with an epoch:lsn token, and readable everywhere after it [RD1]', async () => {
    const replica = replicas[0] as string
    const put = await http(base(replica), 'PUT', '/v1/accounts/a1?w=majority', { balance: 100 })
    expect(put.status).toBe(200)
    expect(put.json).toMatchObject({ status: 'acknowledged', requested: 'majority', level: 'majority', degraded: false })
    expect(put.json.token).toMatch(/^\d+:\d+$/)
    for (const id of ['a', 'b', 'c']) {
      const read = await http(base(id), 'GET', `/v1/accounts/a1?read=nearest&after=${put.json.token}`)
      expect(read.status).toBe(200)
      expect(read.json.value).toEqual({ balance: 100 })
      expect(read.headers.get('x-meridian-lag-ms')).toMatch(/^\d+$/)
      expect(read.headers.get('x-meridian-node')).toBe(id)
    }
  })

  it('read=linearizable on a replica goes through a read barrier on the primary and sees the latest acknowledged write', async () => {
    const put = await http(base(primary), 'PUT', '/v1/accounts/lin?w=majority', { v: 1 })
    const read = await http(base(replicas[0] as string), 'GET', '/v1/accounts/lin?read=linearizable')
    expect(read.status).toBe(200)
    expect(read.json.value).toEqual({ v: 1 })
    expect(read.json.node).toBe(primary)
    const [epoch, lsn] = String(read.json.token).split(':').map(Number)
    expect(lsn).toBeGreaterThan(Number(String(put.json.token).split(':')[1]))
    expect(epoch).toBeGreaterThan(0)
  })

  it('acknowledges each write concern at its level', async () => {
    for (const w of ['local', 'one', 'majority', 'all'] as const) {
      const put = await http(base(primary), 'PUT', `/v1/accounts/w-${w}?w=${w}`, { w })
      expect(put.status).toBe(200)
      expect(put.json.requested).toBe(w)
      expect(put.json.level).toBe(w)
    }
  })

  it('rejects a failed precondition with 409 and writes nothing; a batch is all or nothing', async () => {
    const first = await http(base(primary), 'PUT', '/v1/accounts/p1?exists=false', { balance: 5 })
    expect(first.status).toBe(200)
    const second = await http(base(replicas[1] as string), 'PUT', '/v1/accounts/p1?exists=false', { balance: 6 })
    expect(second.status).toBe(409)
    expect(second.json.error).toMatchObject({ code: 'PRECONDITION_FAILED', key: expect.stringContaining('p1'), opIndex: 0 })
    const version = (await http(base(primary), 'GET', '/v1/accounts/p1')).json.version as number

    const batch = await http(base(primary), 'POST', '/v1/accounts/_batch', {
      ops: [
        { op: 'patch', id: 'p1', fields: { balance: 0 }, expectVersion: version },
        { op: 'put', id: 'p2', value: { balance: 5 }, exists: true },
      ],
    })
    expect(batch.status).toBe(409)
    expect(batch.json.error.opIndex).toBe(1)
    const after = await http(base(primary), 'GET', '/v1/accounts/p1')
    expect(after.json.value).toEqual({ balance: 5 })

    const ok = await http(base(primary), 'POST', '/v1/accounts/_batch?w=majority', {
      ops: [
        { op: 'patch', id: 'p1', fields: { balance: 0 }, expectVersion: version },
        { op: 'put', id: 'p2', value: { balance: 5 }, exists: false },
      ],
    })
    expect(ok.status).toBe(200)
    const p2 = await http(base(primary), 'GET', '/v1/accounts/p2')
    expect(p2.json.value).toEqual({ balance: 5 })
  })

  it('the same idempotency-key twice writes once: the second answer is the first entry, duplicate: true', async () => {
    const key = { 'idempotency-key': 'transfer-7f3a' }
    const first = await http(base(replicas[0] as string), 'PATCH', '/v1/accounts/idem?w=majority', { balance: 10 }, key)
    expect(first.status).toBe(200)
    expect(first.json).not.toHaveProperty('duplicate')
    // Resent through another node (forwarded with its key) with another body: still the first entry.
    const second = await http(base(replicas[1] as string), 'PATCH', '/v1/accounts/idem?w=majority', { balance: 99 }, key)
    expect(second.status).toBe(200)
    expect(second.json).toEqual({ ...first.json, duplicate: true })
    expect(second.headers.get('x-meridian-token')).toBe(first.json.token)
    const read = await http(base(primary), 'GET', `/v1/accounts/idem?after=${first.json.token}`)
    expect(read.json).toMatchObject({ value: { balance: 10 }, version: Number(String(first.json.token).split(':')[1]) })
    // One log entry carries the key.
    const node = cluster.server(primary).strict?.node
    const carrying = []
    for (let lsn = 1; node && lsn <= node.lastPosition.lsn; lsn++) if (node.entryAt(lsn)?.requestKey === 'transfer-7f3a') carrying.push(lsn)
    expect(carrying).toEqual([Number(String(first.json.token).split(':')[1])])
    // Bad keys are refused.
    expect((await http(base(primary), 'PUT', '/v1/accounts/idem', {}, { 'idempotency-key': 'k'.repeat(201) })).status).toBe(400)
  })

  it('answers bad requests with 400 and a stable code', async () => {
    expect((await http(base(primary), 'PUT', '/v1/accounts/x?w=some', {})).json.error.code).toBe('BAD_REQUEST')
    expect((await http(base(primary), 'GET', '/v1/accounts/x?after=nope')).status).toBe(400)
    expect((await http(base(primary), 'PUT', '/v1/accounts/x', '{not json')).status).toBe(400)
    expect((await http(base(primary), 'POST', '/v1/accounts/_batch', { ops: [{ op: 'put', id: 'x', collection: 'notes', value: 1 }] })).status).toBe(400)
  })

  it('[RD1] a read with a token never answers older state: a rolled-back or future token is refused', async () => {
    const future = await http(base(replicas[0] as string), 'GET', '/v1/accounts/a1?read=replica&after=1:999999&timeoutMs=100')
    expect(future.status).toBe(504)
    expect(future.json.error.code).toBe('NOT_YET')
  })

  it('serves StrictWrite and StrictRead to WebSocket clients on any node', async () => {
    const client = await acceptedClient(cluster.server(replicas[1] as string).url, 'ws-client')
    client.send({
      type: MessageType.StrictWrite,
      requestId: 7,
      request: { op: { kind: 'put', collection: 'accounts', id: 'ws1', value: { balance: 1 } }, concern: 'majority', timeoutMs: null, requestKey: null },
    })
    const result = (await client.next((m) => m.type === MessageType.StrictWriteResult)) as Extract<Message, { type: typeof MessageType.StrictWriteResult }>
    expect(result.requestId).toBe(7)
    expect(result.reply.status).toBe('acknowledged')
    if (result.reply.status !== 'acknowledged') return
    client.send({
      type: MessageType.StrictRead,
      requestId: 8,
      request: { collection: 'accounts', id: 'ws1', after: result.reply.token, read: 'nearest', maxStalenessMs: null, timeoutMs: null },
    })
    const read = (await client.next((m) => m.type === MessageType.StrictReadResult)) as Extract<Message, { type: typeof MessageType.StrictReadResult }>
    expect(read.reply).toMatchObject({ status: 'ok', document: { value: { balance: 1 } } })
    client.send({
      type: MessageType.StrictWrite,
      requestId: 9,
      request: { op: { kind: 'put', collection: 'notes', id: 'n', value: {} }, concern: 'majority', timeoutMs: null, requestKey: null },
    })
    const refused = (await client.next((m) => m.type === MessageType.StrictWriteResult && m.requestId === 9)) as Extract<Message, { type: typeof MessageType.StrictWriteResult }>
    expect(refused.reply).toMatchObject({ status: 'rejected', error: { code: 'INVALID_OP' } })
    client.ws.close()
  })

  it('an unexpected failure inside a strict write is answered indeterminate (never failed), and the node goes on', async () => {
    const host = cluster.server(primary).strict
    if (host === null) throw new Error('no strict host')
    const write = host.node.write.bind(host.node)
    host.node.write = () => {
      throw new Error('injected failure')
    }
    try {
      const client = await acceptedClient(cluster.server(primary).url, 'ws-failure')
      client.send({ type: MessageType.StrictWrite, requestId: 1, request: { op: { kind: 'put', collection: 'accounts', id: 'boom', value: 1 }, concern: 'majority', timeoutMs: null, requestKey: null } })
      const result = (await client.next((m) => m.type === MessageType.StrictWriteResult)) as Extract<Message, { type: typeof MessageType.StrictWriteResult }>
      expect(result.reply).toMatchObject({ status: 'indeterminate' })
      client.ws.close()
      expect((await http(base(primary), 'PUT', '/v1/accounts/boom?w=majority', { v: 1 })).status).toBe(202)
    } finally {
      host.node.write = write
    }
    expect((await http(base(primary), 'PUT', '/v1/accounts/after-boom?w=majority', { v: 1 })).status).toBe(200)
  })

  it('/status shows epoch, primary, commit index and per-replica offsets and lag; /metrics has the strict gauges', async () => {
    const status = await http(base(primary), 'GET', '/status')
    expect(status.json).toMatchObject({ role: 'primary', primary, epoch: expect.any(Number), commitIndex: expect.any(Number) })
    expect(status.json.strict.replicas).toHaveLength(2)
    for (const replica of status.json.strict.replicas) {
      expect(replica).toMatchObject({ link: expect.stringMatching(/streaming|catch-up/), durableLsn: expect.any(Number), lag: { entries: expect.any(Number) } })
    }
    const replicaStatus = await http(base(replicas[0] as string), 'GET', '/status')
    expect(replicaStatus.json).toMatchObject({ role: 'replica', primary })
    const metrics = await http(base(primary), 'GET', '/metrics')
    expect(metrics.json).toContain('meridian_strict_is_primary 1')
    expect(metrics.json).toMatch(/meridian_strict_writes_total\{concern="majority",outcome="acknowledged",level="majority"\} \d+/)
  })

  it('[ST1] a newly promoted primary never answers read=primary without the writes its predecessor acknowledged', async () => {
    for (let round = 0; round < 6; round++) {
      const put = await http(base(primary), 'PUT', `/v1/accounts/handover-${round}?w=all`, { round })
      expect(put.status).toBe(200)
      const next = replicas[round % 2] as string
      const host = cluster.server(next).strict
      if (host === null) throw new Error('no strict host')
      host.promote('test')
      const deadline = Date.now() + 3000
      while (host.node.currentRole !== 'primary' && Date.now() < deadline) await host.waitForRoleChange(100)
      // In the same turn as the election result: the predecessor's commit index may not have reached it yet.
      const read = await host.read({ collection: 'accounts', id: `handover-${round}`, after: null, read: 'primary', maxStalenessMs: null, timeoutMs: null })
      expect(read).toMatchObject({ status: 'ok', document: { value: { round } } })
      primary = await primaryOf(cluster)
      replicas = ['a', 'b', 'c'].filter((id) => id !== primary)
    }
  })

  it('[ST5] GET /admin/rollbacks needs the token, refuses malformed paging, and answers a page', async () => {
    expect((await fetch(`${base(primary)}/admin/rollbacks`)).status).toBe(401)
    expect((await fetch(`${base(primary)}/admin/rollbacks`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    const auth = { authorization: `Bearer ${FAST_STRICT.adminToken}` }
    for (const query of ['from=0', 'from=-1', 'limit=abc', 'limit=1e3', 'from=99999999999999999999']) {
      expect((await fetch(`${base(primary)}/admin/rollbacks?${query}`, { headers: auth })).status, query).toBe(400)
    }
    const page = await fetch(`${base(primary)}/admin/rollbacks?from=1&limit=5000`, { headers: auth })
    expect(page.status).toBe(200)
    expect(await page.json()).toEqual({ nodeId: primary, rollbacks: [], next: null })
  })

  it('[FO2] admin step-down needs the token and hands over to another node; writes continue on the new primary', async () => {
    const denied = await fetch(`${base(primary)}/admin/stepdown`, { method: 'POST' })
    expect(denied.status).toBe(401)
    const before = cluster.server(primary).strict?.node.currentEpoch ?? 0
    const res = await fetch(`${base(primary)}/admin/stepdown`, { method: 'POST', headers: { authorization: `Bearer ${FAST_STRICT.adminToken}` } })
    expect(res.status).toBe(200)
    const next = await primaryOf(cluster, replicas)
    expect(cluster.server(next).strict?.node.currentEpoch ?? 0).toBeGreaterThan(before)
    const put = await http(base(primary), 'PUT', '/v1/accounts/after-stepdown?w=majority', { ok: true })
    expect(put.status).toBe(200)
    primary = next
    replicas = ['a', 'b', 'c'].filter((id) => id !== primary)
  })
})

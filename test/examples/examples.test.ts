/**
 * The Node examples (docs/examples.md), each run as a child process against `npm start` on free ports,
 * exactly as `npm run example:<name>` runs it: it must exit 0 and print its outcome, and that outcome is
 * checked against the cluster where it can be (the bank's balances read back over REST). Run times are
 * printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { npmStart, runExample, freeBasePort, type ExampleRun, type NpmStart } from './npm-start.js'

let cluster: NpmStart
let env: Record<string, string>

beforeAll(async () => {
  cluster = await npmStart()
  env = { MERIDIAN_BASE_PORT: String(cluster.basePort) }
}, 90_000)

afterAll(async () => {
  await cluster?.stop()
})

function ok(run: ExampleRun, name: string): string {
  console.log(`example ${name}: exit ${run.code} in ${run.ms} ms\n${run.stdout}`)
  expect(run.code, `${name} failed:\n${run.stdout}\n${run.stderr}`).toBe(0)
  return run.stdout
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
  return { status: res.status, body: await res.json() }
}

describe('the browser examples are served by every region', () => {
  it('/examples/text/ and /examples/kanban/ with their modules, the bundles they load, and nothing outside examples/', async () => {
    for (let i = 0; i < 3; i++) {
      for (const [path, type] of [
        ['/examples/text/', 'text/html'],
        ['/examples/text/page.js', 'text/javascript'],
        ['/examples/text/textarea.js', 'text/javascript'],
        ['/examples/kanban/', 'text/html'],
        ['/examples/kanban/page.js', 'text/javascript'],
        ['/examples/kanban/board.js', 'text/javascript'],
        ['/examples/todo/regions.js', 'text/javascript'],
        ['/bundle/meridian-yjs.js', 'text/javascript'],
        ['/bundle/meridian-automerge.js', 'text/javascript'],
      ] as const) {
        const res = await fetch(`${cluster.url(i)}${path}`, { signal: AbortSignal.timeout(5000) })
        await res.arrayBuffer()
        expect(res.status, path).toBe(200)
        expect(res.headers.get('content-type'), path).toContain(type)
      }
      for (const path of ['/examples/%2e%2e/package.json', '/examples/..%2fpackage.json', '/examples/nothing-here.js']) {
        const res = await fetch(`${cluster.url(i)}${path}`, { signal: AbortSignal.timeout(5000) })
        expect(res.status, path).toBe(404)
        expect(await res.text()).not.toContain('"name": "meridian"')
      }
    }
    expect(cluster.output()).toContain(`/examples/text/`)
    expect(cluster.output()).toContain('npm run example:text')
  })
})

describe('the Node examples against npm start', () => {
  it('example:text — two writers in two regions type at once and end with one text holding both', async () => {
    const out = ok(await runExample('examples/text/text.mjs', [], env), 'text')
    expect(out).toContain('every keystroke of both kept: yes')
    const converged = /converged: +both: (".*")/.exec(out)
    expect(converged).not.toBeNull()
    const text = JSON.parse(converged![1]!) as string
    expect(text).toContain('Hi Alice, Bob here. ')
    expect(text).toContain('Hello from Alice.')
    expect(text).toContain(' How are you?')
  })

  it('example:kanban — concurrent moves of one card from two regions leave it in exactly one column', async () => {
    const out = ok(await runExample('examples/kanban/kanban.mjs', [], env), 'kanban')
    expect(out).toContain('every card in exactly one column: yes')
    const board = out.slice(out.indexOf('3. converged'))
    const line = (column: string) => new RegExp(`^ +${column} +\\| (.*)$`, 'm').exec(board)?.[1] ?? ''
    const cards = [line('To do'), line('Doing'), line('Done')].flatMap((l) => l.split(', ')).filter((c) => c !== '—')
    expect(cards.sort()).toEqual(['Fix bug', 'Plan v2', 'Release', 'Write docs'])
    expect(line('Done')).toContain('Write docs')
  })

  it('example:bank (no terminal, no --kill) — preconditions, a typed rejection, books balanced; failover skipped with a hint', async () => {
    const out = ok(await runExample('examples/bank/bank.mjs', [], env), 'bank')
    expect(out).toMatch(/alice → bob 30: acknowledged/)
    expect(out).toMatch(/bob → carol 1000: declined \(bob has 130\)/)
    expect(out).toMatch(/alice → carol 60: rejected, PRECONDITION_FAILED/)
    expect(out).toMatch(/retried from a fresh read: declined \(alice has 10\)/)
    expect(out).toContain('failover skipped: run with --kill')
    expect(out).toContain('total 300 of 300: conserved')
    expect(out).toContain('acknowledged transfers: 2, recorded: 2, lost: 0')
    await expectBalances(out, cluster.url(0), { alice: 10, bob: 190, carol: 100 })
  })

  it('example:bank --kill — SIGKILLs the primary mid-stream; transfers continue on the new primary, none acknowledged is lost, the total is conserved', async () => {
    const before = (await getJson(`${cluster.url(0)}/status`)).body
    const oldPrimary: string = before.strict?.primary ?? before.primary
    const out = ok(await runExample('examples/bank/bank.mjs', ['--kill'], env, 90_000), 'bank --kill')
    expect(out).toContain(`killed ${oldPrimary}`)
    expect(out).toMatch(/-- \S+ elected primary, \d+ ms after the kill --/)
    // Every transfer of the stream settled, those after the kill included.
    const settled = [...out.matchAll(/^ +\S+-t(\d+): (acknowledged|applied)/gm)].map((m) => Number(m[1]))
    expect(settled).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
    expect(out).toContain('total 300 of 300: conserved')
    expect(out).toMatch(/lost: 0\n/)
    expect(out).toContain('accounts matching their transfer records: 3 of 3')

    // The primary's process is gone, another region is primary, and the books read there add up.
    const ports = [0, 1, 2].map((i) => cluster.url(i))
    const oldIndex = ['eu-1', 'us-1', 'ap-1'].indexOf(oldPrimary)
    await expect(fetch(`${ports[oldIndex]}/healthz`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow()
    const survivor = ports[(oldIndex + 1) % 3]!
    const after = (await getJson(`${survivor}/status`)).body
    expect(after.strict?.primary ?? after.primary).not.toBe(oldPrimary)
    // Twelve transfers of 5 round the ring alice → bob → carol → alice leave every balance as it was.
    await expectBalances(out, survivor, { alice: 10, bob: 190, carol: 100 })

    // The crdt examples carry on with the two regions left; a second failover is declined with a reason.
    expect(ok(await runExample('examples/text/text.mjs', [], env), 'text, one region down')).toContain('every keystroke of both kept: yes')
    expect(ok(await runExample('examples/kanban/kanban.mjs', [], env), 'kanban, one region down')).toContain('every card in exactly one column: yes')
    const again = ok(await runExample('examples/bank/bank.mjs', ['--kill'], env), 'bank --kill, one region down')
    expect(again).toContain('failover skipped: 2 of 3 regions are up')
    expect(again).toContain('total 300 of 300: conserved')
  })
})

describe('the Node examples without a cluster', () => {
  it('example:embedded — a server and a client in one process write, read and exit 0', async () => {
    const out = ok(await runExample('examples/embedded/embedded.mjs', [], {}), 'embedded')
    expect(out).toMatch(/server: http:\/\/127\.0\.0\.1:\d+/)
    expect(out).toContain('read back: {"done":false,"title":"Hello from an embedded server"}')
    expect(out).toMatch(/accounts\/alice acknowledged at \d+:\d+; read at the primary: \{"balance":100\}/)
    expect(out).toContain('GET /v1/notes/hello -> {"done":false,"title":"Hello from an embedded server"}')
    expect(out).toContain('closed the client and the server; exiting')
  })

  it('an example pointed at ports where nothing runs fails with a message that says to run npm start', async () => {
    const nowhere = await freeBasePort()
    for (const file of ['examples/text/text.mjs', 'examples/kanban/kanban.mjs', 'examples/bank/bank.mjs']) {
      const run = await runExample(file, [], { MERIDIAN_BASE_PORT: String(nowhere) })
      expect(run.code, file).toBe(1)
      expect(run.stderr).toContain('the cluster is not running')
      expect(run.stderr).toContain('npm start')
      expect(run.stderr).toContain(`127.0.0.1:${nowhere}`)
    }
  })
})

/** The bank example's accounts (named after the run id it printed), read at the primary over REST. */
async function expectBalances(out: string, base: string, expected: Record<string, number>): Promise<void> {
  const run = /opened (\S+)-alice,/.exec(out)?.[1]
  expect(run).toBeDefined()
  const balances: Record<string, number> = {}
  for (const name of Object.keys(expected)) {
    const { status, body } = await getJson(`${base}/v1/accounts/${run}-${name}?read=primary`)
    expect(status).toBe(200)
    balances[name] = body.value.balance
  }
  expect(balances).toEqual(expected)
}

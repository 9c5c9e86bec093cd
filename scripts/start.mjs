#!/usr/bin/env node
// `npm start`: a three-region cluster on loopback (DESIGN §7). Builds dist/ when it is missing or older
// than the sources, writes one config per region, starts each region as its own process, waits until all
// three answer /healthz, and prints where the dashboard, the example app and the REST API are.
// Ctrl-C (or SIGTERM) stops the regions gracefully, and kills any that do not stop in time.
//
// Environment:
//   MERIDIAN_BASE_PORT        first port (default 4101): eu-1 on it, us-1 on +1, ap-1 on +2
//   MERIDIAN_HOME             configs, peer secret and data (default ./.meridian)
//   MERIDIAN_SKIP_BUILD=1     use dist/ as it is
//   MERIDIAN_START_TIMEOUT_MS how long to wait for /healthz (default 30000)
//   MERIDIAN_STOP_TIMEOUT_MS  how long a region may take to stop before it is killed (default 10000)
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { writeClusterConfigs } from './start-config.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const HOST = '127.0.0.1'

const env = process.env
const useColor = process.stdout.isTTY === true && !env.NO_COLOR
const paint = (code, text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text)
const COLORS = { 'eu-1': 36, 'us-1': 35, 'ap-1': 33 }

const basePort = parseIntEnv('MERIDIAN_BASE_PORT', 4101)
const home = resolve(env.MERIDIAN_HOME || '.meridian')
const startTimeoutMs = parseIntEnv('MERIDIAN_START_TIMEOUT_MS', 30_000)
const stopTimeoutMs = parseIntEnv('MERIDIAN_STOP_TIMEOUT_MS', 10_000)

function say(text) {
  process.stdout.write(`${paint(1, 'meridian')}: ${text}\n`)
}

function fail(text) {
  process.stderr.write(`${paint('1;31', 'meridian')}: ${text}\n`)
}

function parseIntEnv(name, fallback) {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) {
    fail(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
    process.exit(1)
  }
  return n
}

// ---------------------------------------------------------------- ports

function checkPort(port) {
  return new Promise((resolvePort) => {
    const server = createServer()
    server.once('error', (err) => resolvePort(err))
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolvePort(null)))
  })
}

// ---------------------------------------------------------------- build

const BUILD_INPUT_DIRS = ['core', 'client', 'server']
const BUILD_INPUT_FILES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs']
const BUILD_OUTPUTS = ['dist/browser/meridian-client.js', 'dist/browser/meridian-strict.js', 'dist/browser/meridian-idb.js', 'dist/node/client/index.js', 'dist/node/server/index.js']

function newestSource() {
  let newest = 0
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) visit(path)
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs)
    }
  }
  for (const dir of BUILD_INPUT_DIRS) if (existsSync(join(root, dir))) visit(join(root, dir))
  for (const file of BUILD_INPUT_FILES) if (existsSync(join(root, file))) newest = Math.max(newest, statSync(join(root, file)).mtimeMs)
  return newest
}

/** Why dist/ needs a build, or null when it is up to date. */
function buildReason() {
  const missing = BUILD_OUTPUTS.find((file) => !existsSync(join(root, file)))
  if (missing) return `${missing} is missing`
  const built = Math.min(...BUILD_OUTPUTS.map((file) => statSync(join(root, file)).mtimeMs))
  return newestSource() > built ? 'sources changed since the last build' : null
}

function buildIfNeeded() {
  if (env.MERIDIAN_SKIP_BUILD === '1') return
  const reason = buildReason()
  if (reason === null) return
  say(`building dist/ (${reason}) …`)
  try {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' })
  } catch {
    fail('the build failed (see above); fix it, or run `npm run build` to retry')
    process.exit(1)
  }
}

/** The server CLI: the built one if the build has it, else the TypeScript source through tsx. */
function serverCommand() {
  const built = join(root, 'dist/node/server/cli.js')
  if (existsSync(built)) return [built]
  if (existsSync(join(root, 'server/cli.ts'))) return ['--import', 'tsx', join(root, 'server/cli.ts')]
  return null
}

// ---------------------------------------------------------------- regions

/** nodeId -> { node, proc, pid, alive, closed: Promise<void> } */
const children = new Map()
let phase = 'starting' // starting | running | stopping
const labelWidth = Math.max(...['eu-1', 'us-1', 'ap-1'].map((s) => s.length))

function pipeLines(stream, label, out) {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${label} ${line}\n`))
}

function spawnRegion(node, command) {
  const proc = spawn(process.execPath, [...command, 'serve', '--config', node.file], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal Ctrl-C reaches only this script, which then stops each region once.
    detached: true,
  })
  const label = paint(COLORS[node.nodeId] ?? 0, `${node.nodeId.padEnd(labelWidth)} |`)
  pipeLines(proc.stdout, label, process.stdout)
  pipeLines(proc.stderr, label, process.stderr)
  const child = { node, proc, pid: proc.pid, alive: true, closed: null }
  child.closed = new Promise((resolveClosed) => {
    proc.on('error', (err) => {
      fail(`${node.nodeId}: could not start: ${err.message}`)
    })
    proc.on('close', (code, signal) => {
      child.alive = false
      const how = signal ? `signal ${signal}` : `code ${code}`
      if (phase === 'stopping') {
        say(`${node.nodeId} stopped${code === 0 ? '' : ` (${how})`}`)
      } else if (phase === 'starting') {
        fail(`${node.nodeId} exited during startup (${how}); its output is above`)
      } else {
        const left = [...children.values()].filter((c) => c.alive).map((c) => c.node.nodeId)
        fail(
          `${node.nodeId} (region ${node.region}, pid ${child.pid}) exited unexpectedly (${how}). ` +
            (left.length > 0
              ? `The other regions keep running (${left.join(', ')}); restart everything with \`npm start\`.`
              : 'No region is left running.'),
        )
        if (left.length === 0) process.exit(1)
      }
      resolveClosed()
    })
  })
  children.set(node.nodeId, child)
}

async function healthy(node) {
  try {
    const res = await fetch(`http://${HOST}:${node.port}/healthz`, { signal: AbortSignal.timeout(1000) })
    if (!res.ok) return null
    const body = await res.json()
    return body?.ok === true && body.nodeId === node.nodeId ? body : null
  } catch {
    return null
  }
}

/** Resolves when every region answers /healthz; rejects when one exits or the timeout passes. */
async function waitHealthy(nodes) {
  const deadline = Date.now() + startTimeoutMs
  const pending = new Set(nodes)
  while (pending.size > 0) {
    if (phase !== 'starting') return
    const dead = [...pending].find((n) => !children.get(n.nodeId)?.alive)
    if (dead) throw new Error(`${dead.nodeId} exited before it became healthy`)
    if (Date.now() > deadline) {
      const names = [...pending].map((n) => `${n.nodeId} (http://${HOST}:${n.port}/healthz)`).join(', ')
      throw new Error(`timed out after ${startTimeoutMs} ms waiting for ${names}`)
    }
    for (const node of [...pending]) if (await healthy(node)) pending.delete(node)
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 200))
  }
}

async function stopAll(reason, exitCode) {
  if (phase === 'stopping') {
    // A second Ctrl-C: do not wait any longer.
    fail('stopping now (SIGKILL)')
    for (const c of children.values()) if (c.alive) c.proc.kill('SIGKILL')
    process.exit(exitCode || 1)
  }
  phase = 'stopping'
  const live = [...children.values()].filter((c) => c.alive)
  if (live.length > 0) say(`${reason}: stopping ${live.map((c) => c.node.nodeId).join(', ')} …`)
  for (const c of live) c.proc.kill('SIGTERM')
  let timer
  const timedOut = new Promise((r) => (timer = setTimeout(() => r(true), stopTimeoutMs)))
  const done = await Promise.race([Promise.all(live.map((c) => c.closed)).then(() => false), timedOut])
  clearTimeout(timer)
  if (done) {
    for (const c of live) {
      if (!c.alive) continue
      fail(`${c.node.nodeId} did not stop within ${stopTimeoutMs} ms; killing it`)
      c.proc.kill('SIGKILL')
    }
    await Promise.all(live.map((c) => c.closed))
  }
  if (live.length > 0) say('all regions stopped')
  process.exit(exitCode)
}

/** `home` relative to the working directory when it is inside it, else absolute. */
function displayPath(path) {
  const rel = relative(process.cwd(), path)
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel
}

function banner(nodes, health) {
  const [first, , last] = nodes
  const url = (n) => `http://${HOST}:${n.port}`
  const lines = [
    '',
    `${paint(1, 'meridian')}: three regions up`,
    ...nodes.map((n) => `  ${n.nodeId} (${n.region})  ${url(n)}   pid ${health.get(n.nodeId)?.pid ?? '?'}`),
    '',
    `  dashboard  ${url(first)}/`,
    `  todo app   ${url(first)}/app/   (every region serves it; open two regions side by side)`,
    `  text       ${url(first)}/examples/text/   and ${url(last)}/examples/text/   (yjs: type in both)`,
    `  kanban     ${url(first)}/examples/kanban/ and ${url(last)}/examples/kanban/ (automerge: move the same card in both)`,
    `  examples   ${basePort === 4101 ? '' : `MERIDIAN_BASE_PORT=${basePort} `}npm run example:text | example:kanban | example:bank [-- --kill] | example:embedded   (docs/examples.md)`,
    `  REST       curl -X PUT ${url(first)}/v1/notes/n1 -H 'content-type: application/json' -d '{"title":"hello"}'`,
    `             curl ${url(last)}/v1/notes/n1`,
    `  strict     curl -X PUT '${url(last)}/v1/accounts/a1?w=majority' -d '{"balance":100}'   (forwarded to the primary)`,
    `             curl '${url(first)}/v1/accounts/a1?read=nearest'   (/status shows the primary and epoch)`,
    `  y-websocket new WebsocketProvider('ws://${HOST}:${first.port}/yjs', room, ydoc)   (rooms: the docs collection)`,
    `  automerge   new WebSocketClientAdapter('ws://${HOST}:${first.port}/automerge')   (documents: the boards collection)`,
    `  data       ${displayPath(home)}/   (configs in config/; delete the directory to start afresh)`,
    '',
    'Ctrl-C stops all three.',
    '',
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
}

// ---------------------------------------------------------------- main

async function main() {
  if (basePort + 2 > 65535) {
    fail(`MERIDIAN_BASE_PORT=${basePort} leaves no room for three ports`)
    process.exit(1)
  }
  for (let i = 0; i < 3; i++) {
    const port = basePort + i
    const err = await checkPort(port)
    if (err) {
      const what = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be used (${err.code ?? err.message})`
      fail(
        `port ${port} on ${HOST} ${what}. Stop whatever listens there (another \`npm start\`?) ` +
          `or pick other ports, e.g. MERIDIAN_BASE_PORT=${basePort + 1000} npm start`,
      )
      process.exit(1)
    }
  }

  buildIfNeeded()

  const command = serverCommand()
  if (command === null) {
    fail('the server CLI does not exist yet (neither dist/node/server/cli.js nor server/cli.ts)')
    process.exit(1)
  }

  const nodes = writeClusterConfigs({ home, host: HOST, basePort })
  say(`starting ${nodes.map((n) => `${n.nodeId} on :${n.port}`).join(', ')} (data in ${home})`)

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stopAll(signal, 0))
  // If this script dies of an error, do not leave the regions running.
  process.on('exit', () => {
    for (const c of children.values()) if (c.alive) c.proc.kill('SIGTERM')
  })

  for (const node of nodes) spawnRegion(node, command)

  try {
    await waitHealthy(nodes)
  } catch (err) {
    if (phase !== 'starting') return
    fail(`startup failed: ${err.message}`)
    await stopAll('startup failed', 1)
    return
  }
  if (phase !== 'starting') return
  const health = new Map()
  for (const node of nodes) health.set(node.nodeId, await healthy(node))
  phase = 'running'
  banner(nodes, health)
}

main().catch((err) => {
  fail(err?.stack ?? String(err))
  process.exit(1)
})

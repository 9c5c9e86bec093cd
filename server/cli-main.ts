import type { DownstreamStatus, ReplicaStatus } from './strict/strict-status.js'
import { ConfigError, loadConfigFile } from './config.js'
import { createServer, type MeridianServer } from './server.js'

export const USAGE = `usage: meridian serve --config <file.json>
       meridian status --url <http://host:port> [--json]
       meridian admin promote --url <http://host:port> [--token <token>] [--json]
       meridian admin stepdown --url <http://host:port> [--token <token>] [--json]

  serve            starts one regional Meridian node as described by the config file
                   (see docs/server.md). SIGINT / SIGTERM shut it down gracefully.
  status           prints a summary of the node's GET /status: role, epoch, primary, commit
                   index, and on a strict primary the lag of each replica.
  admin promote    asks the node to stand for election now (strict mode). It runs a normal
                   election: a node whose log is behind cannot win.
  admin stepdown   asks the primary to step down; its most caught-up replica takes over.

options:
  -c, --config <file>   the node's config (serve)
  -u, --url <url>       the node's HTTP address, e.g. http://127.0.0.1:4101 (default: MERIDIAN_URL)
      --token <token>   the admin token (default: MERIDIAN_ADMIN_TOKEN)
      --timeout <ms>    how long to wait for the node's answer (default: 15000)
      --json            print the node's JSON answer as it is
  -h, --help            this text

exit codes: 0 ok; 1 runtime failure, or the node refused (its error code is printed);
2 bad usage or bad config; 3 the node cannot be reached.`

/** Exit codes: 0 ok, 1 runtime failure or refused, 2 bad usage or bad config, 3 node unreachable. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
export const EXIT_UNREACHABLE = 3

const DEFAULT_TIMEOUT_MS = 15_000

export interface CliIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Registers a shutdown signal handler. */
  readonly onSignal: (signal: 'SIGINT' | 'SIGTERM', handler: () => void) => void
  /** Environment for MERIDIAN_URL and MERIDIAN_ADMIN_TOKEN; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

export type CliResult =
  | { readonly exitCode: number }
  | { readonly server: MeridianServer; readonly stopped: Promise<number> }

type ValueOption = 'config' | 'url' | 'token' | 'timeout'

interface Args {
  readonly positional: string[]
  readonly values: Partial<Record<ValueOption, string>>
  json: boolean
  help: boolean
  error?: string
}

const VALUE_OPTIONS: Readonly<Record<string, ValueOption>> = {
  '--config': 'config',
  '-c': 'config',
  '--url': 'url',
  '-u': 'url',
  '--token': 'token',
  '--timeout': 'timeout',
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { positional: [], values: {}, json: false, help: false }
  const values = args.values as Record<ValueOption, string>
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const name = eq === -1 ? arg : arg.slice(0, eq)
    const option = Object.hasOwn(VALUE_OPTIONS, name) ? VALUE_OPTIONS[name] : undefined
    if (arg === '--help' || arg === '-h') args.help = true
    else if (arg === '--json') args.json = true
    else if (option !== undefined) {
      if (eq !== -1) values[option] = arg.slice(eq + 1)
      else {
        const value = argv[i + 1]
        if (value === undefined || value.startsWith('-')) {
          args.error = `${arg} needs ${option === 'config' ? 'a file name' : option === 'timeout' ? 'a number of milliseconds' : `a ${option}`}`
          return args
        }
        values[option] = value
        i += 1
      }
    } else if (arg.startsWith('-')) {
      args.error = `unknown option ${arg}`
      return args
    } else args.positional.push(arg)
  }
  return args
}

/** Which options each command takes. */
const COMMAND_OPTIONS: Readonly<Record<string, readonly (ValueOption | 'json')[]>> = {
  serve: ['config'],
  status: ['url', 'timeout', 'json'],
  admin: ['url', 'token', 'timeout', 'json'],
}

type Command =
  | { readonly kind: 'serve'; readonly config: string }
  | { readonly kind: 'status'; readonly url: string; readonly timeoutMs: number; readonly json: boolean }
  | { readonly kind: 'admin'; readonly action: 'promote' | 'stepdown'; readonly url: string; readonly token: string | null; readonly timeoutMs: number; readonly json: boolean }

function toCommand(args: Args, env: Readonly<Record<string, string | undefined>>): Command | string {
  if (args.error !== undefined) return args.error
  const [name, ...rest] = args.positional
  if (name === undefined) return 'missing command'
  const allowed = Object.hasOwn(COMMAND_OPTIONS, name) ? COMMAND_OPTIONS[name] : undefined
  if (allowed === undefined) return `unknown command ${name}`
  for (const option of Object.keys(args.values) as ValueOption[]) if (!allowed.includes(option)) return `--${option} is not an option of ${name}`
  if (args.json && !allowed.includes('json')) return `--json is not an option of ${name}`

  let action: 'promote' | 'stepdown' | undefined
  if (name === 'admin') {
    const what = rest.shift()
    if (what === undefined) return 'admin needs an action: promote or stepdown'
    if (what !== 'promote' && what !== 'stepdown') return `unknown admin action ${what} (promote or stepdown)`
    action = what
  }
  if (rest.length > 0) return `unexpected argument ${rest[0]}`

  if (name === 'serve') return args.values.config === undefined ? 'missing --config <file>' : { kind: 'serve', config: args.values.config }

  const rawUrl = args.values.url ?? (env.MERIDIAN_URL || undefined)
  if (rawUrl === undefined) return `missing --url <http://host:port> (or MERIDIAN_URL)`
  const url = normalizeUrl(rawUrl)
  if (url === null) return `--url: expected an http:// or https:// address, got ${JSON.stringify(rawUrl)}`
  let timeoutMs = DEFAULT_TIMEOUT_MS
  if (args.values.timeout !== undefined) {
    timeoutMs = Number(args.values.timeout)
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) return `--timeout: expected a positive number of milliseconds, got ${JSON.stringify(args.values.timeout)}`
  }
  if (action === undefined) return { kind: 'status', url, timeoutMs, json: args.json }
  const token = args.values.token ?? (env.MERIDIAN_ADMIN_TOKEN || null)
  return { kind: 'admin', action, url, token, timeoutMs, json: args.json }
}

/** `http://host:port` without a trailing slash; `host:port` alone gets `http://`. Null if not http(s). */
function normalizeUrl(raw: string): string | null {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`
  let parsed: URL
  try {
    parsed = new URL(withScheme)
  } catch {
    return null
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`
}

/**
 * The `meridian` command (see {@link USAGE}). Returns an exit code for one-shot commands and immediate
 * failures, or, for `serve`, the running server and a promise of the exit code once a signal has shut
 * it down.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<CliResult> {
  const args = parseArgs(argv)
  if (args.help) {
    io.out(USAGE)
    return { exitCode: EXIT_OK }
  }
  const command = toCommand(args, io.env ?? process.env)
  if (typeof command === 'string') {
    io.err(`meridian: ${command}\n${USAGE}`)
    return { exitCode: EXIT_USAGE }
  }
  switch (command.kind) {
    case 'serve':
      return serve(command.config, io)
    case 'status':
      return { exitCode: await status(command, io) }
    case 'admin':
      return { exitCode: await admin(command, io) }
  }
}

// ------------------------------------------------------------------------------------------ serve

async function serve(configPath: string, io: CliIo): Promise<CliResult> {
  let server: MeridianServer
  try {
    server = await createServer(await loadConfigFile(configPath))
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`meridian: ${err.message}`)
      return { exitCode: EXIT_USAGE }
    }
    const code = (err as NodeJS.ErrnoException).code
    io.err(`meridian: cannot start: ${code === 'EADDRINUSE' ? `address in use (${(err as Error).message})` : String((err as Error)?.stack ?? err)}`)
    return { exitCode: EXIT_FAILURE }
  }
  io.out(`meridian ${server.config.nodeId} (${server.config.region}) serving`)
  io.out(`  http     ${server.httpUrl}   (REST /v1, /status, /metrics, /admin, dashboard /)`)
  io.out(`  clients  ${server.url}`)
  io.out(`  peers    ${server.peerUrl}`)
  const stopped = new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => () => {
      if (stopping) {
        io.err(`meridian: ${signal} again; exiting now`)
        resolve(EXIT_FAILURE)
        return
      }
      stopping = true
      io.out(`meridian: ${signal}, shutting down`)
      server.close().then(
        () => resolve(EXIT_OK),
        (err: unknown) => {
          io.err(`meridian: shutdown failed: ${String(err)}`)
          resolve(EXIT_FAILURE)
        },
      )
    }
    io.onSignal('SIGINT', stop('SIGINT'))
    io.onSignal('SIGTERM', stop('SIGTERM'))
  })
  return { server, stopped }
}

// ------------------------------------------------------------------------------------------ HTTP

type Reply =
  | { readonly reached: true; readonly status: number; readonly body: unknown; readonly text: string }
  | { readonly reached: false; readonly message: string }

async function request(url: string, method: 'GET' | 'POST', headers: Record<string, string>, timeoutMs: number): Promise<Reply> {
  let response: Response
  let text: string
  try {
    response = await fetch(url, { method, headers, signal: AbortSignal.timeout(timeoutMs) })
    text = await response.text()
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const why =
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `no answer within ${timeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message)
    return { reached: false, message: `cannot reach ${url}: ${why}` }
  }
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: reported by status code and text
  }
  return { reached: true, status: response.status, body, text }
}

interface ErrorBody {
  readonly code: string
  readonly message: string
}

/** `{ error: { code, message } }` from a Meridian error answer, else a stand-in from the status and text. */
function errorOf(reply: Extract<Reply, { reached: true }>): ErrorBody {
  const error = (reply.body as { error?: Partial<ErrorBody> } | null)?.error
  if (error !== undefined && typeof error.code === 'string') return { code: error.code, message: String(error.message ?? '') }
  const text = reply.text.trim().slice(0, 200)
  return { code: `HTTP_${reply.status}`, message: text === '' ? 'no body' : text }
}

// ------------------------------------------------------------------------------------------ admin

interface AdminSummary {
  readonly nodeId?: string
  readonly role?: string
  readonly epoch?: number
  readonly primary?: string | null
  readonly message?: string
}

async function admin(
  command: Extract<Command, { kind: 'admin' }>,
  io: CliIo,
): Promise<number> {
  const headers: Record<string, string> = command.token === null ? {} : { authorization: `Bearer ${command.token}` }
  const reply = await request(`${command.url}/admin/${command.action}`, 'POST', headers, command.timeoutMs)
  if (!reply.reached) {
    io.err(`meridian: ${reply.message}`)
    return EXIT_UNREACHABLE
  }
  if (command.json) (reply.status === 200 ? io.out : io.err)(reply.text)
  const body = (reply.body ?? {}) as AdminSummary & { promoted?: boolean; steppedDown?: boolean }
  const node = body.nodeId ?? command.url
  if (reply.status === 200 && command.action === 'promote' && body.promoted === true) {
    if (!command.json) io.out(`${node} is now primary in epoch ${body.epoch ?? '?'}`)
    return EXIT_OK
  }
  if (reply.status === 200 && command.action === 'stepdown' && body.steppedDown === true) {
    if (!command.json) io.out(`${node} stepped down in epoch ${body.epoch ?? '?'}; a new primary is being elected`)
    return EXIT_OK
  }
  if (command.json) return EXIT_FAILURE
  if (command.action === 'promote' && body.promoted === false) {
    // 409: the election ran and was not won.
    const now = `${body.role ?? 'unknown role'} in epoch ${body.epoch ?? '?'}${body.primary ? `, primary ${body.primary}` : ''}`
    io.err(`meridian: NOT_PROMOTED: ${node} did not win the election (now ${now})${body.message ? `: ${body.message}` : ''}`)
    return EXIT_FAILURE
  }
  const error = errorOf(reply)
  const detail = (reply.body as { error?: AdminSummary } | null)?.error
  const where =
    detail?.role === undefined
      ? ''
      : ` (${detail.nodeId ?? node} is ${detail.role} in epoch ${detail.epoch ?? '?'}${detail.primary && detail.primary !== (detail.nodeId ?? node) ? `; the primary is ${detail.primary}` : ''})`
  const hint = error.code === 'UNAUTHORIZED' && command.token === null ? ' (no token given: pass --token or set MERIDIAN_ADMIN_TOKEN)' : ''
  io.err(`meridian: ${error.code}: ${error.message}${where}${hint}`)
  return EXIT_FAILURE
}

// ------------------------------------------------------------------------------------------ status

async function status(command: Extract<Command, { kind: 'status' }>, io: CliIo): Promise<number> {
  const reply = await request(`${command.url}/status`, 'GET', {}, command.timeoutMs)
  if (!reply.reached) {
    io.err(`meridian: ${reply.message}`)
    return EXIT_UNREACHABLE
  }
  if (reply.status !== 200 || reply.body === null || typeof reply.body !== 'object') {
    const error = errorOf(reply)
    io.err(`meridian: ${error.code}: ${error.message}`)
    return EXIT_FAILURE
  }
  if (command.json) io.out(reply.text)
  else for (const line of formatStatus(reply.body as StatusLike)) io.out(line)
  return EXIT_OK
}

/** The parts of `GET /status` (server/status.ts) that `meridian status` prints; all optional, for older nodes. */
export interface StatusLike {
  readonly nodeId?: string
  readonly region?: string
  readonly role?: string
  readonly uptimeMs?: number
  readonly epoch?: number | null
  readonly primary?: string | null
  readonly commitIndex?: number | null
  readonly changes?: number
  readonly clients?: number
  readonly peers?: readonly { readonly nodeId: string; readonly state: string; readonly lagEntries?: number }[]
  readonly strict?: {
    readonly appliedLsn?: number
    readonly durableLsn?: number
    readonly lastLsn?: number
    readonly lastEpoch?: number
    readonly snapshotLsn?: number
    readonly degraded?: boolean
    readonly pendingWrites?: number
    readonly sincePrimaryContactMs?: number | null
    readonly stalenessMs?: number | null
    readonly storageFailed?: string | null
    readonly replicas?: readonly (Omit<ReplicaStatus, 'via'> & { readonly via?: string | null })[]
    readonly upstream?: string | null
    readonly downstream?: readonly DownstreamStatus[]
  } | null
}

function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ${Math.floor(ms / 1000) % 60}s`
  return `${Math.floor(ms / 3_600_000)}h ${Math.floor(ms / 60_000) % 60}m`
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

function fmtBytes(n: number | null): string {
  if (n === null) return '-'
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** A header row and body rows as columns two spaces apart; columns holding numbers are right-aligned. */
function columns(rows: readonly (readonly string[])[], indent: string): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  const right = widths.map((_, i) => rows.slice(1).some((row) => /^\d/.test(row[i] ?? '')))
  return rows.map((row) => indent + row.map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd())
}

/** The human summary `meridian status` prints for one `GET /status` body. */
export function formatStatus(s: StatusLike): string[] {
  const lines: string[] = []
  const name = `${s.nodeId ?? '?'}${s.region ? ` (${s.region})` : ''}`
  const uptime = s.uptimeMs === undefined ? '' : `, up ${fmtMs(s.uptimeMs)}`
  const strict = s.strict ?? null
  if (s.role === undefined || s.role === 'crdt' || strict === null) {
    lines.push(`${name}: crdt${uptime}, ${plural(s.changes ?? 0, 'change')}, ${plural(s.clients ?? 0, 'client')}`)
  } else {
    lines.push(`${name}: ${s.role}, epoch ${s.epoch ?? '?'}, primary ${s.primary ?? 'unknown'}, commit index ${s.commitIndex ?? '?'}${uptime}`)
    const log = [`applied ${strict.appliedLsn ?? '?'}`, `durable ${strict.durableLsn ?? '?'}`, `last ${strict.lastLsn ?? '?'} (epoch ${strict.lastEpoch ?? '?'})`]
    if (strict.snapshotLsn) log.push(`snapshot ${strict.snapshotLsn}`)
    if (strict.pendingWrites) log.push(`${plural(strict.pendingWrites, 'write')} pending`)
    lines.push(`  log: ${log.join(', ')}`)
    if (s.role !== 'primary' && strict.sincePrimaryContactMs !== null && strict.sincePrimaryContactMs !== undefined) {
      const stale = strict.stalenessMs === null || strict.stalenessMs === undefined ? 'not caught up with a primary yet' : `state at most ${fmtMs(strict.stalenessMs)} stale`
      lines.push(`  last heard from the primary ${fmtMs(strict.sincePrimaryContactMs)} ago; ${stale}`)
    }
    // Cascading: a replica fed by a relay, and a relay's own hops.
    if (strict.upstream && strict.upstream !== s.primary) lines.push(`  streams the log from ${strict.upstream} (cascading; the primary is ${s.primary ?? 'unknown'})`)
    for (const d of strict.downstream ?? []) {
      const age = d.lag.ms === null ? 'idle' : `${fmtMs(d.lag.ms)} old`
      lines.push(`  relays the log to ${d.nodeId}: durable ${d.durableLsn}, ${d.lag.entries} behind this node (${fmtBytes(d.lag.bytes)}, ${age})`)
    }
    if (strict.degraded) lines.push('  DEGRADED: semi-sync fell back to local; `one` writes are acknowledged without a replica')
    if (strict.storageFailed) lines.push(`  STORAGE FAILED: ${strict.storageFailed}`)
    const replicas = strict.replicas ?? []
    if (replicas.length > 0) {
      lines.push('  replicas:')
      const header = ['node', 'link', 'sync', 'sent', 'received', 'durable', 'applied', 'lag', 'lag bytes', 'lag age', 'last reply']
      const rows = replicas.map((r) => [
        r.via ? `${r.nodeId} via ${r.via}` : r.nodeId,
        r.link,
        r.syncRole,
        String(r.sentLsn),
        String(r.receivedLsn),
        String(r.durableLsn),
        String(r.appliedLsn),
        String(r.lag.entries),
        fmtBytes(r.lag.bytes),
        r.lag.ms === null ? 'idle' : fmtMs(r.lag.ms),
        r.lastReplyMs === null ? 'never' : `${fmtMs(r.lastReplyMs)} ago`,
      ])
      lines.push(...columns([header, ...rows], '    '))
    } else if (s.role === 'primary') {
      lines.push('  replicas: none')
    }
  }
  const peers = s.peers ?? []
  if (peers.length > 0) {
    lines.push(`  peers: ${peers.map((p) => `${p.nodeId} ${p.state}${p.lagEntries ? ` (crdt lag ${p.lagEntries})` : ''}`).join(', ')}`)
  }
  return lines
}

import { ConfigError, loadConfigFile } from './config.js'
import { createServer, type MeridianServer } from './server.js'

export const USAGE = `usage: meridian serve --config <file.json>

Starts one regional Meridian node as described by the config file
(see docs/server.md). SIGINT / SIGTERM shut it down gracefully.`

/** Exit codes: 0 ok, 1 runtime failure (e.g. port in use, storage), 2 bad usage or bad config. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

export interface CliIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Registers a shutdown signal handler. */
  readonly onSignal: (signal: 'SIGINT' | 'SIGTERM', handler: () => void) => void
}

export type CliResult =
  | { readonly exitCode: number }
  | { readonly server: MeridianServer; readonly stopped: Promise<number> }

function parseArgs(argv: readonly string[]): { command: string | undefined; config: string | undefined; help: boolean; error?: string } {
  let command: string | undefined
  let config: string | undefined
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--help' || arg === '-h') help = true
    else if (arg === '--config' || arg === '-c') {
      const value = argv[i + 1]
      if (value === undefined || value.startsWith('-')) return { command, config, help, error: `${arg} needs a file name` }
      config = value
      i += 1
    } else if (arg.startsWith('--config=')) config = arg.slice('--config='.length)
    else if (arg.startsWith('-')) return { command, config, help, error: `unknown option ${arg}` }
    else if (command === undefined) command = arg
    else return { command, config, help, error: `unexpected argument ${arg}` }
  }
  return { command, config, help }
}

/**
 * `meridian serve --config file.json`. Returns an exit code for immediate failures, or the running
 * server and a promise of the exit code once a signal has shut it down.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<CliResult> {
  const args = parseArgs(argv)
  if (args.help) {
    io.out(USAGE)
    return { exitCode: EXIT_OK }
  }
  if (args.error !== undefined || args.command !== 'serve' || args.config === undefined) {
    const why =
      args.error ??
      (args.command === undefined
        ? 'missing command'
        : args.command !== 'serve'
          ? `unknown command ${args.command}`
          : 'missing --config <file>')
    io.err(`meridian: ${why}\n${USAGE}`)
    return { exitCode: EXIT_USAGE }
  }
  let server: MeridianServer
  try {
    server = await createServer(await loadConfigFile(args.config))
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
  io.out(`  http     ${server.httpUrl}   (REST /v1, /status, /metrics, dashboard /)`)
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

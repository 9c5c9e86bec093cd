#!/usr/bin/env node
// The `meridian` command: serve, status, admin promote / stepdown (see cli-main.ts).
import { runCli } from './cli-main.js'

const result = await runCli(process.argv.slice(2), {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  onSignal: (signal, handler) => process.on(signal, handler),
})
process.exitCode = 'exitCode' in result ? result.exitCode : await result.stopped
if (!('exitCode' in result)) process.exit(process.exitCode)

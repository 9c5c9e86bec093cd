/**
 * Where the browser tests find Chromium (Debian's package, never a download), and whether they must run:
 * `MERIDIAN_BROWSER_TESTS=required` (set by .ci/run) turns a missing Chromium into a failure.
 */
import { existsSync } from 'node:fs'

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
export const BROWSER_TESTS_REQUIRED = process.env['MERIDIAN_BROWSER_TESTS'] === 'required'
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH)
export const SKIPPED_MESSAGE =
  `\n*** BROWSER TESTS ${BROWSER_TESTS_REQUIRED ? 'REQUIRED BUT MISSING' : 'SKIPPED'}: no Chromium at ${CHROMIUM_PATH}.\n` +
  '*** Install it with: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH to it).\n'

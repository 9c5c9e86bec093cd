import { HAVE_CHROMIUM, SKIPPED_MESSAGE } from './chromium.js'

/** Repeats, after every result, that the browser tests were skipped (vitest globalSetup teardown). */
export default function setup(): () => void {
  return () => {
    if (!HAVE_CHROMIUM) console.warn(SKIPPED_MESSAGE)
  }
}

import { defineConfig } from 'vitest/config'

// In CI, also write a JSON report so .ci/run can print a plain "N passed, N failed" closing line.
const jsonReport = process.env.MERIDIAN_TEST_REPORT

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Says again, after the results, when the browser tests were skipped (no Chromium).
    globalSetup: ['test/browser/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: jsonReport ? ['default', ['json', { outputFile: jsonReport }]] : ['default'],
  },
})

import { defineConfig } from 'vitest/config'

// In CI, also write a JSON report so .ci/run can print a plain "N passed, N failed" closing line.
const jsonReport = process.env.MERIDIAN_TEST_REPORT

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: jsonReport ? ['default', ['json', { outputFile: jsonReport }]] : ['default'],
  },
})

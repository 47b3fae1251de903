import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: [
      'shared/test/**/*.test.ts',
      'server/test/**/*.test.ts',
      'client-sdk/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})

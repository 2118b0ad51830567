import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Needs python3 + numpy: `npm run test:python` (vitest.python.config.ts).
    exclude: ['test/python/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Snapshots are fingerprinted when made and checked when used again (streams/immutable-guard.ts).
    env: { GRADSTREAM_CHECK_IMMUTABLE: '1' },
  },
})

import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Browser tests need Chromium: `npm run test:browser` (vitest.browser.config.ts); the
    // Python reader needs python3 + numpy: `npm run test:python` (vitest.python.config.ts).
    exclude: ['test/browser/**', 'test/python/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Snapshots are fingerprinted when made and checked when used again (streams/immutable-guard.ts).
    env: { GRADSTREAM_CHECK_IMMUTABLE: '1' },
  },
})

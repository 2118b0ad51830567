// Browser tests (`npm run test:browser`): a real headless Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core; kept out of `npm test`, which needs Node only.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: 'forks',
  },
})

import { defineConfig } from 'vitest/config'

// `npm run test:python`: tests that need python3 with numpy (.ci/run installs it).
export default defineConfig({
  test: {
    include: ['test/python/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    env: { GRADSTREAM_CHECK_IMMUTABLE: '1' },
  },
})

import { defineConfig } from 'vitest/config'

// `npm run test:redis`: the suites that start a real redis-server (test/redis/*.spec.ts).
// Kept out of `npm test`, which must pass on a machine with nothing but Node.
export default defineConfig({
  test: {
    include: ['test/redis/**/*.spec.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
})

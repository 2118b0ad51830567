import { defineConfig } from 'vitest/config'

// `npm run test:interop`: checks against other frameworks' real runtimes (PyTorch through
// python3 with torch). Not part of `npm test`, which needs nothing but Node; .ci/run
// installs Debian's python3-torch when missing and runs this.
export default defineConfig({
  test: {
    include: ['test/interop/**/*.interop.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})

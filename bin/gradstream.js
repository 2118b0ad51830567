#!/usr/bin/env node
// The `gradstream` command. Installed from the package, it runs the compiled CLI
// (dist/cli.js: plain Node, no tsx). In a checkout, where src/ is present and tsx is a dev
// dependency, it runs the TypeScript sources through tsx's ESM hooks, so it never runs a
// stale build.
import { existsSync } from 'node:fs'

const sources = new URL('../src/cli.ts', import.meta.url)
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api')
  register()
  const { run } = await import(sources.href)
  run()
} else {
  const { run } = await import('../dist/cli.js')
  run()
}

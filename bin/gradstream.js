#!/usr/bin/env node
// The `gradstream` command: loads the TypeScript sources through tsx's ESM hooks.
import { register } from 'tsx/esm/api'

register()
const { run } = await import('../src/cli.ts')
run()

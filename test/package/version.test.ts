// The version written into checkpoints is a constant in the core (no file read, so the
// core runs in a browser); it must be the package's version.

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { LIBRARY_VERSION } from '../../src/core/version.ts'

describe('LIBRARY_VERSION', () => {
  it("equals package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(LIBRARY_VERSION).toBe(pkg.version)
  })
})

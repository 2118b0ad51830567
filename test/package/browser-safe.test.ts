// The main entry is browser-safe: esbuild bundles it for the browser with no shims, and
// no module of its import graph imports a `node:` built-in. The Node entry does (files,
// worker threads), which shows the check can fail.

import { build } from 'esbuild'
import type { Metafile } from 'esbuild'
import { describe, expect, it } from 'vitest'

const root = new URL('../../', import.meta.url).pathname

const bundle = async (entry: string): Promise<{ errors: string[]; metafile: Metafile | undefined; bytes: number }> => {
  try {
    const r = await build({
      entryPoints: [entry],
      absWorkingDir: root,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    })
    return { errors: [], metafile: r.metafile, bytes: r.outputFiles[0].contents.length }
  } catch (e) {
    return { errors: ((e as { errors?: { text: string }[] }).errors ?? []).map((m) => m.text), metafile: undefined, bytes: 0 }
  }
}

describe('browser-safe core', () => {
  it('bundles src/index.ts for the browser; nothing in its graph imports node:', async () => {
    const { errors, metafile, bytes } = await bundle('src/index.ts')
    expect(errors).toEqual([])
    const imports = Object.values(metafile?.inputs ?? {}).flatMap((i) => i.imports.map((x) => x.path))
    expect(imports.filter((p) => p.startsWith('node:'))).toEqual([])
    expect(Object.keys(metafile?.inputs ?? {})).toContain('src/streams/train.ts')
    expect(bytes).toBeGreaterThan(50_000)
  })

  it('refuses the Node entry for the browser, naming the node: module', async () => {
    const { errors } = await bundle('src/node.ts')
    expect(errors.some((e) => /Could not resolve "node:/.test(e))).toBe(true)
  })
})

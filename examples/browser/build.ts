// Builds the browser example into examples/browser/dist/: the page, its script, the
// training worker and the shard worker its threads run (web-worker.js, found beside the
// training worker's bundle) bundled by esbuild for the browser (the sources' core entry, no shims),
// and the digits copied from the `mnist` package so the page fetches nothing from the net.

import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { mnistDigitsDir } from '../../src/io/mnist.ts'

export const exampleDir = new URL('.', import.meta.url).pathname
export const outDir = join(exampleDir, 'dist')

/** Builds the example; returns the output folder and the worker bundle's size in bytes. */
export const buildExample = async (): Promise<{ dir: string; workerBytes: number }> => {
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(join(outDir, 'digits'), { recursive: true })
  const result = await build({
    entryPoints: {
      main: join(exampleDir, 'main.ts'),
      worker: join(exampleDir, 'worker.ts'),
      'web-worker': join(exampleDir, '../../src/parallel/web-worker.ts'),
    },
    outdir: outDir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  })
  copyFileSync(join(exampleDir, 'index.html'), join(outDir, 'index.html'))
  const digits = mnistDigitsDir()
  for (let d = 0; d < 10; d++) copyFileSync(join(digits, `${d}.json`), join(outDir, 'digits', `${d}.json`))
  const worker = Object.entries(result.metafile.outputs).find(([name]) => name.endsWith('/worker.js'))
  return { dir: outDir, workerBytes: worker?.[1].bytes ?? 0 }
}

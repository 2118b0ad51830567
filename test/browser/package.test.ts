// The package in a browser: the tarball installed in a fresh project, a consumer bundled
// from it by esbuild for the browser (the package's `browser` condition: the core entry,
// no shims), served from 127.0.0.1 and run in headless Chromium. Its training run must end
// at the same parameter hash as the same run in Node from the sources; so must the same run
// on 2 threads in a Web Worker, with the package's shard worker ('gradstream/web-worker')
// bundled beside it as web-worker.js, where the default executor finds it.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StaticServer } from '../../examples/browser/server.ts'
import { serveStatic } from '../../examples/browser/server.ts'
import * as gs from '../../src/index.ts'
import type { SmallRun } from '../package/consumer/train-small.mjs'
import { trainSmall } from '../package/consumer/train-small.mjs'
import type { Installed } from '../package/pack.ts'
import { packAndInstall } from '../package/pack.ts'
import { launchChromium, watchedPage } from './chromium.ts'

let installed: Installed
let server: StaticServer
let browser: Browser
let bundleBytes = 0
const problems: string[] = []

beforeAll(async () => {
  installed = packAndInstall()
  const www = join(installed.dir, 'www')
  mkdirSync(www)
  const out = await build({
    entryPoints: [join(installed.dir, 'browser-entry.mjs')],
    absWorkingDir: installed.dir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    logLevel: 'silent',
  })
  const js = out.outputFiles[0].contents
  bundleBytes = js.length
  writeFileSync(join(www, 'consumer.js'), js)
  // A training worker on 2 threads and the package's shard worker, bundled side by side.
  writeFileSync(
    join(installed.dir, 'threads-worker.mjs'),
    `import * as gs from 'gradstream'
import { trainSmall } from './train-small.mjs'
onmessage = async () => {
  const notices = []
  const info = console.info
  console.info = (...a) => { notices.push(a.join(' ')); info(...a) }
  try { postMessage({ ...(await trainSmall(gs, { threads: 2 })), notices }) } catch (e) { postMessage({ error: String(e && e.stack ? e.stack : e) }) }
}
`,
  )
  writeFileSync(join(installed.dir, 'shard-worker.mjs'), "import 'gradstream/web-worker'\n")
  await build({
    entryPoints: { 'threads-worker': join(installed.dir, 'threads-worker.mjs'), 'web-worker': join(installed.dir, 'shard-worker.mjs') },
    absWorkingDir: installed.dir,
    outdir: www,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    logLevel: 'silent',
  })
  writeFileSync(join(www, 'index.html'), '<!doctype html><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,"><script type="module" src="consumer.js"></script>')
  console.log(`consumer bundle: ${js.length} bytes minified, ${gzipSync(js).length} gzipped`)
  server = await serveStatic(www)
  browser = await launchChromium()
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (installed) rmSync(dirname(installed.dir), { recursive: true, force: true })
})

describe('the package in Chromium', () => {
  it('trains from a browser bundle of the installed package to the same hash as Node', async () => {
    const page = await watchedPage(browser, problems)
    await page.goto(server.url)
    await page.waitForFunction(() => (globalThis as { result?: unknown }).result !== undefined)
    const got = (await page.evaluate(() => (globalThis as unknown as { result: Promise<unknown> }).result)) as SmallRun & {
      hasLoadMnist: boolean
      crossOriginIsolated: boolean
      error?: string
    }
    expect(got.error).toBeUndefined()
    const want = await trainSmall(gs, { threads: 1 })
    expect(got.steps).toBe(36)
    expect(got.lastLoss).toBeLessThan(got.firstLoss)
    expect(got.hash).toBe(want.hash)
    expect(got.hasLoadMnist).toBe(false) // the browser build is the core entry
    expect(got.crossOriginIsolated).toBe(true)
    expect(bundleBytes).toBeGreaterThan(50_000)

    // (Source text: this file is type-checked for Node, without the DOM's Worker.)
    const threaded = (await page.evaluate(`new Promise((resolve) => {
      const worker = new Worker('threads-worker.js', { type: 'module' })
      worker.onmessage = (e) => { worker.terminate(); resolve(e.data) }
      worker.postMessage('start')
    })`)) as SmallRun & { notices: string[]; error?: string }
    expect(threaded.error).toBeUndefined()
    expect(threaded.notices).toEqual([]) // 2 threads, no fallback
    expect(threaded.hash).toBe(want.hash)
    expect(problems).toEqual([])
  })
})

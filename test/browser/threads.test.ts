// Threads in the browser (issue 11): the sources' browser entry bundled by esbuild with
// the shard worker (src/parallel/web-worker.ts) beside it, served on 127.0.0.1 and run in
// headless Chromium. A cross-origin isolated page trains on 2 threads (Web Workers with
// SharedArrayBuffer) inside a Web Worker; the same page without the COOP/COEP headers, and
// the isolated page's main thread, fall back to one thread with a notice. Every run ends
// at the parameter hash of Node's run on 1 and on 2 worker threads.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StaticServer } from '../../examples/browser/server.ts'
import { serveStatic } from '../../examples/browser/server.ts'
import * as gs from '../../src/node.ts'
import type { SmallRun } from '../package/consumer/train-small.mjs'
import { trainSmall } from '../package/consumer/train-small.mjs'
import { workerThreads } from '../../src/node.ts'
import { userLayerRun } from './threads/user-run.ts'
import { launchChromium, watchedPage } from './chromium.ts'

type Run = SmallRun & { readonly notices: string[]; readonly crossOriginIsolated?: boolean; readonly error?: string }

const dir = mkdtempSync(join(tmpdir(), 'gs-threads-browser-'))
let isolated: StaticServer
let plain: StaticServer
let browser: Browser
const problems: string[] = []

beforeAll(async () => {
  const here = join(import.meta.dirname, 'threads')
  await build({
    entryPoints: {
      page: join(here, 'page.ts'),
      'train-worker': join(here, 'train-worker.ts'),
      'web-worker': join(import.meta.dirname, '../../src/parallel/web-worker.ts'),
      'user-shard-worker': join(here, 'user-shard-worker.ts'),
    },
    outdir: dir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
  })
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>threads</title><link rel="icon" href="data:,"><script type="module" src="page.js"></script>')
  isolated = await serveStatic(dir)
  plain = await serveStatic(dir, 0, { isolated: false })
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await isolated?.close()
  await plain?.close()
  rmSync(dir, { recursive: true, force: true })
})

const open = async (url: string): Promise<Page> => {
  const page = await watchedPage(browser, problems)
  await page.goto(url)
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true)
  return page
}

const inWorker = (page: Page, threads: number, url?: string, user = false): Promise<Run> =>
  page.evaluate(
    ([t, u, user]) =>
      (globalThis as unknown as { inWorker: (t: number, u?: string, user?: boolean) => Promise<Run> }).inWorker(t as number, u as string | undefined, user as boolean),
    [threads, url, user] as const,
  )

describe('threads in Chromium', () => {
  it('trains on 2 Web Worker threads in an isolated page, at the bits of Node on 1 and 2 threads; falls back to one thread elsewhere', async () => {
    const node1 = await trainSmall(gs, { threads: 1 })
    const node2 = await trainSmall(gs, { threads: 2 })
    expect(node2.hash).toBe(node1.hash)

    const page = await open(isolated.url)
    const two = await inWorker(page, 2)
    expect(two.error).toBeUndefined()
    expect(two.crossOriginIsolated).toBe(true)
    expect(two.notices).toEqual([]) // 2 threads, no fallback
    expect(two.steps).toBe(36)
    expect(two.hash).toBe(node1.hash)
    // The shards did go to a Web Worker: with its script missing, the run fails saying so.
    const missing = await inWorker(page, 2, 'no-such-worker.js')
    expect(missing.error).toMatch(/worker 1 failed: could not load web-worker\.js/)
    problems.splice(0, problems.length, ...problems.filter((p) => !/404/.test(p)))

    // The page's main thread may not block: one thread, a notice, the same bits.
    const main = (await page.evaluate(() => (globalThis as unknown as { onPage: (t: number) => Promise<Run> }).onPage(2))) as Run
    expect(main.error).toBeUndefined()
    expect(main.hash).toBe(node1.hash)
    expect(main.notices).toEqual([expect.stringMatching(/^gradstream: training on one thread instead of 2: training runs on the page's main thread/)])

    // Without COOP/COEP there is no SharedArrayBuffer: one thread, a notice, the same bits.
    const other = await open(plain.url)
    const fallback = await inWorker(other, 2)
    expect(fallback.error).toBeUndefined()
    expect(fallback.crossOriginIsolated).toBe(false)
    expect(fallback.hash).toBe(node1.hash)
    expect(fallback.notices).toEqual([expect.stringMatching(/^gradstream: training on one thread instead of 2: the page is not cross-origin isolated/)])
    expect(problems).toEqual([])
  })

  it("trains a model with the user's own layer types on 2 Web Worker threads (a shard worker bundled with their module) at Node's bits", async () => {
    const node = await userLayerRun(1, workerThreads)
    expect(await userLayerRun(2, workerThreads)).toBe(node)
    const page = await open(isolated.url)
    const two = await inWorker(page, 2, 'user-shard-worker.js', true)
    expect(two.error).toBeUndefined()
    expect(two.notices).toEqual([])
    expect(two.hash).toBe(node)
    // The library's own shard worker does not know them: the run fails saying what to do.
    const plainWorker = await inWorker(page, 2, undefined, true)
    expect(plainWorker.error).toMatch(/worker 1 failed: .*user_jitter_scale.*webWorkers\(\{ url \}\)/)
    expect(problems).toEqual([])
  })
})

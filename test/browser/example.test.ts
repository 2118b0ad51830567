// The browser example (examples/browser/): built and served on 127.0.0.1, opened in
// headless Chromium; the CNN trains in a Web Worker on 2 threads (shard workers sharing
// memory) and its first epoch must reach a test accuracy above 90%, with the same
// parameter hash as the same run in Node (on 2 worker threads).

import { lastValueFrom } from 'rxjs'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildExample } from '../../examples/browser/build.ts'
import type { StaticServer } from '../../examples/browser/server.ts'
import { serveStatic } from '../../examples/browser/server.ts'
import { arraySource, hashParams, loadMnist, momentum, softmaxCrossEntropy, train, zoo, training } from '../../src/node.ts'
import { launchChromium, watchedPage } from './chromium.ts'

interface EpochRow {
  readonly epoch: number
  readonly step: number
  readonly accuracy: number
  readonly samplesPerSecond: number
  readonly hash: string
}
interface ExampleState {
  readonly losses: number[]
  readonly epochs: EpochRow[]
  readonly error: string
  readonly crossOriginIsolated: boolean
  readonly threads: number
}

let server: StaticServer
let browser: Browser
let workerBytes = 0
const problems: string[] = []

beforeAll(async () => {
  const built = await buildExample()
  workerBytes = built.workerBytes
  server = await serveStatic(built.dir)
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe('examples/browser', () => {
  it('trains the CNN in a worker on 2 threads; the first epoch tests above 90%, at the same bits as Node', async () => {
    const page = await watchedPage(browser, problems)
    await page.goto(`${server.url}?epochs=1&seed=0`)
    await page.waitForFunction(
      () => {
        const s = (globalThis as unknown as { example?: ExampleState }).example
        return s !== undefined && (s.epochs.length > 0 || s.error !== '')
      },
      undefined,
      { timeout: 600_000, polling: 500 },
    )
    const state = (await page.evaluate(() => (globalThis as unknown as { example: ExampleState }).example)) as ExampleState
    expect(state.error).toBe('')
    const first = state.epochs[0]
    expect(first.step).toBe(250)
    expect(state.losses.length).toBe(250)
    expect(first.accuracy).toBeGreaterThan(0.9)
    expect(state.crossOriginIsolated).toBe(true)
    expect(state.threads).toBe(2)
    expect(await page.locator('#epochs tbody tr').count()).toBe(1)

    // The same run in Node (the worker's recipe, one epoch, 2 shards on 2 threads), timed the same way.
    const { train: digits } = loadMnist()
    const source = arraySource(digits, { batchSize: 32 })
    const t0 = performance.now()
    const last = await lastValueFrom(
      train(zoo.cnn(), softmaxCrossEntropy(), momentum({ type: 'cosine', lr: 0.05, steps: 250 }, { momentum: 0.9 }), {
        data: source,
        epochs: 1,
        seed: 0,
        augment: [(key) => training.randomShift(2, key)],
        microbatches: 2,
        threads: 2,
      }),
    )
    const nodeRate = 8000 / ((performance.now() - t0) / 1000)
    expect(first.hash).toBe(hashParams(last))
    expect(problems).toEqual([])
    console.log(
      `browser example: epoch 1 test accuracy ${(100 * first.accuracy).toFixed(2)}%; CNN training ${Math.round(first.samplesPerSecond)} samples/s in Chromium, ` +
        `${Math.round(nodeRate)} samples/s in Node (2 threads each); worker bundle ${workerBytes} bytes`,
    )
  })
})

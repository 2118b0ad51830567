// The dashboard page in a real headless Chromium (Debian's /usr/bin/chromium through
// playwright-core): it loads without a console error, draws its charts, shows at each
// slider step the hash `gradstream replay --step n --json` prints, and starts a fork
// that appears and finishes. Screenshots at two steps go to a folder printed below.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, canvasInk } from './chromium.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
import type { Dashboard } from '../../src/server/dashboard-server.ts'
import { startDashboard } from '../../src/server/dashboard-server.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-dashboard-browser-'))
const runs = join(tmp, 'runs')
const shots = process.env.GRADSTREAM_SCREENSHOTS ?? join(tmp, 'screenshots')

const quiet = () => ({ write: () => true, isTTY: false, columns: 100 }) as unknown as NodeJS.WriteStream

const cli = async (...argv: string[]): Promise<string> => {
  let out = ''
  let err = ''
  const code = await main(argv, {
    stdout: { write: (s: string) => ((out += s), true), isTTY: false, columns: 100 } as unknown as NodeJS.WriteStream,
    stderr: { write: (s: string) => ((err += s), true), isTTY: false, columns: 100 } as unknown as NodeJS.WriteStream,
  })
  expect(code, err).toBe(0)
  return out
}

const replayHash = async (dir: string, step: number): Promise<string> =>
  (JSON.parse(await cli('replay', dir, '--step', String(step), '--json')) as { hash: string }).hash

let dash: Dashboard
let browser: Browser
let page: Page
const problems: string[] = []

beforeAll(async () => {
  mkdirSync(runs)
  mkdirSync(shots, { recursive: true })
  // Two small runs on the digits: an MLP with 28x28 filters, and a second seed.
  for (const [name, seed] of [['mlp-a', '1'], ['mlp-b', '2']])
    expect(
      await main(['train', '--model', 'mlp', '--hidden', '32', '--epochs', '3', '--batch', '64', '--seed', seed, '--checkpoint-every', '125', '--out', join(runs, name)], {
        stdout: quiet(),
        stderr: quiet(),
      }),
    ).toBe(0)
  dash = await startDashboard({ dirs: [runs], port: 0 })
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1400, height: 1300 } })
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  console.log(`dashboard screenshots: ${shots}`)
})

afterAll(async () => {
  await browser?.close()
  await dash?.close({ stopForks: true })
  rmSync(tmp, { recursive: true, force: true })
})

const inkOf = (selector: string): Promise<number> => canvasInk(page, selector)

/** Waits until the page expression is true. */
const until = (expression: string, timeout = 60_000): Promise<unknown> => page.waitForFunction(expression, undefined, { timeout })

const count = (selector: string): string => `document.querySelectorAll(${JSON.stringify(selector)}).length`
const text = (testid: string): string => `(document.querySelector('[data-testid="${testid}"]')?.textContent ?? '')`

const hashShown = (expected: string): Promise<unknown> => until(`${text('step-hash')} === ${JSON.stringify(expected)}`, 120_000)

describe('the dashboard page', () => {
  it('loads without console errors and draws the loss curves of both runs', async () => {
    await page.goto(dash.url)
    await page.waitForSelector('[data-testid="loss-chart"] canvas')
    await until(`${count('[data-testid="run-list"] input')} === 2`)
    await until(`${text('step-hash')}.length === 64`, 120_000)
    // The loss chart and the epoch chart have drawn lines, not just a blank canvas.
    expect(await inkOf('[data-testid="loss-chart"] canvas')).toBeGreaterThan(2000)
    expect(await inkOf('[data-testid="epoch-chart"] canvas')).toBeGreaterThan(500)
    expect(problems).toEqual([])
  })

  it('shows the CLI replay hash of the slider step (set, then arrow keys), with histograms, filters, predictions and confusion', async () => {
    const dir = join(runs, 'mlp-a')
    await page.selectOption('[data-testid="focus-run"]', { label: `mlp-a (${dash.registry.atDir(dir)!.id})` })
    const slider = page.locator('[data-testid="step-slider"]')
    await slider.fill('200')
    await hashShown(await replayHash(dir, 200))
    expect(await page.textContent('[data-testid="step-number"]')).toBe('200')
    await slider.focus()
    await page.keyboard.press('ArrowRight')
    await page.keyboard.press('ArrowRight')
    await hashShown(await replayHash(dir, 202))
    await until(`${count('[data-testid="predictions"] .pred')} === 20`)
    await until(`${count('[data-testid="confusion"] td')} === 100`)
    await until(`document.querySelector('[data-testid="filters"]').naturalWidth > 0`)
    expect(await page.locator('[data-testid="histograms"] canvas').count()).toBeGreaterThanOrEqual(4)
    expect(await inkOf('[data-testid="histograms"] canvas')).toBeGreaterThan(100)
    await page.screenshot({ path: join(shots, 'dashboard-step-202.png'), fullPage: true })
    await slider.fill('60')
    await hashShown(await replayHash(dir, 60))
    await until(`${count('[data-testid="predictions"] .pred')} === 20`)
    // A click on the loss curve jumps to the step under the pointer.
    const over = page.locator('[data-testid="loss-chart"] .u-over')
    const box = (await over.boundingBox())!
    await over.click({ position: { x: box.width * 0.75, y: box.height / 2 } })
    await until(`${text('step-number')} !== '60'`)
    const clicked = Number(await page.textContent('[data-testid="step-number"]'))
    expect(clicked).toBeGreaterThan(200)
    expect(clicked).toBeLessThan(375)
    await hashShown(await replayHash(dir, clicked))
    await slider.fill('60')
    await hashShown(await replayHash(dir, 60))
    await page.fill('#cmp-from', '0')
    await page.click('[data-testid="compare-button"]')
    await until(`${count('[data-testid="compare-table"] tr')} === 5`)
    await page.screenshot({ path: join(shots, 'dashboard-step-60.png'), fullPage: true })
    expect(problems).toEqual([])
  })

  it('starts a fork from the page that appears in the run list and finishes', async () => {
    await page.fill('#fork-lr', '0.01')
    await page.fill('#fork-epochs', '3')
    await page.click('[data-testid="fork-button"]')
    await until(`/started from step 60|running/.test(${text('fork-status')})`)
    await until(`${count('[data-testid="run-list"] input')} === 3`)
    await until(`/: done, step 375 of 375/.test(${text('fork-status')})`, 200_000)
    expect(await page.textContent('[data-testid="run-list"]')).toMatch(/mlp-a-fork-60 · mlp \(fork of mlp-a at 60\)/)
    await page.screenshot({ path: join(shots, 'dashboard-fork.png'), fullPage: true })
    expect(problems).toEqual([])
  })
})

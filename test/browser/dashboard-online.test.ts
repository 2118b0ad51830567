// The dashboard page over online runs in a real headless Chromium: an online --redis run
// (a real redis-server, test/redis/server.ts; `.ci/run` installs redis-server before the
// browser suite) and an online run from a file. The online chart draws; on the Redis run
// the record slider shows, beside the step, the stream entry id of the record and the hash
// `gradstream replay DIR --entry ID --json` prints; on the file run the record and step.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli.ts'
import type { Dashboard } from '../../src/server/dashboard-server.ts'
import { startDashboard } from '../../src/server/dashboard-server.ts'
import { streamData } from '../redis/data.ts'
import type { RedisServer } from '../redis/server.ts'
import { entries, startRedis } from '../redis/server.ts'
import { launchChromium, watchedPage, canvasInk } from './chromium.ts'
import { lastJsonLine } from '../cli-run.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-dashboard-online-browser-'))
const runs = join(tmp, 'runs')
const shots = process.env.GRADSTREAM_SCREENSHOTS ?? join(tmp, 'screenshots')
const MODEL = ['--label', 'kind', '--classes', 'a,b,c', '--hidden', '16', '--lr', '0.05']

const cli = async (...argv: string[]): Promise<string> => {
  let out = ''
  let err = ''
  const stream = (add: (s: string) => void) => ({ write: (s: string) => (add(s), true), isTTY: false, columns: 100 }) as unknown as NodeJS.WriteStream
  const code = await main(argv, { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)) })
  expect(code, err).toBe(0)
  return out
}

let redis: RedisServer
let dash: Dashboard
let browser: Browser
let page: Page
let ids: string[]
const problems: string[] = []

beforeAll(async () => {
  mkdirSync(runs)
  mkdirSync(shots, { recursive: true })
  redis = await startRedis()
  const data = streamData(800)
  const file = join(tmp, 'stream.ndjson')
  writeFileSync(file, `${data.lines.join('\n')}\n`)
  await cli('produce', '--redis', redis.url, '--stream', 'clicks', '--input', file)
  ids = (await entries(redis.client, 'clicks')).map(([id]) => id)
  await cli('online', '--redis', redis.url, '--stream', 'clicks', ...MODEL, '--checkpoint-dir', join(runs, 'clicks-learner'), '--checkpoint-every', '200', '--report-every', '25', '--until-idle', '0.3')
  await cli('online', '--input', file, ...MODEL, '--checkpoint-dir', join(runs, 'file-learner'), '--checkpoint-every', '200', '--report-every', '25')
  // The file lies in tmp, outside the runs folder: allowed with --data-dir.
  dash = await startDashboard({ dirs: [runs], dataDirs: [tmp], port: 0 })
  browser = await launchChromium()
  page = await watchedPage(browser, problems)
  await page.setViewportSize({ width: 1400, height: 1200 })
  console.log(`dashboard screenshots: ${shots}`)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await dash?.close()
  await redis?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

const until = (expression: string, timeout = 60_000): Promise<unknown> => page.waitForFunction(expression, undefined, { timeout })
const text = (testid: string): string => `(document.querySelector('[data-testid="${testid}"]')?.textContent ?? '')`

const inkOf = (selector: string): Promise<number> => canvasInk(page, selector)

const replayEntry = async (entry: string): Promise<{ step: number; hash: string }> =>
  lastJsonLine(await cli('replay', join(runs, 'clicks-learner'), '--entry', entry, '--redis', redis.url, '--json'))

describe('the dashboard page over online runs', () => {
  it('draws the online chart and, on a Redis run, shows each record with its step, entry id and replayed hash', async () => {
    await page.goto(dash.url)
    await page.waitForSelector('[data-testid="online-chart"] canvas')
    await until(`document.querySelectorAll('[data-testid="run-list"] input').length === 2`)
    expect(await page.textContent('[data-testid="run-list"]')).toMatch(/clicks-learner · mlp · online from stream clicks · 800 records/)
    const id = dash.registry.atDir(join(runs, 'clicks-learner'))!.id
    await page.selectOption('[data-testid="focus-run"]', { label: `clicks-learner (${id})` })
    const slider = page.locator('[data-testid="step-slider"]')
    for (const n of [321, 650]) {
      await slider.fill(String(n))
      const expected = await replayEntry(ids[n - 1])
      await until(`${text('entry-id')} === ${JSON.stringify(ids[n - 1])}`, 120_000)
      await until(`${text('step-hash')} === ${JSON.stringify(expected.hash)}`, 120_000)
      expect(await page.textContent('[data-testid="record-number"]')).toBe(String(n))
      expect(await page.textContent('[data-testid="step-number"]')).toBe(String(expected.step))
      // Beside the step, on screen.
      expect(await page.isVisible('[data-testid="entry-id"]')).toBe(true)
    }
    await slider.focus()
    await page.keyboard.press('ArrowRight')
    await until(`${text('entry-id')} === ${JSON.stringify(ids[650])}`, 120_000)
    await until(`${text('step-hash')} === ${JSON.stringify((await replayEntry(ids[650])).hash)}`, 120_000)
    expect(await inkOf('[data-testid="online-chart"] canvas')).toBeGreaterThan(1000)
    expect(await inkOf('[data-testid="histograms"] canvas')).toBeGreaterThan(100)
    await page.screenshot({ path: join(shots, 'dashboard-online-redis.png'), fullPage: true })
    expect(problems).toEqual([])
  })

  it('on a file run shows the record and step, and no entry id', async () => {
    const id = dash.registry.atDir(join(runs, 'file-learner'))!.id
    await page.selectOption('[data-testid="focus-run"]', { label: `file-learner (${id})` })
    const api = (await (await fetch(`http://127.0.0.1:${dash.port}/api/runs/${id}/records/400`, { headers: { authorization: `Bearer ${dash.token}` } })).json()) as { hash: string; step: number }
    await page.locator('[data-testid="step-slider"]').fill('400')
    // The record number shows at once; the hash when the replay answers (until then the
    // previous position's hash may still be on screen): wait for the API's.
    await until(`${text('record-number')} === '400' && ${text('step-hash')} === ${JSON.stringify(api.hash)}`, 120_000)
    expect(await page.isVisible('[data-testid="entry-id"]')).toBe(false)
    expect(await page.textContent('[data-testid="step-number"]')).toBe(String(api.step))
    expect(problems).toEqual([])
  })
})

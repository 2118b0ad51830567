// Launching Debian's Chromium (/usr/bin/chromium) headless through playwright-core, with
// the flags this project's machines need (no sandbox as root, no GPU, no network chatter).
// Shared by the browser tests; `.ci/run` installs chromium with apt-get when missing.

import type { Browser, Page } from 'playwright-core'
import { chromium } from 'playwright-core'

export const CHROMIUM_PATH = '/usr/bin/chromium'

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] })

/** A new page that collects console errors and uncaught page errors into `problems`. */
export const watchedPage = async (browser: Browser, problems: string[]): Promise<Page> => {
  const page = await browser.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  return page
}

/** Pixels of the canvases matching `selector` that are neither transparent nor white. */
// (Functions run in the page are given as source text: this file is type-checked for Node.)
export const canvasInk = (page: Page, selector: string): Promise<number> =>
  page.evaluate(`(() => {
    let n = 0
    for (const c of document.querySelectorAll(${JSON.stringify(selector)})) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++
    }
    return n
  })()`)

// W3 samples/s in headless Chromium and in Node on this machine, alternately, one thread
// each (npx tsx examples/browser/measure-w3.ts [ROUNDS]). Prints each epoch's rate and
// checks both platforms end at the same parameter hash. A measurement, not a test.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { datasets } from '../../src/node.ts'
import { launchChromium } from '../../test/browser/chromium.ts'
import { serveStatic } from './server.ts'
import { runW3 } from './w3-run.ts'

const rounds = Number(process.argv[2] ?? 2)
const epochs = 2
const dir = mkdtempSync(join(tmpdir(), 'gs-w3-'))
mkdirSync(join(dir, 'digits'))
for (let d = 0; d < 10; d++) copyFileSync(join(datasets.mnistDigitsDir(), `${d}.json`), join(dir, 'digits', `${d}.json`))
writeFileSync(join(dir, 'entry.ts'), `import { runW3 } from ${JSON.stringify(join(import.meta.dirname, 'w3-run.ts'))}
const digits = await Promise.all(Array.from({ length: 10 }, async (_, d) => Float32Array.from((await (await fetch('digits/' + d + '.json')).json()).data)))
;(globalThis as any).w3 = (epochs: number) => runW3(digits, epochs)
;(globalThis as any).ready = true
`)
await build({ entryPoints: [join(dir, 'entry.ts')], outfile: join(dir, 'w3.js'), bundle: true, platform: 'browser', format: 'esm', minify: true, logLevel: 'warning' })
writeFileSync(join(dir, 'index.html'), '<!doctype html><link rel="icon" href="data:,"><script type="module" src="w3.js"></script>')
const server = await serveStatic(dir)
const browser = await launchChromium()
const page = await browser.newPage()
await page.goto(server.url)
await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true, undefined, { timeout: 120_000 })
console.log(`Chromium ${browser.version()}, Node ${process.version}`)
// The same arrays the page builds: each digit file's numbers as a Float32Array.
const digits = Array.from({ length: 10 }, (_, d) =>
  Float32Array.from((JSON.parse(readFileSync(join(datasets.mnistDigitsDir(), `${d}.json`), 'utf8')) as { data: number[] }).data),
)
for (let r = 0; r < rounds; r++) {
  const web = (await page.evaluate((e) => (globalThis as unknown as { w3: (e: number) => Promise<{ rates: number[]; hash: string }> }).w3(e), epochs)) as { rates: number[]; hash: string }
  const node = await runW3(digits, epochs)
  const f = (xs: number[]): string => xs.map((x) => Math.round(x).toLocaleString('en')).join(', ')
  console.log(`round ${r + 1}: Chromium ${f(web.rates)} samples/s; Node ${f(node.rates)} samples/s; same hash: ${web.hash === node.hash}`)
}
await browser.close()
await server.close()
rmSync(dir, { recursive: true, force: true })

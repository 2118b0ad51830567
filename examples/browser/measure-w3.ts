// W3 samples/s in headless Chromium and in Node on this machine, alternately
// (npx tsx examples/browser/measure-w3.ts [ROUNDS]): one thread on the page as in
// WORKLOADS.md, then 2 microbatches on 1 and on 2 threads, in Chromium inside a Web Worker
// (where threads may block; the page is cross-origin isolated) and in Node on worker
// threads. Prints each epoch's rate and checks the platforms end at the same parameter
// hash. A measurement, not a test.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { workerThreads, datasets } from '../../src/node.ts'
import { launchChromium } from '../../test/browser/chromium.ts'
import { serveStatic } from './server.ts'
import type { W3Options } from './w3-run.ts'
import { runW3 } from './w3-run.ts'

const rounds = Number(process.argv[2] ?? 2)
const epochs = 2
const dir = mkdtempSync(join(tmpdir(), 'gs-w3-'))
mkdirSync(join(dir, 'digits'))
for (let d = 0; d < 10; d++) copyFileSync(join(datasets.mnistDigitsDir(), `${d}.json`), join(dir, 'digits', `${d}.json`))
const w3 = JSON.stringify(join(import.meta.dirname, 'w3-run.ts'))
const load = `await Promise.all(Array.from({ length: 10 }, async (_, d) => Float32Array.from((await (await fetch('digits/' + d + '.json')).json()).data)))`
writeFileSync(join(dir, 'entry.ts'), `import { runW3 } from ${w3}
const digits = ${load}
;(globalThis as any).w3 = (epochs: number) => runW3(digits, epochs)
;(globalThis as any).w3InWorker = (epochs: number, options: object) => new Promise((resolve, reject) => {
  const worker = new Worker(new URL('./w3-worker.js', import.meta.url), { type: 'module' })
  worker.onmessage = (e) => { worker.terminate(); 'error' in e.data ? reject(new Error(e.data.error)) : resolve(e.data) }
  worker.postMessage({ epochs, options })
})
;(globalThis as any).ready = true
`)
// onmessage is set before any await: a message arriving during a module worker's
// top-level await would find no handler.
writeFileSync(join(dir, 'w3-worker.ts'), `import { runW3 } from ${w3}
const digits = (async () => ${load})()
onmessage = async (e: MessageEvent) => runW3(await digits, e.data.epochs, e.data.options).then((r) => postMessage(r), (err) => postMessage({ error: String(err) }))
`)
await build({
  entryPoints: { w3: join(dir, 'entry.ts'), 'w3-worker': join(dir, 'w3-worker.ts'), 'web-worker': join(import.meta.dirname, '../../src/parallel/web-worker.ts') },
  outdir: dir,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  minify: true,
  logLevel: 'warning',
})
writeFileSync(join(dir, 'index.html'), '<!doctype html><link rel="icon" href="data:,"><script type="module" src="w3.js"></script>')
const server = await serveStatic(dir)
const browser = await launchChromium()
const page = await browser.newPage()
page.on('console', (m) => console.log(`  [chromium] ${m.text()}`))
await page.goto(server.url)
await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true, undefined, { timeout: 120_000 })
console.log(`Chromium ${browser.version()}, Node ${process.version}, cross-origin isolated: ${await page.evaluate(() => globalThis.crossOriginIsolated)}`)
// The same arrays the page builds: each digit file's numbers as a Float32Array.
const digits = Array.from({ length: 10 }, (_, d) =>
  Float32Array.from((JSON.parse(readFileSync(join(datasets.mnistDigitsDir(), `${d}.json`), 'utf8')) as { data: number[] }).data),
)
type Result = { rates: number[]; hash: string }
const f = (xs: number[]): string => xs.map((x) => Math.round(x).toLocaleString('en')).join(', ')
const inWorker = (options: W3Options): Promise<Result> =>
  page.evaluate(
    ([e, o]) => (globalThis as unknown as { w3InWorker: (e: number, o: object) => Promise<Result> }).w3InWorker(e as number, o as object),
    [epochs, options] as const,
  )
for (let r = 0; r < rounds; r++) {
  const web = (await page.evaluate((e) => (globalThis as unknown as { w3: (e: number) => Promise<Result> }).w3(e), epochs)) as Result
  const node = await runW3(digits, epochs)
  console.log(`round ${r + 1}, one thread: Chromium ${f(web.rates)} samples/s; Node ${f(node.rates)} samples/s; same hash: ${web.hash === node.hash}`)
  const hashes: string[] = []
  for (const threads of [1, 2]) {
    const w = await inWorker({ threads, microbatches: 2 })
    const n = await runW3(digits, epochs, { threads, microbatches: 2, executor: workerThreads })
    hashes.push(w.hash, n.hash)
    console.log(`round ${r + 1}, 2 microbatches on ${threads} thread(s): Chromium (in a worker) ${f(w.rates)} samples/s; Node ${f(n.rates)} samples/s`)
  }
  console.log(`round ${r + 1}: 2-microbatch runs end at one hash: ${hashes.every((h) => h === hashes[0])}`)
}
await browser.close()
await server.close()
rmSync(dir, { recursive: true, force: true })

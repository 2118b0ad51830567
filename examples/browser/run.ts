// npm run example:browser [-- --port N]: builds the example and serves it on 127.0.0.1
// (default port 8080), with the headers that make the page cross-origin isolated.

import { parseArgs } from 'node:util'
import { buildExample } from './build.ts'
import { serveStatic } from './server.ts'

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' } } })
const port = Number(values.port)
if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
  process.stderr.write(`example:browser: --port: expected an integer from 0 to 65535, got ${JSON.stringify(values.port)}\n`)
  process.exit(2)
}
const { dir } = await buildExample()
const { url } = await serveStatic(dir, port)
process.stdout.write(`built ${dir}\nopen ${url} (3 epochs on 2 threads; ${url}?epochs=1&seed=0&threads=1 for one epoch on one thread). Ctrl-C stops.\n`)

// The browser consumer: bundled by esbuild for the browser from the installed package and
// run in Chromium (test/browser/package.test.ts). The result lands on globalThis.result.
import * as gs from 'gradstream'
import { trainSmall } from './train-small.mjs'

globalThis.result = trainSmall(gs).then(
  (r) => ({ ...r, hasLoadMnist: 'loadMnist' in gs, crossOriginIsolated: globalThis.crossOriginIsolated === true }),
  (e) => ({ error: String(e && e.stack ? e.stack : e) }),
)

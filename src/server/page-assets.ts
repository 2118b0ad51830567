// The dashboard page: dashboard/index.html and the script and styles bundled from
// dashboard/main.ts (with uPlot and its CSS) by esbuild, in memory, the first time the
// page is asked for. Nothing comes from a CDN: the page works offline, and a fresh clone
// needs only `npm ci`. `npm run build:dashboard` writes the same files to dist/dashboard.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

export const PAGE_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url))

export interface PageAssets {
  readonly 'index.html': Buffer
  readonly 'app.js': Buffer
  readonly 'app.css': Buffer
}

export const CONTENT_TYPES: { readonly [name in keyof PageAssets]: string } = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}

/** Bundles the page (optionally also writing it to outdir). */
export const buildPage = async (outdir?: string): Promise<PageAssets> => {
  const r = await build({
    entryPoints: { app: `${PAGE_DIR}main.ts` },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    outdir: outdir ?? 'out',
    write: false,
    logLevel: 'silent',
  })
  const file = (ext: string): Buffer => {
    const f = r.outputFiles.find((o) => o.path.endsWith(ext))
    return Buffer.from(f?.contents ?? new Uint8Array())
  }
  return { 'index.html': readFileSync(`${PAGE_DIR}index.html`), 'app.js': file('.js'), 'app.css': file('.css') }
}

let assets: Promise<PageAssets> | undefined

/** The page, built once per process. */
export const pageAssets = (): Promise<PageAssets> => (assets ??= buildPage())

/** Writes index.html, app.js and app.css into dir (`npm run build:dashboard`: dist/dashboard). */
export const writePage = async (dir: string): Promise<void> => {
  const page = await buildPage(dir)
  mkdirSync(dir, { recursive: true })
  for (const [name, body] of Object.entries(page)) writeFileSync(join(dir, name), body)
}

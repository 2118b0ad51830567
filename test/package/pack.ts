// Packs the package (npm pack runs prepack: the build) and installs the tarball into a
// fresh project in a temp folder, as a user would. Shared by the package tests in
// `npm test` and the browser tests.

import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const repoRoot = new URL('../../', import.meta.url).pathname

export interface Installed {
  /** The consumer project (package.json, node_modules/gradstream, the consumer files). */
  readonly dir: string
  /** The tarball's size and unpacked size in bytes, and its file count (npm pack --json). */
  readonly size: number
  readonly unpackedSize: number
  readonly files: readonly string[]
}

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } })

/** npm pack + npm install of the tarball (and `extra` packages) into a new project. */
export const packAndInstall = (extra: readonly string[] = []): Installed => {
  const dir = mkdtempSync(join(tmpdir(), 'gs-consumer-'))
  const packs = join(dir, 'packs')
  mkdirSync(packs)
  const out = npm(['pack', '--json', '--pack-destination', packs], repoRoot)
  const info = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[]
  const tarball = join(packs, readdirSync(packs).find((f) => f.endsWith('.tgz')) ?? info[0].filename)
  const project = join(dir, 'project')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }))
  npm(['install', '--prefer-offline', '--no-package-lock', tarball, ...extra], project)
  cpSync(join(repoRoot, 'test', 'package', 'consumer'), project, { recursive: true })
  return { dir: project, size: info[0].size, unpackedSize: info[0].unpackedSize, files: info[0].files.map((f) => f.path) }
}

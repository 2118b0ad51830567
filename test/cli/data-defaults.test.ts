// Defaults that follow the data: every zoo model that takes feature vectors trains on a
// CSV/NDJSON file with only --model, --data and --label; the recipe's image shifts are
// dropped for tabular data; features are scaled with statistics fitted on the training
// split, stored in config.json and in every checkpoint, and reused (never refitted).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { loadTabular } from '../../src/io/tabular.ts'
import { cli, fixture, lastJson } from './run-cli.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-defaults-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

interface Config {
  shift: number
  input: { kind: string; classes: string[]; features: string[]; scaling: { kind: string; offset: number[]; scale: number[] } }
}
const configOf = (dir: string): Config => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Config

/** Per-feature statistics of the raw (unscaled) training split, computed here in doubles. */
const rawTrainStats = (file: string) => {
  const t = loadTabular(file, { label: 'species', seed: 0, standardize: false })
  const [N, F] = t.train.x.shape
  const col = (f: number) => Array.from({ length: N }, (_, i) => t.train.x.data[i * F + f])
  return Array.from({ length: F }, (_, f) => {
    const v = col(f)
    const mean = v.reduce((a, b) => a + b, 0) / N
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / N)
    return { mean, sd, min: Math.min(...v), max: Math.max(...v) }
  })
}

describe('defaults that follow the data', () => {
  it('mlp, rbm and autoencoder train on flowers.csv with only --model, --data and --label', async () => {
    const stats = rawTrainStats(fixture('flowers.csv'))
    for (const model of ['mlp', 'rbm', 'autoencoder']) {
      const dir = join(tmp, model)
      const r = await cli(['train', '--model', model, '--data', fixture('flowers.csv'), '--label', 'species', '--threads', '1', '--out', dir, '--json'])
      expect(r.stderr, model).toBe('')
      expect(r.code, model).toBe(0)
      const summary = lastJson<{ testLoss: number; testAccuracy: number | null }>(r)
      expect(Number.isFinite(summary.testLoss), model).toBe(true)
      if (model === 'mlp') expect(summary.testAccuracy).toBeGreaterThan(0.9)
      const c = configOf(dir)
      // The recipe's 2-pixel shifts are for images: dropped, not an error.
      expect(c.shift).toBe(0)
      expect(r.stdout).not.toMatch(/shift/)
      expect(c.input.kind).toBe('tabular')
      expect(c.input.features).toEqual(['a', 'b', 'c'])
      expect(c.input.classes).toEqual(['setosa', 'versicolor', 'virginica'])
      // Networks get standardised inputs; the RBM and the autoencoder inputs in [0, 1].
      const s = c.input.scaling
      expect(s.kind).toBe(model === 'mlp' ? 'standard' : 'minmax')
      stats.forEach((st, f) => {
        if (model === 'mlp') {
          expect(s.offset[f]).toBeCloseTo(st.mean, 12)
          expect(s.scale[f]).toBeCloseTo(st.sd, 12)
        } else {
          expect(s.offset[f]).toBe(st.min)
          expect(s.scale[f]).toBe(st.max - st.min)
        }
      })
      // The same numbers in every checkpoint's metadata (its run_config).
      const ckpts = listCheckpoints(join(dir, 'checkpoints'))
      expect(ckpts.length).toBeGreaterThan(0)
      const meta = JSON.parse(loadCheckpoint(ckpts[ckpts.length - 1].path).extra.run_config) as Config
      expect(meta.input).toEqual(c.input)
    }
  })

  it('a resumed run uses the stored scaling, not a new fit', async () => {
    // Train one epoch, then change the stored scaling and replay: a refit would give the
    // original parameters back; the stored (changed) scaling gives other ones.
    const dir = join(tmp, 'stored')
    const args = ['train', '--model', 'mlp', '--hidden', '8', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '1', '--threads', '1']
    const a = await cli([...args, '--out', dir, '--json'])
    expect(a.code).toBe(0)
    const hash = lastJson<{ hash: string }>(a).hash
    const same = await cli(['replay', dir, '--step', '2', '--json'])
    expect(lastJson<{ hash: string }>(same).hash).toBe(hash)
    const c = configOf(dir)
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...c, input: { ...c.input, scaling: { ...c.input.scaling, scale: c.input.scaling.scale.map((v) => v * 2) } } }))
    rmSync(join(dir, 'checkpoints'), { recursive: true })
    const changed = await cli(['replay', dir, '--step', '2', '--json'])
    expect(changed.code).toBe(0)
    expect(lastJson<{ hash: string }>(changed).hash).not.toBe(hash)
  })

  it('refuses the image models on tabular data with one line naming the models that take it', async () => {
    for (const model of ['cnn', 'lenet5', 'cnn1', 'cnn2']) {
      const r = await cli(['train', '--model', model, '--data', fixture('flowers.csv'), '--label', 'species'])
      expect(r.code).toBe(2)
      expect(r.stderr.trim().split('\n')).toEqual([
        `gradstream train: --model ${model}: expects 28x28x1 images (--data mnist, or a file of 784 pixel columns; ${fixture('flowers.csv')} has 3 feature columns); for it use --model mlp, rbm, autoencoder`,
      ])
    }
  })

  it('an explicit --shift on tabular data is an error (the recipe default is dropped)', async () => {
    const r = await cli(['train', '--model', 'mlp', '--data', fixture('flowers.csv'), '--label', 'species', '--shift', '2'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--shift: random shifts apply to images; .*flowers.csv is tabular/)
  })
})

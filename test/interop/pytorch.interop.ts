// gradstream export --format pytorch, run in real PyTorch: the generated model.py loads
// model.safetensors with the standard library and torch only, and gives the same logits as
// gradstream for an MLP trained on the flowers fixture (raw features in), and for the cnn
// and LeNet-5 on MNIST digits (NCHW). Prints the largest absolute logit difference.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import type { Tensor } from '../../src/core/tensor.ts'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { loadMnist } from '../../src/io/mnist.ts'
import { applyScaling } from '../../src/io/standardize.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { ZOO } from '../../src/models/zoo/index.ts'
import { checkpointOf } from '../cli/export-fixtures.ts'
import { cli, fixture } from '../cli/run-cli.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-interop-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** The first python with torch: $GRADSTREAM_PYTHON, python3, or Debian's /usr/bin/python3. */
const python = ((): string => {
  for (const p of [process.env.GRADSTREAM_PYTHON, 'python3', '/usr/bin/python3'])
    if (p && spawnSync(p, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return p
  throw new Error('test:interop needs python3 with torch (Debian: apt-get install -y python3-torch)')
})()

/** Logits from PyTorch: `load` from the exported model.py, on x (a flat list and its shape). */
const torchLogits = (dir: string, x: { shape: readonly number[]; data: ArrayLike<number> }): { shape: number[]; data: number[]; version: string } => {
  const input = join(dir, 'input.json')
  writeFileSync(input, JSON.stringify({ shape: x.shape, data: Array.from(x.data) }))
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(dir)})
import torch
from model import load
spec = json.load(open(${JSON.stringify(input)}))
x = torch.tensor(spec["data"], dtype=torch.float32).reshape(spec["shape"])
with torch.no_grad():
    y = load(${JSON.stringify(join(dir, 'model.safetensors'))})(x)
print(json.dumps({"shape": list(y.shape), "data": y.flatten().tolist(), "version": torch.__version__}))
`
  const r = spawnSync(python, ['-c', script], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { shape: number[]; data: number[]; version: string }
}

const ours = (ckpt: string, x: Tensor): Tensor => {
  const c = loadCheckpoint(ckpt)
  const o = objectiveFromSpec(c.model)
  if (E.isLeft(o)) throw o.left
  return o.right.predict(c.snapshot.params, x)
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let d = 0
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]))
  return d
}

const nchw = (x: Tensor): { shape: number[]; data: Float32Array } => {
  const [N, H, W, C] = x.shape
  const out = new Float32Array(x.data.length)
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out[((n * C + c) * H + h) * W + w] = x.data[((n * H + h) * W + w) * C + c]
  return { shape: [N, C, H, W], data: out }
}

describe('PyTorch runs what gradstream exports', () => {
  it('an MLP trained on the flowers fixture: raw features in, the same logits', async () => {
    const run = join(tmp, 'mlp')
    expect((await cli(['train', '--model', 'mlp', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '5', '--out', run])).code).toBe(0)
    const out = join(tmp, 'mlp-pt')
    expect((await cli(['export', run, '--to', out, '--format', 'pytorch'])).code).toBe(0)
    const rows = Float32Array.from([1.057, 4.75, -0.059, 4.595, 0.845, 2.843, 7.14, 3.095, 5.474, 1.438, 4.676, 0.481])
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { input: { scaling: { kind: 'standard'; offset: number[]; scale: number[] } } }
    const ckpt = listCheckpoints(join(run, 'checkpoints')).pop()!.path
    const ref = ours(ckpt, applyScaling({ shape: [4, 3], data: rows }, config.input.scaling))
    const t = torchLogits(out, { shape: [4, 3], data: rows })
    expect(t.shape).toEqual([4, 3])
    const d = maxDiff(t.data, ref.data)
    console.log(`torch ${t.version}: mlp (flowers) max |logit difference| ${d.toExponential(2)}`)
    expect(d).toBeLessThan(1e-4)
  })

  it('a cnn trained on a CSV of pixel columns (0..255): raw NCHW pixels in, scaled in forward', async () => {
    const { train } = loadMnist()
    const pick = Array.from({ length: 200 }, (_, i) => i * 40)
    const rows = pick.map((j) => Array.from(train.x.data.subarray(j * 784, (j + 1) * 784), (v) => Math.round(v * 255)))
    const csv = join(tmp, 'digits.csv')
    const header = ['digit', ...Array.from({ length: 784 }, (_, i) => `px${i}`)].join(',')
    writeFileSync(csv, [header, ...rows.map((r, i) => [train.labels![pick[i]], ...r].join(','))].join('\n'))
    const run = join(tmp, 'pixels')
    expect((await cli(['train', '--model', 'cnn', '--data', csv, '--label', 'digit', '--epochs', '2', '--out', run])).code).toBe(0)
    const out = join(tmp, 'pixels-pt')
    expect((await cli(['export', run, '--to', out])).code).toBe(0)
    const raw = Float32Array.from(rows.slice(0, 6).flat())
    const ref = ours(listCheckpoints(join(run, 'checkpoints')).pop()!.path, { shape: [6, 28, 28, 1], data: raw.map((v) => v / 255) })
    const t = torchLogits(out, { shape: [6, 1, 28, 28], data: raw })
    const d = maxDiff(t.data, ref.data)
    console.log(`torch ${t.version}: cnn (pixel CSV) max |logit difference| ${d.toExponential(2)}`)
    expect(d).toBeLessThan(1e-4)
  })

  for (const name of ['cnn', 'lenet5'] as const)
    it(`${name}: NCHW digits in, the same logits`, async () => {
      const objective = ZOO[name].build({ classes: 10 }, [28, 28, 1]).objective
      const ckpt = join(tmp, `${name}.safetensors`)
      checkpointOf(objective, ckpt, 5)
      const out = join(tmp, `${name}-pt`)
      expect((await cli(['export', ckpt, '--to', out])).code).toBe(0)
      const { test } = loadMnist()
      const x: Tensor = { shape: [8, 28, 28, 1], data: test.x.data.slice(0, 8 * 784) }
      const ref = ours(ckpt, x)
      const t = torchLogits(out, nchw(x))
      expect(t.shape).toEqual([8, 10])
      const d = maxDiff(t.data, ref.data)
      console.log(`torch ${t.version}: ${name} max |logit difference| ${d.toExponential(2)}`)
      expect(d).toBeLessThan(1e-4)
    })
})

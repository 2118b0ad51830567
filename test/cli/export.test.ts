// gradstream export --format pytorch, checked without PyTorch: the exported tensors are read
// back from model.safetensors by their PyTorch names and run through the module list of the
// generated model.py with PyTorch's semantics (test/cli/torch-reference.ts); the logits must
// equal gradstream's own forward pass. test/interop/ runs the same files in real PyTorch.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { afterAll, describe, expect, it } from 'vitest'
import { key, normal } from '../../src/core/rng.ts'
import type { Tensor } from '../../src/core/tensor.ts'
import { listCheckpoints, loadCheckpoint } from '../../src/io/checkpoint-file.ts'
import { loadMnist } from '../../src/io/mnist.ts'
import { loadSafetensorsWithData } from '../../src/io/safetensors-file.ts'
import { applyScaling } from '../../src/io/standardize.ts'
import { leakyRelu } from '../../src/models/activations.ts'
import { conv2d } from '../../src/models/conv2d.ts'
import { dense } from '../../src/models/dense.ts'
import { flatten } from '../../src/models/flatten.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { avgPool2d } from '../../src/models/pool.ts'
import { prelu } from '../../src/models/prelu.ts'
import { sequential } from '../../src/models/sequential.ts'
import { ZOO } from '../../src/models/zoo/index.ts'
import { checkpointOf } from './export-fixtures.ts'
import { cli, fixture } from './run-cli.ts'
import type { NamedTensor } from './torch-reference.ts'
import { torchReference } from './torch-reference.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-export-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const exported = (dir: string) => {
  const { file } = loadSafetensorsWithData(join(dir, 'model.safetensors'))
  const tensors = new Map<string, NamedTensor>()
  for (const t of file.tensors) {
    expect(t.dtype).toBe('F32')
    tensors.set(t.name, { shape: t.shape, data: t.data as Float32Array })
  }
  return { file, tensors, python: readFileSync(join(dir, 'model.py'), 'utf8') }
}

/** gradstream's logits for x [N, ...inShape] (NHWC) from a checkpoint. */
const ourLogits = (ckpt: string, x: Tensor): Tensor => {
  const c = loadCheckpoint(ckpt)
  const o = objectiveFromSpec(c.model)
  if (E.isLeft(o)) throw o.left
  return o.right.predict(c.snapshot.params, x)
}

/** NHWC [N, H, W, C] -> NCHW [N, C, H, W]. */
const toNchw = (x: Tensor): { shape: number[]; data: Float32Array } => {
  const [N, H, W, C] = x.shape
  const out = new Float32Array(x.data.length)
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out[((n * C + c) * H + h) * W + w] = x.data[((n * H + h) * W + w) * C + c]
  return { shape: [N, C, H, W], data: out }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let d = 0
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]))
  return d
}

describe('gradstream export --format pytorch', () => {
  it('a tabular MLP run: layouts [out, in], names layers.<i>.*, raw features in, the same logits', async () => {
    const run = join(tmp, 'mlp')
    expect((await cli(['train', '--model', 'mlp', '--hidden', '16,8', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '2', '--out', run])).code).toBe(0)
    const out = join(tmp, 'mlp-pt')
    const r = await cli(['export', run, '--to', out, '--format', 'pytorch'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/-> .*model\.safetensors \(6 tensors, [\d,]+ bytes\) and .*model\.py/)
    const { file, tensors, python } = exported(out)
    expect(file.tensors.map((t) => [t.name, t.shape])).toEqual([
      ['layers.1.weight', [16, 3]],
      ['layers.1.bias', [16]],
      ['layers.3.weight', [8, 16]],
      ['layers.3.bias', [8]],
      ['layers.5.weight', [3, 8]],
      ['layers.5.bias', [3]],
    ])
    expect(file.metadata.format).toBe('pt')
    expect(python).toMatch(/^CLASSES = \["setosa", "versicolor", "virginica"\]$/m)
    // The weight is the transpose of ours.
    const ckpt = listCheckpoints(join(run, 'checkpoints')).pop()!.path
    const W = loadCheckpoint(ckpt).snapshot.params.fc1 as unknown as { W: Tensor }
    const w = tensors.get('layers.1.weight')!
    for (let i = 0; i < 3; i++) for (let o = 0; o < 16; o++) expect(w.data[o * 3 + i]).toBe(W.W.data[i * 16 + o])
    // Raw rows through model.py (which scales them) vs scaled rows through gradstream.
    const rows = [1.057, 4.75, -0.059, 4.595, 0.845, 2.843, 7.14, 3.095, 5.474, 100, -3, 0.5]
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { input: { scaling: { kind: 'standard'; offset: number[]; scale: number[] } } }
    const ours = ourLogits(ckpt, applyScaling({ shape: [4, 3], data: Float32Array.from(rows) }, config.input.scaling))
    const theirs = torchReference(python, tensors, { shape: [4, 3], data: Float32Array.from(rows) })
    expect(theirs.shape).toEqual([4, 3])
    expect(maxDiff(theirs.data, ours.data)).toBeLessThan(1e-5)
  })

  for (const name of ['cnn', 'lenet5', 'cnn1', 'cnn2'] as const)
    it(`${name}: conv weights [out, in, kh, kw], NCHW input, flatten reordered: the same logits`, async () => {
      const objective = ZOO[name].build({ classes: 10 }, [28, 28, 1]).objective
      const ckpt = join(tmp, `${name}.safetensors`)
      checkpointOf(objective, ckpt, 7)
      const out = join(tmp, `${name}-pt`)
      const r = await cli(['export', ckpt, '--to', out])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const { file, tensors, python } = exported(out)
      const convs = file.tensors.filter((t) => t.shape.length === 4)
      expect(convs.length).toBeGreaterThan(0)
      expect(convs.every((t) => /^layers\.\d+\.weight$/.test(t.name))).toBe(true)
      if (name === 'cnn') expect(convs.map((t) => t.shape)).toEqual([[8, 1, 5, 5], [16, 8, 5, 5]])
      if (name === 'lenet5') {
        expect(convs.map((t) => t.shape)).toEqual([[6, 1, 5, 5], [16, 6, 5, 5], [120, 16, 5, 5]])
        expect(python).toMatch(/nn\.Conv2d\(1, 6, kernel_size=\(5, 5\), stride=\(1, 1\), padding=\(2, 2\)\)/)
        expect(file.tensors.map((t) => t.name)).toContain('layers.2.beta')
      }
      const { test } = loadMnist()
      const n = 4
      const x: Tensor = { shape: [n, 28, 28, 1], data: test.x.data.slice(0, n * 784) }
      const ours = ourLogits(ckpt, x)
      const theirs = torchReference(python, tensors, toNchw(x))
      expect(theirs.shape).toEqual([n, 10])
      expect(maxDiff(theirs.data, ours.data)).toBeLessThan(1e-4)
    })

  it('uneven same padding, stride, a flipped kernel, PReLU, average pooling and leaky ReLU map too', async () => {
    const net = sequential(
      conv2d({ kernelSize: 3, filters: 3, padding: 'same', stride: 2, flip: true }),
      prelu(),
      avgPool2d({ pool: 2 }),
      flatten(),
      dense(5),
      leakyRelu(5),
      dense(4),
    )
    const objective = supervised(net, softmaxCrossEntropy(), [8, 8, 2]) as AnyObjective
    const ckpt = join(tmp, 'custom.safetensors')
    checkpointOf(objective, ckpt, 3)
    const out = join(tmp, 'custom-pt')
    expect((await cli(['export', ckpt, '--to', out])).code).toBe(0)
    const { tensors, python } = exported(out)
    expect(python).toMatch(/nn\.Sequential\(nn\.ZeroPad2d\(\(0, 1, 0, 1\)\), nn\.Conv2d\(2, 3, kernel_size=\(3, 3\), stride=\(2, 2\)\)\)/)
    expect([...tensors.keys()]).toContain('layers.0.1.weight')
    const x: Tensor = { shape: [3, 8, 8, 2], data: normal(key(11), 3 * 128) }
    const ours = ourLogits(ckpt, x)
    const theirs = torchReference(python, tensors, toNchw(x))
    expect(maxDiff(theirs.data, ours.data)).toBeLessThan(1e-5)
  })

  it('refuses what it cannot export with one line and exit code 2', async () => {
    const rbm = join(tmp, 'rbm')
    expect((await cli(['train', '--model', 'rbm', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '1', '--out', rbm])).code).toBe(0)
    const cases: Array<[string[], RegExp]> = [
      [['export', rbm, '--to', join(tmp, 'x')], /expected a network trained with a loss on labels .*got a model of kind "rbm"/],
      [['export', rbm], /--to: expected the directory/],
      [['export', rbm, '--to', join(tmp, 'x'), '--format', 'onnx'], /--format: expected one of pytorch, got "onnx"/],
    ]
    for (const [args, message] of cases) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n').length).toBe(1)
    }
  })
})

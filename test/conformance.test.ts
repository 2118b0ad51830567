// Runs every vector set file listed in index.json, in Float64 and in Float32.
// The directory is $GRADSTREAM_CONFORMANCE, else ../shared/conformance beside the repo;
// nothing here depends on the particular files, shapes or names of the open set.

import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { tiedAutoencoder } from '../src/models/autoencoder.ts'
import type { AnyLayer, ForwardCtx, LayerSpec } from '../src/models/layer.ts'
import type { OptimizerSpec, OptState } from '../src/models/optimizers.ts'
import { optimizerFromSpec } from '../src/models/optimizers.ts'
import { contrastiveDivergenceWith, freeEnergy, hiddenProbs, logPartition, logProb } from '../src/models/rbm.ts'
import type { RbmParams } from '../src/models/rbm.ts'
import { layerFromSpec, lossFromSpec } from '../src/models/registry.ts'
import { rrelu } from '../src/models/rrelu.ts'
import type { Sequential } from '../src/models/sequential.ts'
import { key } from '../src/core/rng.ts'
import { withKernelBackend } from '../src/ops/backend.ts'
import type { DType, Tensor } from '../src/core/tensor.ts'
import { shapeEquals } from '../src/core/tensor.ts'
import type { Params } from '../src/core/tree.ts'
import { leaves, treeFromLeaves } from '../src/core/tree.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DIR = process.env.GRADSTREAM_CONFORMANCE ?? resolve(root, '../shared/conformance')

interface JsonTensor {
  shape: number[]
  data: number[]
}
type TensorMap = Record<string, JsonTensor>
interface Fixture {
  name: string
  kind: 'layer' | 'loss' | 'model' | 'rbm' | 'optimizer'
  layer: LayerSpec & Record<string, unknown>
  inputs: TensorMap
  params: TensorMap
  outputs: TensorMap
  cotangent?: JsonTensor
  grads?: TensorMap
  extras?: TensorMap
  state?: Record<string, unknown>
  state_out?: Record<string, unknown>
  tolerance: number
}
interface IndexEntry {
  file: string
  name: string
  kind: string
  tolerance: number
}

const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as { files: IndexEntry[]; count: number }
const fixture = (file: string): Fixture => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Fixture

const load = (t: JsonTensor, dtype: DType): Tensor => ({
  shape: t.shape,
  data: dtype === 'float64' ? Float64Array.from(t.data) : Float32Array.from(t.data),
})
const tree = (m: TensorMap, dtype: DType): Params =>
  treeFromLeaves(Object.entries(m).map(([k, v]) => [k, load(v, dtype)] as const))

/** The README's measure: max|got - want| / max(max|want|, 1e-30). */
const err = (got: ArrayLike<number>, want: readonly number[]): number => {
  let d = 0
  let s = 1e-30
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]))
    s = Math.max(s, Math.abs(want[i]))
  }
  return d / s
}

/** Collects every comparison of one run, so a failure lists all tensors that diverge. */
class Checker {
  readonly report: string[] = []
  worst = 0
  count = 0
  constructor(
    readonly tol: number,
    readonly exact: ReadonlySet<string> = new Set(),
    /** The precision the run computes in: every float result must be an array of it. */
    readonly dtype?: DType,
  ) {}
  check(label: string, got: Tensor | number | undefined, want: JsonTensor): void {
    this.count++
    if (got === undefined) {
      this.report.push(`${label}: missing`)
      return
    }
    const g = typeof got === 'number' ? { shape: [], data: [got] } : got
    // A float32 run must compute in float32 (not quietly in float64 and back), and the
    // reverse: the result's array type is part of the contract.
    if (this.dtype !== undefined && typeof got !== 'number' && (got.data instanceof Float32Array || got.data instanceof Float64Array)) {
      const want = this.dtype === 'float32' ? 'Float32Array' : 'Float64Array'
      if (got.data.constructor.name !== want) this.report.push(`${label}: expected a ${want}, got a ${got.data.constructor.name}`)
    }
    if (g.data.length !== want.data.length || (typeof got !== 'number' && !shapeEquals(got.shape, want.shape))) {
      this.report.push(`${label}: shape [${g.shape.join(',')}] vs [${want.shape.join(',')}]`)
      return
    }
    if (this.exact.has(label)) {
      const same = want.data.every((v, i) => g.data[i] === v)
      if (!same) this.report.push(`${label}: expected an exact match`)
      return
    }
    const e = err(g.data, want.data)
    this.worst = Math.max(this.worst, e)
    if (!(e <= this.tol)) this.report.push(`${label}: err ${e.toExponential(2)} > ${this.tol}`)
  }
  done(): void {
    expect(this.report, this.report.join('\n')).toEqual([])
    expect(this.count).toBeGreaterThan(0)
  }
}

const ctxFor = (spec: Record<string, unknown>): ForwardCtx => ({ training: spec.training === true, key: key(0) })

const savedTensor = (saved: unknown, name: string): Tensor | undefined => {
  if (typeof saved !== 'object' || saved === null) return undefined
  const v = (saved as Record<string, unknown>)[name]
  return v !== null && typeof v === 'object' && 'shape' in v && 'data' in v ? (v as Tensor) : undefined
}

const buildLayer = (f: Fixture, dtype: DType): AnyLayer => {
  const spec = f.layer
  if (spec.type === 'rrelu' && spec.training === true && f.inputs.a)
    return rrelu({ lower: spec.lower as number, upper: spec.upper as number, slopes: load(f.inputs.a, dtype) })
  const built = layerFromSpec(spec)
  if (E.isLeft(built)) throw built.left
  return built.right
}

/** Shape inference agrees with the vectors: init's outShape (vs `output`) and parameter shapes. */
const checkInit = (layer: AnyLayer, f: Fixture, c: Checker, output = 'y'): void => {
  const x = f.inputs.x
  const init = layer.init(key(1), x.shape.slice(1))
  if (E.isLeft(init)) {
    c.report.push(`init: ${init.left.message}`)
    return
  }
  const y = f.outputs[output]
  if (y && !shapeEquals(init.right.outShape, y.shape.slice(1)))
    c.report.push(`init outShape [${init.right.outShape.join(',')}] vs [${y.shape.slice(1).join(',')}]`)
  const shapes = new Map(leaves(init.right.params).map(([p, t]) => [p, t.shape]))
  for (const [name, t] of Object.entries(f.params)) {
    const s = shapes.get(name)
    if (!s || !shapeEquals(s, t.shape)) c.report.push(`init param ${name}: [${s?.join(',')}] vs [${t.shape.join(',')}]`)
  }
}

const runLayer = (f: Fixture, dtype: DType, c: Checker): void => {
  const layer = buildLayer(f, dtype)
  checkInit(layer, f, c)
  const params = tree(f.params, dtype)
  const { y, saved } = layer.forward(params, load(f.inputs.x, dtype), ctxFor(f.layer))
  c.check('y', y, f.outputs.y)
  for (const [name, want] of Object.entries(f.outputs)) if (name !== 'y') c.check(name, savedTensor(saved, name), want)
  if (!f.cotangent || !f.grads) return
  const { dparams, dx } = layer.vjp(params, saved, load(f.cotangent, dtype))
  const grads = new Map(leaves(dparams))
  for (const [name, want] of Object.entries(f.grads)) c.check(`grad ${name}`, name === 'x' ? dx : grads.get(name), want)
}

const runLoss = (f: Fixture, dtype: DType, c: Checker): void => {
  const loss = lossFromSpec(f.layer)
  if (E.isLeft(loss)) throw loss.left
  const r = loss.right.forward(load(f.inputs.x, dtype), load(f.inputs.target, dtype))
  c.check('y', r.loss, f.outputs.y)
  for (const [name, want] of Object.entries(f.outputs)) if (name !== 'y') c.check(name, r.aux[name], want)
  const dx = loss.right.vjp(r.saved, f.cotangent ? f.cotangent.data[0] : 1)
  if (f.grads) c.check('grad x', dx, f.grads.x)
}

const runModel = (f: Fixture, dtype: DType, c: Checker): void => {
  const { loss: lossSpec, ...layerSpec } = f.layer
  const loss = lossFromSpec(lossSpec)
  if (E.isLeft(loss)) throw loss.left
  const x = load(f.inputs.x, dtype)
  const params = tree(f.params, dtype)
  const cot = f.cotangent ? f.cotangent.data[0] : 1

  if (layerSpec.type === 'tied_autoencoder') {
    // The autoencoder's target is its own input; its hidden size is W's second axis.
    const layer = tiedAutoencoder({ hidden: f.params.W.shape[1] })
    const { y, saved } = layer.forward(params as never, x, ctxFor(layerSpec))
    const r = loss.right.forward(y, x)
    c.check('y', r.loss, f.outputs.y)
    for (const [name, want] of Object.entries(f.outputs)) if (name !== 'y') c.check(name, savedTensor(saved, name), want)
    const back = layer.vjp(params as never, saved, loss.right.vjp(r.saved, cot))
    const grads = new Map(leaves(back.dparams))
    for (const [name, want] of Object.entries(f.grads ?? {})) c.check(`grad ${name}`, name === 'x' ? back.dx : grads.get(name), want)
    if (f.extras?.x_total) {
      // The target path adds -(r - x) * cot to the encoder path.
      const total = back.dx.data.map((g, i) => g - cot * (y.data[i] - x.data[i])) // in the run's precision
      c.check('extras x_total', { shape: x.shape, data: total }, f.extras.x_total)
    }
    return
  }

  const built = layerFromSpec(layerSpec)
  if (E.isLeft(built)) throw built.left
  const seq = built.right as Sequential
  // The network's output is its last child's (the loss is outputs.y).
  checkInit(seq, f, c, seq.children[seq.children.length - 1]?.name)
  // Forward child by child so every intermediate output can be compared by name.
  const ctx = ctxFor(layerSpec)
  const fwd = seq.forward(params, x, ctx)
  let h = x
  seq.children.forEach(({ name, layer }, i) => {
    const p = (params[name] ?? {}) as Params
    h = layer.forward(p, h, { training: ctx.training, key: key(i) }).y
    if (f.outputs[name]) c.check(name, h, f.outputs[name])
  })
  c.check('logits (sequential forward)', fwd.y, { shape: [...h.shape], data: Array.from(h.data) })
  const r = loss.right.forward(fwd.y, load(f.inputs.target, dtype))
  c.check('y', r.loss, f.outputs.y)
  for (const [name, want] of Object.entries(f.outputs))
    if (name !== 'y' && !seq.children.some((ch) => ch.name === name)) c.check(name, r.aux[name], want)
  const back = seq.vjp(params, fwd.saved, loss.right.vjp(r.saved, cot))
  const grads = new Map(leaves(back.dparams))
  for (const [name, want] of Object.entries(f.grads ?? {})) c.check(`grad ${name}`, name === 'x' ? back.dx : grads.get(name), want)
}

const runRbm = (f: Fixture, dtype: DType, c: Checker): void => {
  const p = tree(f.params, dtype) as RbmParams
  if (f.layer.type === 'rbm_exact') {
    const v = load(f.inputs.v, dtype)
    const logZ = logPartition(p)
    const want: Record<string, () => Tensor | number> = {
      free_energy: () => freeEnergy(p, v),
      log_z: () => logZ,
      log_prob: () => logProb(p, v, logZ),
      p_h_given_v: () => hiddenProbs(p, v),
    }
    for (const [name, t] of Object.entries(f.outputs)) c.check(name, want[name]?.(), t)
    return
  }
  // rbm_cdK: uniforms u_h{s} for the hidden draw of step s, u_v{s+1} for the visible one.
  const k = (f.layer.k as number | undefined) ?? 1
  const v0 = load(f.inputs.v0, dtype)
  const u = (name: string) => {
    if (!f.inputs[name]) throw new Error(`fixture lacks uniforms ${name}`)
    return load(f.inputs[name], dtype).data
  }
  const r = contrastiveDivergenceWith(
    p,
    v0,
    { h: Array.from({ length: k }, (_, s) => u(`u_h${s}`)), v: Array.from({ length: k }, (_, s) => u(`u_v${s + 1}`)) },
    k,
  )
  const neg = (t: Tensor): Tensor => ({ shape: t.shape, data: t.data.map((g) => -g) }) // keeps the array type
  const got: Record<string, () => Tensor> = {
    ph0: () => r.ph0,
    h0: () => r.h0,
    pv1: () => r.pv1,
    v1: () => r.v1,
    [`ph${k}`]: () => r.phk,
    [`v${k}`]: () => r.vk,
    dW: () => neg(r.grads.W),
    da: () => neg(r.grads.a),
    db: () => neg(r.grads.b),
    free_energy: () => freeEnergy(p, v0),
    [`free_energy_v${k}`]: () => freeEnergy(p, r.vk),
  }
  for (const [name, t] of Object.entries(f.outputs)) c.check(name, got[name]?.(), t)
  const grads = new Map(leaves(r.grads))
  for (const [name, t] of Object.entries(f.grads ?? {})) c.check(`grad ${name}`, grads.get(name), t)
}

const runOptimizer = (f: Fixture, dtype: DType, c: Checker): void => {
  const s = f.layer as Record<string, unknown>
  if ((s.dampening ?? 0) !== 0) throw new Error('dampening is not supported')
  if (s.amsgrad === true) throw new Error('amsgrad is not supported')
  const wd = (s.weight_decay as number | undefined) ?? 0
  const spec: OptimizerSpec =
    s.type === 'adam'
      ? { type: 'adam', lr: s.lr as number, beta1: s.beta1 as number, beta2: s.beta2 as number, eps: s.eps as number, weightDecay: wd }
      : s.type === 'momentum'
        ? { type: s.nesterov === true ? 'nesterov' : 'momentum', lr: s.lr as number, momentum: s.momentum as number, weightDecay: wd }
        : { type: 'sgd', lr: s.lr as number, weightDecay: wd }
  const opt = optimizerFromSpec(spec)
  const params = tree(f.params, dtype)
  const st = f.state ?? {}
  const slots: Record<string, Params> = {}
  for (const [slot, v] of Object.entries(st)) if (slot !== 'step') slots[slot] = tree(v as TensorMap, dtype)
  const state: OptState = { step: (st.step as number | undefined) ?? 0, slots }
  const out = opt.update(params, tree(f.inputs, dtype), state)
  const got = new Map(leaves(out.params))
  for (const [name, t] of Object.entries(f.outputs)) c.check(`param ${name}`, got.get(name), t)
  for (const [slot, v] of Object.entries(f.state_out ?? {})) {
    if (slot === 'step') {
      expect(out.state.step).toBe(v)
      continue
    }
    const m = new Map(leaves(out.state.slots[slot] ?? {}))
    for (const [name, t] of Object.entries(v as TensorMap)) c.check(`${slot} ${name}`, m.get(name), t)
  }
}

const RUN: Record<Fixture['kind'], (f: Fixture, dtype: DType, c: Checker) => void> = {
  layer: runLayer,
  loss: runLoss,
  model: runModel,
  rbm: runRbm,
  optimizer: runOptimizer,
}

describe(`conformance vectors in ${DIR}`, () => {
  it('lists every file it covers', () => {
    // Counted independently of the index: every vector file in the directory is listed once.
    const onDisk = readdirSync(DIR).filter((n) => n.endsWith('.json') && n !== 'index.json').sort()
    expect(onDisk.length).toBeGreaterThan(0)
    expect(index.files.map((e) => e.file).sort()).toEqual(onDisk)
    expect(index.count).toBe(onDisk.length)
  })
  for (const entry of index.files) {
    // Float32 runs on both kernel backends (Float64 always takes the TypeScript kernels).
    for (const [dtype, backend] of [['float64', 'ts'], ['float32', 'ts'], ['float32', 'simd']] as const) {
      it(`${entry.name} (${entry.kind}) in ${dtype}${dtype === 'float32' ? ` on the ${backend} backend` : ''}`, () => withKernelBackend(backend, () => {
        const f = fixture(entry.file)
        const tol = dtype === 'float64' ? f.tolerance : Math.max(1e-4, f.tolerance)
        // 0/1 samples must match exactly (README, "Exact match").
        const c = new Checker(tol, new Set(f.kind === 'rbm' ? ['h0', 'v1', 'h1', 'v2'] : []), dtype)
        const run = RUN[f.kind]
        if (!run) throw new Error(`unknown fixture kind ${f.kind}`)
        run(f, dtype, c)
        c.done()
        WORST.set(`${entry.name} ${dtype} ${backend}`, c.worst)
      }))
    }
  }
  it('reports the worst relative error per file', () => {
    if (process.env.GRADSTREAM_CONFORMANCE_REPORT) {
      const rows = [...WORST].map(([k, v]) => `${k.padEnd(48)} ${v.toExponential(2)}`)
      console.log(`conformance: ${WORST.size} runs\n${rows.join('\n')}`)
    }
    expect(WORST.size).toBe(index.files.length * 3)
  })
})

const WORST = new Map<string, number>()

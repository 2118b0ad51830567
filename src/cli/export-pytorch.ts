// A sequential network in PyTorch's conventions: its tensors in PyTorch layouts and the
// Python source of the same network as a torch.nn.Module (NCHW images in, logits out).
//
// Layout changes (DESIGN.md "Tensor" -> torch.nn):
//   conv2d   k [kh, kw, in, out] (NHWC cross-correlation) -> weight [out, in, kh, kw];
//            a flipped kernel (true convolution) is rotated 180 degrees on the way;
//            explicit or 'same' padding becomes Conv2d padding (ZeroPad2d first when uneven)
//   dense    W [in, out] (y = x W + b) -> weight [out, in] (y = x W^T + b); when the dense
//            layer reads a flattened image, its input rows are reordered from our H, W, C
//            flattening to PyTorch's C, H, W one, so nn.Flatten on NCHW feeds it the same sums
//   prelu    y = z / a for z < 0 -> nn.PReLU weight = 1 / a (leaky ReLU: slope 1 / a)
//   subsample (LeNet, cnn-derivation-lenet eq 2): act(beta * block sum + b), a small module
//            with parameters beta and bias (the block sum is avg_pool2d with divisor 1)
// Names follow nn.Sequential: layers.<i>.weight, layers.<i>.bias, ... with i the child's
// position in our sequential. Models trained on a file take its raw values (features, or
// pixel columns as NCHW images): the scaling fitted at training time is applied in forward
// (non-persistent buffers, constants in model.py, in PyTorch's input order).

import { GradstreamError } from '../core/errors.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { size } from '../core/tensor.ts'
import type { Params } from '../core/tree.ts'
import type { Scaling } from '../io/standardize.ts'
import type { JsonValue } from '../models/layer.ts'
import { LECUN_A, LECUN_S } from '../ops/activations.ts'
import { samePadding } from '../ops/conv2d.ts'

export interface PytorchTensor {
  readonly name: string
  readonly shape: readonly number[]
  readonly data: Float32Array
}

export interface PytorchExport {
  readonly tensors: readonly PytorchTensor[]
  /** The body of model.py. */
  readonly python: string
  /** Per-sample input shape PyTorch takes: [C, H, W] for images, [F] for features. */
  readonly inputShape: readonly number[]
}

export interface ExportInput {
  /** The objective's spec (kind 'supervised', a sequential layer). */
  readonly spec: { readonly kind: string; readonly inShape: readonly number[]; readonly [k: string]: unknown }
  readonly params: Params
  readonly classes: readonly string[]
  readonly scaling?: Scaling
  /** A line for the file header (where the model came from). */
  readonly origin: string
}

type Spec = { readonly [k: string]: JsonValue }

const fail = (what: string): never => {
  throw new GradstreamError(`export --format pytorch: ${what}`)
}

const pairOf = (v: JsonValue | undefined, def: number): [number, number] =>
  typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [Number(v[0]), Number(v[1])] : [def, def]

const leaf = (params: Params, child: string, name: string): Tensor => {
  const p = params[child] as Params | undefined
  const t = p?.[name] as Tensor | undefined
  if (t === undefined || !(t.data instanceof Float32Array || t.data instanceof Float64Array)) return fail(`missing parameter ${child}.${name}`)
  return t
}

const f32 = (t: Tensor): Float32Array => Float32Array.from(t.data)

/** k [kh, kw, in, out] -> [out, in, kh, kw] (rotated 180 degrees when flipped). */
export const convWeight = (k: Tensor, flip: boolean): Float32Array => {
  const [kh, kw, ci, co] = k.shape
  const out = new Float32Array(k.data.length)
  for (let o = 0; o < co; o++)
    for (let i = 0; i < ci; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) {
          const [sy, sx] = flip ? [kh - 1 - y, kw - 1 - x] : [y, x]
          out[((o * ci + i) * kh + y) * kw + x] = k.data[((sy * kw + sx) * ci + i) * co + o]
        }
  return out
}

/**
 * W [in, out] -> [out, in]; with `hwc` = [H, W, C] the input index is our H, W, C
 * flattening and the column written is PyTorch's C, H, W one.
 */
export const denseWeight = (W: Tensor, hwc?: readonly [number, number, number]): Float32Array => {
  const [I, O] = W.shape
  const out = new Float32Array(I * O)
  const col = (r: number): number => {
    if (hwc === undefined) return r
    const [H, Wd, C] = hwc
    const c = r % C
    const hw = (r - c) / C
    return c * H * Wd + hw
  }
  for (let r = 0; r < I; r++) {
    const j = col(r)
    for (let o = 0; o < O; o++) out[o * I + j] = W.data[r * O + o]
  }
  return out
}

const ACTIVATIONS: { readonly [type: string]: (s: Spec) => string } = {
  relu: () => 'nn.ReLU()',
  sigmoid: () => 'nn.Sigmoid()',
  tanh: () => 'nn.Tanh()',
  lecun_tanh: () => 'LecunTanh()',
  leaky_relu: (s) => `nn.LeakyReLU(negative_slope=${1 / Number(s.a ?? 5)})`,
  // RReLU in evaluation mode: the leaky ReLU with the middle slope.
  rrelu: (s) => `nn.LeakyReLU(negative_slope=${2 / (Number(s.lower ?? 3) + Number(s.upper ?? 8))})`,
  softmax: () => 'nn.Softmax(dim=-1)',
}

const pyList = (xs: readonly (number | string)[]): string => `[${xs.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x))).join(', ')}]`

/** Maps a supervised sequential network to PyTorch (see the file header). */
export const exportPytorch = (m: ExportInput): PytorchExport => {
  if (m.spec.kind !== 'supervised') fail(`expected a network trained with a loss on labels (mlp, cnn, lenet5, cnn1, cnn2), got a model of kind ${JSON.stringify(m.spec.kind)}`)
  const layer = m.spec.layer as Spec | undefined
  if (layer?.type !== 'sequential' || !Array.isArray(layer.layers)) return fail('expected a sequential network')
  const children = layer.layers as Spec[]
  let shape: Shape = [...m.spec.inShape]
  if (shape.length !== 1 && shape.length !== 3) fail(`expected inputs of shape [F] or [H, W, C], got [${shape.join(', ')}]`)
  const modules: string[] = []
  const tensors: PytorchTensor[] = []
  const helpers = new Set<string>()
  // The H, W, C shape a flatten saw, until the dense layer that reads it.
  let flattened: [number, number, number] | undefined
  children.forEach((c, i) => {
    const name = String(c.name)
    const type = String(c.type)
    const at = `layers.${i}`
    const put = (suffix: string, shape: readonly number[], data: Float32Array): void => void tensors.push({ name: `${at}.${suffix}`, shape, data })
    if (type === 'dense') {
      const W = leaf(m.params, name, 'W')
      const b = leaf(m.params, name, 'b')
      const [I, O] = W.shape
      if (shape.length !== 1 || shape[0] !== I) fail(`${name}: expected a flat input of ${I} values, got [${shape.join(', ')}]`)
      put('weight', [O, I], denseWeight(W, flattened))
      put('bias', [O], f32(b))
      modules.push(`nn.Linear(${I}, ${O})`)
      flattened = undefined
      shape = [O]
    } else if (type === 'conv2d') {
      const k = leaf(m.params, name, 'k')
      const b = leaf(m.params, name, 'b')
      const [kh, kw, ci, co] = k.shape
      const [sh, sw] = pairOf(c.stride, 1)
      if (shape.length !== 3) fail(`${name}: expected an [H, W, C] input, got [${shape.join(', ')}]`)
      const [H, W] = shape
      const p = c.padding ?? 'valid'
      const [top, bottom, left, right] =
        p === 'same' ? [...samePadding(H, kh, sh), ...samePadding(W, kw, sw)] : Array.isArray(p) ? p.map(Number) : [0, 0, 0, 0]
      const conv = (pad: string): string => `nn.Conv2d(${ci}, ${co}, kernel_size=(${kh}, ${kw}), stride=(${sh}, ${sw})${pad})`
      if (top === bottom && left === right) {
        modules.push(conv(top + left > 0 ? `, padding=(${top}, ${left})` : ''))
        put('weight', [co, ci, kh, kw], convWeight(k, c.flip === true))
        put('bias', [co], f32(b))
      } else {
        modules.push(`nn.Sequential(nn.ZeroPad2d((${left}, ${right}, ${top}, ${bottom})), ${conv('')})`)
        put('1.weight', [co, ci, kh, kw], convWeight(k, c.flip === true))
        put('1.bias', [co], f32(b))
      }
      shape = [(H + top + bottom - kh) / sh + 1, (W + left + right - kw) / sw + 1, co]
    } else if (type === 'maxpool2d' || type === 'avgpool2d') {
      const [ph, pw] = pairOf(c.pool, 2)
      const [sh, sw] = pairOf(c.stride ?? c.pool, 2)
      modules.push(`nn.${type === 'maxpool2d' ? 'MaxPool2d' : 'AvgPool2d'}(kernel_size=(${ph}, ${pw}), stride=(${sh}, ${sw}))`)
      shape = [(shape[0] - ph) / sh + 1, (shape[1] - pw) / sw + 1, shape[2]]
    } else if (type === 'subsample') {
      const n = Number(c.pool ?? 2)
      const C = shape[2]
      helpers.add('Subsample')
      modules.push(`Subsample(${C}, ${n}, ${JSON.stringify(String(c.activation ?? 'sigmoid'))})`)
      put('beta', [C], f32(leaf(m.params, name, 'beta')))
      put('bias', [C], f32(leaf(m.params, name, 'b')))
      shape = [shape[0] / n, shape[1] / n, C]
    } else if (type === 'flatten') {
      modules.push('nn.Flatten()')
      if (shape.length === 3) flattened = [shape[0], shape[1], shape[2]]
      shape = [size(shape)]
    } else if (type === 'prelu') {
      const a = leaf(m.params, name, 'a')
      put('weight', [a.data.length], Float32Array.from(a.data, (v) => 1 / v))
      modules.push(`nn.PReLU(num_parameters=${a.data.length})`)
    } else if (Object.hasOwn(ACTIVATIONS, type)) {
      if (type === 'lecun_tanh') helpers.add('LecunTanh')
      modules.push(ACTIVATIONS[type](c))
    } else fail(`layer ${name} of type ${type} has no PyTorch counterpart here`)
  })
  if (shape.length !== 1) fail(`expected the network to end in logits [classes], got [${shape.join(', ')}]`)
  const [H, W, C] = m.spec.inShape
  const image = m.spec.inShape.length === 3
  const inputShape = image ? [C, H, W] : [...m.spec.inShape]
  // A scaling fitted on H, W, C-ordered pixel columns, in the C, H, W order of PyTorch's input.
  const chw = (v: readonly number[]): number[] =>
    image ? Array.from({ length: v.length }, (_, j) => v[(j % (H * W)) * C + Math.floor(j / (H * W))]) : [...v]
  const scaling = m.scaling && { ...m.scaling, offset: chw(m.scaling.offset), scale: chw(m.scaling.scale) }
  if (scaling && scaling.offset.length !== size(inputShape)) fail(`expected a scaling of ${size(inputShape)} inputs, got ${scaling.offset.length}`)
  return { tensors, inputShape, python: pythonSource({ ...m, scaling }, modules, helpers, inputShape) }
}

const HELPERS: Record<string, string> = {
  LecunTanh: `class LecunTanh(nn.Module):
    """LeCun's scaled tanh: ${LECUN_A} * tanh(${LECUN_S} * x)."""

    def forward(self, x):
        return ${LECUN_A} * torch.tanh(${LECUN_S} * x)
`,
  Subsample: `class Subsample(nn.Module):
    """LeNet's trainable subsampling: act(beta[c] * (sum of each n x n block) + bias[c])."""

    def __init__(self, channels, n, activation):
        super().__init__()
        self.n = n
        self.beta = nn.Parameter(torch.zeros(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.activation = {
            "sigmoid": torch.sigmoid,
            "tanh": torch.tanh,
            "lecun_tanh": lambda z: ${LECUN_A} * torch.tanh(${LECUN_S} * z),
            "relu": torch.relu,
            "identity": lambda z: z,
        }[activation]

    def forward(self, x):
        block_sum = nn.functional.avg_pool2d(x, self.n, divisor_override=1)
        return self.activation(block_sum * self.beta.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1))
`,
}

const pythonSource = (m: ExportInput, modules: readonly string[], helpers: ReadonlySet<string>, inputShape: readonly number[]): string => {
  const image = inputShape.length === 3
  const order = ['LecunTanh', 'Subsample'].filter((h) => helpers.has(h))
  const scaled = m.scaling ? ' (scaled in forward as in training)' : ''
  return `# Generated by gradstream export --format pytorch from ${m.origin}.
# The network as a torch.nn.Module: ${image ? `NCHW images [N, ${inputShape.join(', ')}]` : `raw feature rows [N, ${inputShape[0]}]`}${scaled} in,
# logits [N, ${m.classes.length}] out. load(path) reads model.safetensors with the standard library
# and torch alone (the safetensors package is not needed).

import json
import struct

import torch
from torch import nn

CLASSES = ${pyList(m.classes)}
INPUT_SHAPE = ${pyList(inputShape)}
${m.scaling ? `# Feature scaling fitted on the training split (${m.scaling.kind}): x' = (x - offset) / scale.
INPUT_OFFSET = ${pyList(m.scaling.offset)}
INPUT_SCALE = ${pyList(m.scaling.scale)}` : 'INPUT_OFFSET = None\nINPUT_SCALE = None'}


${order.map((h) => `${HELPERS[h]}\n\n`).join('')}class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
${modules.map((s) => `            ${s},`).join('\n')}
        )
        if INPUT_OFFSET is not None:
            self.register_buffer("offset", torch.tensor(INPUT_OFFSET, dtype=torch.float64).reshape(INPUT_SHAPE), persistent=False)
            self.register_buffer("scale", torch.tensor(INPUT_SCALE, dtype=torch.float64).reshape(INPUT_SHAPE), persistent=False)
        else:
            self.offset = None

    def forward(self, x):
        if self.offset is not None:
            x = ((x.to(torch.float64) - self.offset) / self.scale).to(torch.float32)
        return self.layers(x)


_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    """The tensors of a .safetensors file as a dict name -> torch.Tensor (standard library + torch)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    body = data[8 + n :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=_DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def load(path):
    """The Model with the weights of model.safetensors at path, in evaluation mode."""
    model = Model()
    model.load_state_dict(read_safetensors(path), strict=True)
    model.eval()
    return model
`
}

// A reference for what an exported model.py computes, without PyTorch: the module list of
// its nn.Sequential is read from the generated source and run with PyTorch's semantics
// (NCHW, Conv2d weight [out, in, kh, kw], Linear y = x W^T + b, Flatten in C, H, W order)
// in double precision, on the tensors of the exported model.safetensors by name. It shares
// no code with the exporter or with gradstream's layers.

export interface NamedTensor {
  readonly shape: readonly number[]
  readonly data: ArrayLike<number>
}

interface T {
  shape: number[] // [N, ...]
  data: Float64Array
}

const nums = (s: string): number[] => (s.slice(s.indexOf("(") + 1).match(/-?\d+(?:\.\d+)?(?:e-?\d+)?/g) ?? []).map(Number)
const kw = (expr: string, name: string): number[] => {
  const m = new RegExp(`${name}=\\(([^)]*)\\)`).exec(expr) ?? new RegExp(`${name}=([-\\d.e]+)`).exec(expr)
  return m ? nums(m[1]) : []
}

const conv = (x: T, w: NamedTensor, b: NamedTensor, stride: number[], pad: number[]): T => {
  const [N, C, H, W] = x.shape
  const [O, , kh, kww] = w.shape
  const [top, bottom, left, right] = pad
  const Ho = (H + top + bottom - kh) / stride[0] + 1
  const Wo = (W + left + right - kww) / stride[1] + 1
  const y = new Float64Array(N * O * Ho * Wo)
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let s = b.data[o]
          for (let c = 0; c < C; c++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kww; q++) {
                const r = i * stride[0] + p - top
                const col = j * stride[1] + q - left
                if (r < 0 || r >= H || col < 0 || col >= W) continue
                s += w.data[((o * C + c) * kh + p) * kww + q] * x.data[((n * C + c) * H + r) * W + col]
              }
          y[((n * O + o) * Ho + i) * Wo + j] = s
        }
  return { shape: [N, O, Ho, Wo], data: y }
}

const pool = (x: T, k: number[], s: number[], how: 'max' | 'avg' | 'sum'): T => {
  const [N, C, H, W] = x.shape
  const Ho = Math.floor((H - k[0]) / s[0]) + 1
  const Wo = Math.floor((W - k[1]) / s[1]) + 1
  const y = new Float64Array(N * C * Ho * Wo)
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let acc = how === 'max' ? -Infinity : 0
          for (let p = 0; p < k[0]; p++)
            for (let q = 0; q < k[1]; q++) {
              const v = x.data[((n * C + c) * H + i * s[0] + p) * W + j * s[1] + q]
              acc = how === 'max' ? Math.max(acc, v) : acc + v
            }
          y[((n * C + c) * Ho + i) * Wo + j] = how === 'avg' ? acc / (k[0] * k[1]) : acc
        }
  return { shape: [N, C, Ho, Wo], data: y }
}

const map = (x: T, f: (v: number, i: number) => number): T => ({ shape: x.shape, data: x.data.map(f) })
/** Channel (dim 1) of flat index i. */
const channel = (x: T, i: number): number => Math.floor(i / x.shape.slice(2).reduce((a, b) => a * b, 1)) % x.shape[1]

const lecun = (v: number): number => 1.7159 * Math.tanh(0.6666 * v)
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v))

/** Runs model.py's nn.Sequential on x [N, ...inputShape] (raw inputs; INPUT_OFFSET/SCALE applied). */
export const torchReference = (python: string, tensors: ReadonlyMap<string, NamedTensor>, input: { shape: number[]; data: ArrayLike<number> }): T => {
  const body = /self\.layers = nn\.Sequential\(\n([\s\S]*?)\n {8}\)/.exec(python)
  if (!body) throw new Error('model.py: no nn.Sequential found')
  const lines = body[1].split('\n').map((l) => l.trim().replace(/,$/, ''))
  const offset = /^INPUT_OFFSET = (\[.*\])$/m.exec(python)
  const scale = /^INPUT_SCALE = (\[.*\])$/m.exec(python)
  let x: T = { shape: [...input.shape], data: Float64Array.from(input.data) }
  if (offset && scale) {
    const o = JSON.parse(offset[1]) as number[]
    const s = JSON.parse(scale[1]) as number[]
    const F = o.length
    x = map(x, (v, i) => Math.fround((Math.fround(v) - o[i % F]) / s[i % F]))
  }
  const get = (name: string): NamedTensor => {
    const t = tensors.get(name)
    if (!t) throw new Error(`model.safetensors: no tensor ${name}`)
    return t
  }
  lines.forEach((expr, i) => {
    const at = `layers.${i}`
    if (expr.startsWith('nn.Linear(')) {
      const [I, O] = nums(expr)
      const w = get(`${at}.weight`)
      const b = get(`${at}.bias`)
      if (w.shape[0] !== O || w.shape[1] !== I) throw new Error(`${at}.weight: shape ${w.shape} for Linear(${I}, ${O})`)
      const N = x.shape[0]
      const y = new Float64Array(N * O)
      for (let n = 0; n < N; n++)
        for (let o = 0; o < O; o++) {
          let s = b.data[o]
          for (let k = 0; k < I; k++) s += x.data[n * I + k] * w.data[o * I + k]
          y[n * O + o] = s
        }
      x = { shape: [N, O], data: y }
    } else if (expr.startsWith('nn.Conv2d(')) {
      const p = kw(expr, 'padding')
      x = conv(x, get(`${at}.weight`), get(`${at}.bias`), kw(expr, 'stride'), p.length ? [p[0], p[0], p[1], p[1]] : [0, 0, 0, 0])
    } else if (expr.startsWith('nn.Sequential(nn.ZeroPad2d(')) {
      const [l, r, t, b] = nums(/ZeroPad2d\(\(([^)]*)\)\)/.exec(expr)![1])
      x = conv(x, get(`${at}.1.weight`), get(`${at}.1.bias`), kw(expr, 'stride'), [t, b, l, r])
    } else if (expr.startsWith('nn.MaxPool2d(') || expr.startsWith('nn.AvgPool2d(')) {
      x = pool(x, kw(expr, 'kernel_size'), kw(expr, 'stride'), expr.startsWith('nn.Max') ? 'max' : 'avg')
    } else if (expr.startsWith('Subsample(')) {
      const [, n] = nums(expr)
      const act = /"(\w+)"/.exec(expr)![1]
      const beta = get(`${at}.beta`)
      const bias = get(`${at}.bias`)
      const f: Record<string, (v: number) => number> = { sigmoid, tanh: Math.tanh, lecun_tanh: lecun, relu: (v) => Math.max(0, v), identity: (v) => v }
      const s = pool(x, [n, n], [n, n], 'sum')
      x = map(s, (v, k) => f[act](beta.data[channel(s, k)] * v + bias.data[channel(s, k)]))
    } else if (expr === 'nn.Flatten()') {
      x = { shape: [x.shape[0], x.data.length / x.shape[0]], data: x.data }
    } else if (expr === 'nn.ReLU()') x = map(x, (v) => Math.max(0, v))
    else if (expr === 'nn.Sigmoid()') x = map(x, sigmoid)
    else if (expr === 'nn.Tanh()') x = map(x, Math.tanh)
    else if (expr === 'LecunTanh()') x = map(x, lecun)
    else if (expr.startsWith('nn.LeakyReLU(')) {
      const [slope] = kw(expr, 'negative_slope')
      x = map(x, (v) => (v >= 0 ? v : slope * v))
    } else if (expr.startsWith('nn.PReLU(')) {
      const w = get(`${at}.weight`)
      const xx = x
      x = map(x, (v, k) => (v >= 0 ? v : w.data[channel(xx, k)] * v))
    } else throw new Error(`model.py: module ${expr} not understood by the reference`)
  })
  return x
}

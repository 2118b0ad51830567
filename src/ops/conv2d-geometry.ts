// The sizes of one NHWC convolution and the choices that depend only on them (padding,
// how many images a call processes at once), shared by the TypeScript kernels (conv2d.ts)
// and their SIMD twins (conv2d-simd.ts).

/** Sizes of one NHWC convolution: x [B,H,W,C], k [kh,kw,C,O], y [B,Ho,Wo,O]. */
export interface Conv2dGeometry {
  readonly B: number
  readonly H: number
  readonly W: number
  readonly C: number
  readonly O: number
  readonly kh: number
  readonly kw: number
  /** Strides along rows and columns. */
  readonly sh: number
  readonly sw: number
  /** Zero rows above / columns left of the image (bottom/right padding is implied by Ho, Wo). */
  readonly top: number
  readonly left: number
  readonly Ho: number
  readonly Wo: number
}

/**
 * TensorFlow's 'same' padding along one axis: out = ceil(n/s), total = max((out-1)s + k - n, 0),
 * [before, after] = [floor(total/2), total - floor(total/2)] (the extra row/column goes after).
 */
export function samePadding(n: number, k: number, s: number): [number, number] {
  const out = Math.ceil(n / s)
  const total = Math.max((out - 1) * s + k - n, 0)
  const before = Math.floor(total / 2)
  return [before, total - before]
}

/**
 * Largest per-call scratch, in elements. A big batch is processed a few images at a time so
 * that the (padded, float64) input, the window starts and the float64 dy stay below it; the
 * chunk size depends only on the shapes, so every result is the same on every run.
 */
const SCRATCH_LIMIT = 1 << 21

export function imagesPerChunk(g: Conv2dGeometry): number {
  const Hs = Math.max(g.H, (g.Ho - 1) * g.sh + g.kh)
  const Ws = Math.max(g.W, (g.Wo - 1) * g.sw + g.kw)
  const perImage = Math.max(Hs * Ws * g.C, g.Ho * g.Wo * Math.max(g.O, 1))
  return Math.max(1, Math.min(g.B, Math.floor(SCRATCH_LIMIT / perImage)))
}


/**
 * k'[t, o] for t = (p*kw + q)*C + c, written into `out` as a [K, O] matrix: the kernel
 * [kh, kw, C, O] with its taps reversed when `flip` (true convolution) and the entries a
 * connection table excludes (table[c*O + o] = 0) zeroed. Shared by both backends' kernels.
 */
export function fillEffectiveKernel(out: Float32Array | Float64Array, k: Float32Array | Float64Array, g: Conv2dGeometry, flip: boolean, table: Uint8Array | null): void {
  const { kh, kw, C, O } = g
  const CO = C * O
  for (let p = 0; p < kh; p++)
    for (let q = 0; q < kw; q++) {
      const dst = (p * kw + q) * CO
      const src = flip ? ((kh - 1 - p) * kw + (kw - 1 - q)) * CO : dst
      if (table === null) for (let e = 0; e < CO; e++) out[dst + e] = k[src + e]
      else for (let e = 0; e < CO; e++) out[dst + e] = table[e] === 1 ? k[src + e] : 0
    }
}

/**
 * acc[o] += sum_r d[r, o] over the rows of d [rows, O], each sum in double, r ascending
 * (the bias gradient, cnn-derivation-lenet eq 10). Four columns per pass, each in its own
 * register: a pass per column would read d O times.
 */
export function addColumnSums(acc: Float64Array, d: Float32Array | Float64Array, rows: number, O: number): void {
  const n = rows * O
  for (let o0 = 0; o0 < O; o0 += 4) {
    const o1 = Math.min(o0 + 1, O - 1), o2 = Math.min(o0 + 2, O - 1), o3 = Math.min(o0 + 3, O - 1)
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0
    for (let e = 0; e < n; e += O) {
      s0 += d[e + o0]; s1 += d[e + o1]; s2 += d[e + o2]; s3 += d[e + o3]
    }
    acc[o0] += s0
    if (o0 + 1 < O) acc[o0 + 1] += s1
    if (o0 + 2 < O) acc[o0 + 2] += s2
    if (o0 + 3 < O) acc[o0 + 3] += s3
  }
}

// One-row (batch 1) dense kernels for online learning, with the optimizer step folded
// into the weight-gradient pass: the gradient of W is never stored, each element is
// formed, used and dropped in one pass over W.
//
// Rounding. These kernels reproduce, operation for operation, what the generic path
// computes at batch 1 in float32 (gemm's direct loops, then ops/optim.ts), so the fused
// path is bit-identical to it:
//   forward   y[j] = fl(fl(sum_k x[k] W[k,j]) + b[j]): the sum in double over k
//             ascending with x[k] != 0 (gemm's direct loop skips zeros), rounded once,
//             then the bias added in float32 storage;
//   input grad dx[i] = fl(0 + sum_j dy[j] W[i,j]), the sum in double, j ascending;
//   weight grad g[i,j] = fl(0 + x[i] dy[j]) (0 for x[i] = 0); bias grad fl(0 + dy[j]);
//   SGD       p' = fl(p - lr (g + wd p)) with g a float32 value (sgdStep);
//   momentum  v' = mu v + (g + wd p) in double, stored fl(v'); p' = fl(p - lr v')
//             (nesterov: p' = fl(p - lr (g' + mu v'))) (momentumStep).
// fl() is rounding to float32 (storing into a Float32Array, or Math.fround).
//
// Sparsity. A row of W whose input x[i] is 0, or a column whose dy[j] is 0, has a zero
// gradient; with plain SGD and no weight decay its update p - lr (0 + 0 p) = p is the
// identity for finite p, so it is skipped. MNIST pixels are ~80% zeros and a ReLU layer's
// gradient is ~50% zeros, so this skips most of the first layer's memory traffic. The caller guarantees finite parameters when it asks
// for the sparse update (an infinite p would become NaN in the generic path).
//
// Equations: y = x W + b (cnn-layers-softmax eq 6, matrix-backprop A = Z W); dx = dy W^T
// (eq 7); dW = x^T dy, db = dy (eq 8); p <- p - lr dL/dp (eqs 18-21).

/** Indices of the non-zero entries of x[0..n) into nz; returns how many. */
export function nonZeros(nz: Int32Array, x: Float32Array, n: number): number {
  let c = 0
  for (let i = 0; i < n; i++) if (x[i] !== 0) nz[c++] = i
  return c
}

/** max_i |x[i]|, or Infinity if any entry is not finite (NaN included). */
export function maxAbsOrInf(x: Float32Array, n: number): number {
  let m = 0
  for (let i = 0; i < n; i++) {
    const v = x[i]
    const a = v < 0 ? -v : v
    if (a > m) m = a
    else if (a !== a) return Infinity // NaN
  }
  return m
}

/** max |x[i]| over the listed indices, or Infinity if one of them is not finite. */
export function maxAbsAt(x: Float32Array, nz: Int32Array, n: number): number {
  let m = 0
  for (let t = 0; t < n; t++) {
    const v = x[nz[t]]
    const a = v < 0 ? -v : v
    if (a > m) m = a
    else if (a !== a) return Infinity
  }
  return m
}

// y[O] = x[I] W[I,O] + b[O] for one row; nz lists the non-zero x (count n).
// Rounds like gemm's direct path (module comment): each output is a double sum over the
// listed k in ascending order, rounded once. Eight outputs at a time are kept in locals,
// so the sums stay in registers instead of going through memory once per k.
export function denseRowForward(
  y: Float32Array,
  x: Float32Array,
  nz: Int32Array,
  n: number,
  W: Float32Array,
  b: Float32Array,
  O: number,
): void {
  const fr = Math.fround
  let j0 = 0
  for (; j0 + 8 <= O; j0 += 8) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    for (let t = 0; t < n; t++) {
      const k = nz[t]
      const a = x[k]
      const o = k * O + j0
      s0 += a * W[o]; s1 += a * W[o + 1]; s2 += a * W[o + 2]; s3 += a * W[o + 3]
      s4 += a * W[o + 4]; s5 += a * W[o + 5]; s6 += a * W[o + 6]; s7 += a * W[o + 7]
    }
    y[j0] = fr(s0) + b[j0]; y[j0 + 1] = fr(s1) + b[j0 + 1]; y[j0 + 2] = fr(s2) + b[j0 + 2]; y[j0 + 3] = fr(s3) + b[j0 + 3]
    y[j0 + 4] = fr(s4) + b[j0 + 4]; y[j0 + 5] = fr(s5) + b[j0 + 5]; y[j0 + 6] = fr(s6) + b[j0 + 6]; y[j0 + 7] = fr(s7) + b[j0 + 7]
  }
  // The last O mod 8 outputs, one at a time.
  for (let j = j0; j < O; j++) {
    let s = 0
    for (let t = 0; t < n; t++) {
      const k = nz[t]
      s += x[k] * W[k * O + j]
    }
    y[j] = fr(s) + b[j]
  }
}

// dx[I] = dy[O] W[I,O]^T for one row: dx[i] = fl(0 + sum_j dy[j] W[i,j]), sum in double.
export function denseRowInputGrad(dx: Float32Array, dy: Float32Array, W: Float32Array, I: number, O: number): void {
  for (let i = 0; i < I; i++) {
    const row = i * O
    let s = 0
    for (let j = 0; j < O; j++) s += dy[j] * W[row + j]
    dx[i] = 0 + s
  }
}

// b[j] <- fl(b[j] - lr (fl(0 + dy[j]) + wd b[j]))                  (SGD on the bias)
export function biasSgd(b: Float32Array, dy: Float32Array, O: number, lr: number, wd: number): void {
  for (let j = 0; j < O; j++) {
    const g = Math.fround(0 + dy[j])
    b[j] = b[j] - lr * (g + wd * b[j])
  }
}

// W[i,j] <- fl(W[i,j] - lr fl(0 + x[i] dy[j])) for the non-zero x[i] listed in nz and the
// non-zero dy[j]: plain SGD without weight decay. Both skips are exact for finite p: a
// zero x[i] or dy[j] gives g = +0, and p - lr (+0 + 0 p) = p, signed zeros included
// (module comment). dy is mostly zeros after a ReLU, so this also halves the work.
// cols is scratch of length >= O.
export function denseRowSgdSparse(
  W: Float32Array,
  x: Float32Array,
  nz: Int32Array,
  n: number,
  dy: Float32Array,
  O: number,
  lr: number,
  cols: Int32Array,
): void {
  let m = 0
  for (let j = 0; j < O; j++) if (dy[j] !== 0) cols[m++] = j
  for (let t = 0; t < n; t++) {
    const i = nz[t]
    const a = x[i]
    const row = i * O
    for (let u = 0; u < m; u++) {
      const o = row + cols[u]
      const g = Math.fround(0 + a * dy[cols[u]])
      W[o] = W[o] - lr * (g + 0 * W[o])
    }
  }
}

// W[i,j] <- fl(W[i,j] - lr (g[i,j] + wd W[i,j])) over every row, g[i,j] = fl(0 + x[i] dy[j])
// or +0 for x[i] = 0 (weight decay, or parameters not known to be finite).
export function denseRowSgdFull(W: Float32Array, x: Float32Array, dy: Float32Array, I: number, O: number, lr: number, wd: number): void {
  for (let i = 0; i < I; i++) {
    const a = x[i]
    const row = i * O
    if (a === 0) {
      for (let j = 0; j < O; j++) W[row + j] = W[row + j] - lr * (0 + wd * W[row + j])
      continue
    }
    for (let j = 0; j < O; j++) {
      const g = Math.fround(0 + a * dy[j])
      W[row + j] = W[row + j] - lr * (g + wd * W[row + j])
    }
  }
}

// Momentum (PyTorch, no dampening) on W and its velocity V, every row:
//   g' = g + wd p;  v' = mu v + g';  p' = p - lr v'   (nesterov: p' = p - lr (g' + mu v'))
// with g[i,j] = fl(0 + x[i] dy[j]) (+0 for x[i] = 0); v' is used unrounded for p', as in
// momentumStep, and stored rounded.
export function denseRowMomentum(
  W: Float32Array,
  V: Float32Array,
  x: Float32Array,
  dy: Float32Array,
  I: number,
  O: number,
  lr: number,
  mu: number,
  wd: number,
  nesterov: boolean,
): void {
  for (let i = 0; i < I; i++) {
    const a = x[i]
    const row = i * O
    for (let j = 0; j < O; j++) {
      const o = row + j
      const p = W[o]
      const g = (a === 0 ? 0 : Math.fround(0 + a * dy[j])) + wd * p
      const v = mu * V[o] + g
      V[o] = v
      W[o] = p - lr * (nesterov ? g + mu * v : v)
    }
  }
}

// The bias under momentum: g = fl(0 + dy[j]) + wd b, then as denseRowMomentum.
export function biasMomentum(
  b: Float32Array,
  V: Float32Array,
  dy: Float32Array,
  O: number,
  lr: number,
  mu: number,
  wd: number,
  nesterov: boolean,
): void {
  for (let j = 0; j < O; j++) {
    const p = b[j]
    const g = Math.fround(0 + dy[j]) + wd * p
    const v = mu * V[j] + g
    V[j] = v
    b[j] = p - lr * (nesterov ? g + mu * v : v)
  }
}

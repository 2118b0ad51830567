// A consumer's training run, written in plain JavaScript against the package's public
// API only. The Node package test runs it from the installed tarball, the browser test
// from a bundle in Chromium; both compare the final parameter hash with the sources'.
// `gs` is the imported package (import * as gs from 'gradstream').

/** Three Gaussian blobs in 4 dimensions, from the library's own keyed generator. */
const blobs = (gs, n) => {
  const [kc, kx] = gs.random.split(gs.key(7), 2)
  const C = 3
  const D = 4
  const centres = gs.random.normal(kc, C * D, 'float64', 0, 3)
  const z = gs.random.normal(kx, n * C * D, 'float64', 0, 0.5)
  const x = new Float32Array(n * C * D)
  const labels = new Int32Array(n * C)
  for (let i = 0; i < n * C; i++) {
    labels[i] = i % C
    for (let d = 0; d < D; d++) x[i * D + d] = centres[(i % C) * D + d] + z[i * D + d]
  }
  return { x: { shape: [n * C, D], data: x }, labels, classes: C }
}

/**
 * Trains a 4-16-3 MLP for 3 epochs; returns the first and last losses, the test accuracy
 * and the hash of the final parameters. `threads` > 1 uses the platform's threads.
 */
export const trainSmall = async (gs, { threads = 1, executor } = {}) => {
  const data = blobs(gs, 64)
  const model = gs.sequential(gs.dense(16), gs.relu(), gs.dense(3))
  const loss = gs.softmaxCrossEntropy()
  const snapshots = []
  const config = { data: gs.arraySource(data, { batchSize: 16 }), epochs: 3, seed: 3, microbatches: 2, threads }
  await new Promise((resolve, reject) =>
    gs.train(model, loss, gs.momentum(0.05), executor ? { ...config, executor } : config).subscribe({
      next: (s) => snapshots.push({ loss: s.metrics.loss, step: s.step, hash: gs.hashParams(s) }),
      error: reject,
      complete: resolve,
    }),
  )
  const last = snapshots[snapshots.length - 1]
  return { steps: last.step, firstLoss: snapshots[0].loss, lastLoss: last.loss, hash: last.hash }
}

// Run by test/ops/warm-up.test.ts in a child process with --trace-deopt: warm the kernels
// up (unless told 'cold'), let them be optimised on their common paths, then take every
// other path (zero-skips, transposes, accumulate, the direct GEMM, padding, flip, a
// connection table, blank images). A path the warm-up left out shows up as a deopt
// ("insufficient type feedback") of a kernel between the two markers.

import { conv2dBackwardInput, conv2dBackwardParams, conv2dForward } from '../../src/ops/conv2d.ts'
import type { Conv2dGeometry } from '../../src/ops/conv2d.ts'
import { gemm } from '../../src/ops/gemm.ts'
import { warmUpKernels } from '../../src/ops/warm-up.ts'
import { setKernelBackend } from '../../src/ops/backend.ts'

// The warm-up is for the TypeScript kernels (the SIMD ones run in WebAssembly).
setKernelBackend('ts')
if (process.argv[2] !== 'cold') warmUpKernels()
console.log('== warm')
const values = (n: number, zeros: number, s: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => (((i * 7919 + s) % 97) / 97 < zeros ? 0 : (((i * 31 + s) % 13) - 6) / 6))

// GEMM: the packed path on dense operands until optimised, then every other path.
const [M, N, K] = [40, 24, 300]
const A = values(M * K, 0, 1)
const B = values(K * N, 0, 2)
const C = new Float32Array(M * N)
for (let r = 0; r < 300; r++) gemm(C, A, B, M, N, K)
const Az = values(M * K, 0.9, 3)
for (const tA of [false, true])
  for (const tB of [false, true])
    for (const acc of [false, true]) {
      gemm(C, Az, B, M, N, K, tA, tB, acc)
      gemm(C, A, B, 3, N, K, tA, tB, acc)
      gemm(C, Az, B, 1, N, K, tA, tB, acc)
    }

// conv2d: valid, no flip, no table, dense images until optimised; then the rest.
const geometry = (pad: number): Conv2dGeometry => ({ B: 2, H: 12, W: 10, C: 3, O: 9, kh: 3, kw: 3, sh: 1, sw: 1, top: pad, left: pad, Ho: 10 + 2 * pad, Wo: 8 + 2 * pad })
const run = (g: Conv2dGeometry, x: Float32Array, flip: boolean, table: Uint8Array | null): void => {
  const k = values(g.kh * g.kw * g.C * g.O, 0, 5)
  const y = new Float32Array(g.B * g.Ho * g.Wo * g.O)
  conv2dForward(y, x, k, new Float32Array(g.O), g, flip, table)
  conv2dBackwardParams(new Float32Array(k.length), new Float32Array(g.O), y, x, g, flip, table)
  conv2dBackwardInput(new Float32Array(x.length), y, k, g, flip, table)
}
const g0 = geometry(0)
const dense = values(g0.B * g0.H * g0.W * g0.C, 0, 4)
for (let r = 0; r < 300; r++) run(g0, dense, false, null)
const table = Uint8Array.from({ length: 3 * 9 }, (_, i) => (i % 4 === 0 ? 0 : 1))
run(geometry(1), values(dense.length, 0.7, 6), true, table)
run(g0, new Float32Array(dense.length), false, null)
run(geometry(1), values(dense.length, 0.95, 7), false, table)
console.log('== done')

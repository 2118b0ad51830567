// Kernel warm-up as an explicit call, not an import side effect.
//
// V8 optimises a hot function with the type feedback it has so far; a branch first taken
// later deoptimises it, and in Node 20 such a deopt racing the loop's on-stack-replacement
// compile can leave a kernel unoptimised for good (6.5x slower, measured on gemm's 8 x 8
// tile; the note in gemm.ts). Each kernel module exports a warm-up that runs every one of
// its code paths on tiny operands; warmUpKernels runs them all, once per thread. train(),
// the online learner, evaluation and the worker threads call it before they compute;
// importing the library (or `gradstream --help`) does not.

import { warmUpConv2d } from './conv2d.ts'
import { warmUpGemm } from './gemm.ts'

/** Every kernel module's warm-up, by module (test/ops/warm-up.test.ts checks none is missing). */
export const KERNEL_WARM_UPS: { readonly [module: string]: () => void } = {
  gemm: warmUpGemm,
  conv2d: warmUpConv2d,
}

let warmed = false

/** Runs every kernel warm-up, the first time it is called in this thread (~10 ms). */
export const warmUpKernels = (): void => {
  if (warmed) return
  warmed = true
  for (const run of Object.values(KERNEL_WARM_UPS)) run()
}

/** Whether warmUpKernels has run in this thread. */
export const kernelsWarmedUp = (): boolean => warmed

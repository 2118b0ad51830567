// The `kernels` namespace of the public API: the kernel backend (WebAssembly SIMD where
// available, TypeScript otherwise) and the explicit warm-up.
export { defaultBackend, kernelBackend, KERNEL_BACKENDS, setKernelBackend, simdSupported, withKernelBackend } from '../ops/backend.ts'
export { kernelsWarmedUp, warmUpKernels } from '../ops/warm-up.ts'

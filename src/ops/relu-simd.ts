// The SIMD twins of reluForward / reluBackward (activations.ts): kernels.wat `relu` and
// `relu_grad` on copies in the kernel memory, the result copied out. Same bits as the
// TypeScript loops (the kernels are bit masks: activations.ts's comments give the
// equations). A ReLU sits after every conv and dense layer of a CNN; over a [32,24,24,8]
// activation the JavaScript loop costs ~0.5 ms a pass on this kind of machine, the copies
// and the kernel a fraction of that.

import { CHUNK, Layout, workspace } from './wasm/instance.ts'

/** Below this many floats the copies cost more than the loop. */
export const RELU_SMALL = 2048

/** y = ReLU(x) over the first n floats (n >= 4; the n mod 4 tail is done here). */
export function reluForwardSimd(y: Float32Array, x: Float32Array, n: number): void {
  const n4 = n & ~3
  const L = new Layout()
  const xAt = L.take(Math.min(n4, CHUNK) * 4)
  const { k, f32 } = workspace(L.end)
  // in place in the kernel memory, CHUNK floats at a time
  for (let i0 = 0; i0 < n4; i0 += CHUNK) {
    const m = Math.min(CHUNK, n4 - i0)
    f32.set(x.subarray(i0, i0 + m), xAt >> 2)
    k.relu(xAt, xAt, m)
    y.set(f32.subarray(xAt >> 2, (xAt >> 2) + m), i0)
  }
  for (let i = n4; i < n; i++) {
    const z = x[i]
    y[i] = z > 0 ? z : z === z ? 0 : z
  }
}

/** dx = dy where y > 0, else 0, over the first n floats. */
export function reluBackwardSimd(dx: Float32Array, dy: Float32Array, y: Float32Array, n: number): void {
  const n4 = n & ~3
  const L = new Layout()
  const dyAt = L.take(Math.min(n4, CHUNK) * 4)
  const yAt = L.take(Math.min(n4, CHUNK) * 4)
  const { k, f32 } = workspace(L.end)
  for (let i0 = 0; i0 < n4; i0 += CHUNK) {
    const m = Math.min(CHUNK, n4 - i0)
    f32.set(dy.subarray(i0, i0 + m), dyAt >> 2)
    f32.set(y.subarray(i0, i0 + m), yAt >> 2)
    // dx over dy in place: each lane reads dy before it writes dx
    k.relu_grad(dyAt, dyAt, yAt, m)
    dx.set(f32.subarray(dyAt >> 2, (dyAt >> 2) + m), i0)
  }
  for (let i = n4; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0
}

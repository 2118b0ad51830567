// The sizes of one 2-D pooling, shared by the TypeScript kernels (pool.ts) and their SIMD
// twins (pool-simd.ts), which do not import each other.

/** Sizes of one pooling: x [B,H,W,C], window [ph,pw], strides [sh,sw], y [B,Ho,Wo,C]. */
export interface Pool2dGeometry {
  readonly B: number
  readonly H: number
  readonly W: number
  readonly C: number
  readonly ph: number
  readonly pw: number
  readonly sh: number
  readonly sw: number
  readonly Ho: number
  readonly Wo: number
}

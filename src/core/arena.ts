// A step arena: the memory of one shard's forward and backward pass, reused by the next.
//
// A training step allocates every layer's output and every input gradient afresh (about
// 1.6 MB for a 16-row shard of the W3 CNN), and drops them all when the step ends. At
// hundreds of steps a second that is hundreds of MB/s of short-lived array buffers: V8
// frees them with garbage collections and background sweeper threads, which on two cores
// compete with the second training thread. Inside a shard (streams/shards.ts,
// computeShard) nothing a layer allocates outlives the shard: the gradient is copied into
// the flat buffer, the outputs and the next model state are copied out. So there `alloc`
// hands out the arrays of the previous shard again, zeroed (the same contents a fresh
// array has, so the same bits), in the order they are asked for.
//
// Outside an arena scope (inference, the online learner, user code) alloc allocates, and
// a tensor handed out is never one an arena will reuse (DESIGN.md, "Tensor").

// (tensor.ts's DType and F, spelled out: tensor.ts imports this module.)
type DType = 'float32' | 'float64'
type F = Float32Array | Float64Array

export class StepArena {
  private readonly arrays: (F | Int32Array)[] = []
  private next = 0

  /** A zeroed array of n elements: the one handed out at this position last time, if it fits. */
  take(dtype: DType, n: number): F {
    const i = this.next++
    const a = this.arrays[i]
    if (a !== undefined && a.length === n && !(a instanceof Int32Array) && (dtype === 'float64') === a instanceof Float64Array) {
      a.fill(0)
      return a
    }
    const fresh = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)
    this.arrays[i] = fresh
    return fresh
  }

  /** A zeroed Int32Array of n elements (indices: max pooling's argmax), as take does. */
  takeInt32(n: number): Int32Array {
    const i = this.next++
    const a = this.arrays[i]
    if (a instanceof Int32Array && a.length === n) {
      a.fill(0)
      return a
    }
    const fresh = new Int32Array(n)
    this.arrays[i] = fresh
    return fresh
  }

  /** Starts a new shard: every array is handed out again. */
  reset(): void {
    this.next = 0
  }
}

let current: StepArena | null = null

/** The arena alloc draws from, or null (allocate). */
export const currentArena = (): StepArena | null => current

/**
 * Runs f with alloc drawing from `arena` (reset first). Whatever f returns must not hold
 * an array alloc handed out: copy it out before the next scope of the same arena.
 */
export const inArena = <T>(arena: StepArena, f: () => T): T => {
  const outer = current
  current = arena
  arena.reset()
  try {
    return f()
  } finally {
    current = outer
  }
}

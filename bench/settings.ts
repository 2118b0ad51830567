// How much each workload runs: the full settings follow WORKLOADS.md exactly; --quick
// shrinks every count for a smoke run (and the output says so).

export interface Settings {
  readonly quick: boolean
  readonly w1: { readonly sizes: readonly number[]; readonly warmup: number; readonly repeats: number; readonly minBatchMs: number }
  readonly w2: {
    readonly batch: number
    readonly lr: number
    readonly epochs: number
    /** Samples per epoch (8,000: 125 steps of 64). */
    readonly samples: number
    /** Steps of a throwaway run before timing (JIT warm-up)... */
    readonly warmupSteps: number
    /** ...and at least this long (ms): a worker thread's compiler needs seconds, not steps. */
    readonly warmupMs: number
  }
  readonly w3: {
    readonly batch: number
    readonly lr: number
    readonly epochs: number
    readonly samples: number
    readonly warmupSteps: number
    readonly warmupMs: number
    /** TF.js cpu trains at ~24 samples/s: it is timed on this many samples, one pass. */
    readonly tfjsCpuSamples: number
    /** jax-js trains the CNN at ~120 samples/s: timed on this many samples, one pass. */
    readonly jaxjsSamples: number
    /** Epochs of the interleaved pipeline-vs-bare-loop run (pipeline-overhead figure). */
    readonly overheadEpochs: number
  }
  readonly w4: {
    readonly hidden: number
    readonly lr: number
    /** Untimed updates on a throwaway model first, for at least this long (ms): the JIT's warm-up, once per system. */
    readonly warmupMs: number
    readonly warmup: number
    readonly timed: number
    readonly repeats: number
    /** Length of the prequential stream (the whole training set). */
    readonly prequentialSamples: number
    /** Records of the long stream whose memory is sampled (the digits, cycled). */
    readonly longStream: number
    /** Memory samples are taken every this many records. */
    readonly memoryEvery: number
  }
  readonly w5: { readonly warmup: number; readonly samples: number }
}

export const FULL: Settings = {
  quick: false,
  w1: { sizes: [128, 256, 512], warmup: 3, repeats: 7, minBatchMs: 50 },
  w2: { batch: 64, lr: 0.1, epochs: 3, samples: 8000, warmupSteps: 5, warmupMs: 1000 },
  w3: { batch: 32, lr: 0.05, epochs: 3, samples: 8000, warmupSteps: 5, warmupMs: 1000, tfjsCpuSamples: 960, jaxjsSamples: 1920, overheadEpochs: 1 },
  w4: { hidden: 64, lr: 0.01, warmupMs: 1000, warmup: 100, timed: 2000, repeats: 5, prequentialSamples: 8000, longStream: 1_000_000, memoryEvery: 100_000 },
  w5: { warmup: 100, samples: 1000 },
}

export const QUICK: Settings = {
  quick: true,
  w1: { sizes: [128, 256, 512], warmup: 1, repeats: 3, minBatchMs: 10 },
  w2: { batch: 64, lr: 0.1, epochs: 2, samples: 640, warmupSteps: 2, warmupMs: 0 },
  w3: { batch: 32, lr: 0.05, epochs: 2, samples: 320, warmupSteps: 2, warmupMs: 0, tfjsCpuSamples: 64, jaxjsSamples: 64, overheadEpochs: 1 },
  w4: { hidden: 64, lr: 0.01, warmupMs: 0, warmup: 20, timed: 200, repeats: 2, prequentialSamples: 400, longStream: 20_000, memoryEvery: 5_000 },
  w5: { warmup: 20, samples: 100 },
}

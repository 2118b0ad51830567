// W3: the 4-layer CNN (35,474 parameters), batch 32, SGD lr 0.05, 250 steps per epoch,
// 3 epochs. Figures: samples/s per epoch, test accuracy after epochs 1 and 3.
// Measured in the same run (the speed issue asks for them):
//   - memory: heap and RSS after epochs 1 and 3 of a gradstream run of its own (after a full GC);
//   - pipeline overhead: train() vs a bare loop over the same kernels and batches,
//     interleaved step by step (workloads/overhead.ts).
// TF.js cpu is timed on the first 960 samples only (~24 samples/s); TF.js wasm has no
// Conv2DBackpropFilter kernel, which the attempt detects and reports. The systems take
// turns epoch by epoch (bench/turns.ts).

import { orderedSubset } from '../data.ts'
import { w3Model } from '../gradstream.ts'
import type { MemorySample } from '../memory.ts'
import { gcAvailable, sampleMemory } from '../memory.ts'
import { REFERENCE } from '../reference.ts'
import type { Detail } from '../report.ts'
import { missing, perSystem } from '../report.ts'
import { tfCnn } from '../tfjs-nets.ts'
import type { Attempt, WorkloadContext, WorkloadResult } from './context.ts'
import { attempt } from './context.ts'
import type { EpochPlan } from './epochs.ts'
import { accuracyCell, gradstreamEpochs, interleavedEpochs, speedCell, tfjsEpochs } from './epochs.ts'
import type { Overhead } from './overhead.ts'
import { measureOverhead } from './overhead.ts'
import { jaxEpochs } from '../jaxjs.ts'

const memoryDetails = (label: string, keyPrefix: string, m: MemorySample | undefined): Detail[] =>
  m === undefined
    ? []
    : [
        { key: `${keyPrefix}HeapUsedMB`, label: `${label}: heap used`, value: m.heapUsedMB, unit: 'MB' },
        { key: `${keyPrefix}RssMB`, label: `${label}: RSS`, value: m.rssMB, unit: 'MB' },
        { key: `${keyPrefix}WasmMB`, label: `${label}: SIMD kernel (wasm) memory`, value: m.wasmMB, unit: 'MB' },
      ]

const overheadDetails = (o: Attempt<Overhead>): Detail[] =>
  !o.ok
    ? [{ key: 'pipelineOverhead', label: 'pipeline overhead', value: `not measured: ${o.reason}` }]
    : [
        { key: 'pipelineSamplesPerSec', label: 'train() pipeline (RxJS, immer snapshots, metrics), interleaved', value: o.value.pipelineSamplesPerSec, unit: 'samples/s' },
        { key: 'bareLoopSamplesPerSec', label: 'bare loop (same forward/backward/sgdStep, in place), interleaved', value: o.value.bareSamplesPerSec, unit: 'samples/s' },
        { key: 'pipelineOverheadPct', label: 'pipeline overhead (extra time per sample vs the bare loop)', value: o.value.overheadPct, unit: '%' },
        { key: 'bareLoopBitIdentical', label: `bare loop and pipeline end at the same parameters after ${o.value.steps} steps`, value: o.value.bitIdentical ? 'yes, bit for bit' : 'NO' },
      ]

export const w3Cnn = async (ctx: WorkloadContext): Promise<WorkloadResult> => {
  const s = ctx.settings.w3
  const { train, order } = orderedSubset(ctx.data, s.samples)
  const plan: EpochPlan = {
    model: w3Model,
    lr: s.lr,
    batch: s.batch,
    epochs: s.epochs,
    train,
    order,
    test: ctx.data.test,
    accuracyAfter: [1, s.epochs],
    warmupSteps: s.warmupSteps,
    warmupMs: s.warmupMs,
  }
  const memBefore = sampleMemory()
  // Memory on a run of its own: in the interleaved runs below, the other systems' state
  // would be in the same heap.
  ctx.log('W3: gradstream, 1 thread, for memory after each epoch')
  const memRun = await attempt(() => gradstreamEpochs(plan, 1, [1, s.epochs]))
  ctx.log(`W3: gradstream pipeline vs bare loop, interleaved (${s.overheadEpochs} epoch(s))`)
  const overhead = await attempt(() => measureOverhead(plan, s.overheadEpochs, s.warmupSteps))
  ctx.log(`W3: gradstream 1t / ${ctx.threads}t, TypeScript kernels 1t / ${ctx.threads}t, jax-js (${s.jaxjsSamples} samples), TF.js cpu (${s.tfjsCpuSamples} samples) and wasm, interleaved epoch by epoch`)
  const jaxPlan: EpochPlan = { ...plan, order: plan.order.subarray(0, s.jaxjsSamples), epochs: 1, accuracyAfter: [] }
  const cpuPlan: EpochPlan = { ...plan, epochs: 1, accuracyAfter: [] }
  const all = await interleavedEpochs(ctx, plan, [
    ['jaxjs', (turn) => jaxEpochs(jaxPlan, 'cnn', turn)],
    ['tfjsCpu', (turn) => tfjsEpochs('cpu', cpuPlan, tfCnn, s.tfjsCpuSamples, turn)],
    ['tfjsWasm', (turn) => tfjsEpochs('wasm', plan, tfCnn, undefined, turn)],
  ])
  const wasm = all.tfjsWasm
  const runs = { ...all, tfjsWasm: wasm.ok ? wasm : { ok: false as const, reason: `cannot train: ${wasm.reason}` } }
  const cpuNoAcc = `timed on the first ${s.tfjsCpuSamples} samples only (a full epoch takes ~6 min), so no accuracy`
  const jaxNoAcc = `timed on the first ${s.jaxjsSamples} samples only (~1 min per epoch), so no accuracy`

  const last = s.epochs
  return {
    id: 'W3',
    title: 'CNN conv5x5x8-pool-conv5x5x16-pool-120-10 (35,474 params), batch 32, SGD lr 0.05',
    rows: [
      {
        key: 'samplesPerSec',
        label: 'train samples/s',
        unit: 'samples/s',
        better: 'higher',
        cells: perSystem(runs, (r, sys) => speedCell(r, sys === 'tfjsCpu' ? `${s.tfjsCpuSamples} samples, 1 pass` : sys === 'jaxjs' ? `${s.jaxjsSamples} samples, 1 pass` : undefined)),
        reference: REFERENCE.w3Speed,
      },
      {
        key: 'testAccEpoch1',
        label: 'test acc after epoch 1',
        unit: 'acc',
        better: 'none',
        cells: perSystem(runs, (r, sys) => (sys === 'tfjsCpu' && r.ok ? missing(cpuNoAcc) : sys === 'jaxjs' && r.ok ? missing(jaxNoAcc) : accuracyCell(r, 1))),
        reference: REFERENCE.w3Acc1,
      },
      {
        key: `testAccEpoch${last}`,
        label: `test acc after epoch ${last}`,
        unit: 'acc',
        better: 'none',
        cells: perSystem(runs, (r, sys) => (sys === 'tfjsCpu' && r.ok ? missing(cpuNoAcc) : sys === 'jaxjs' && r.ok ? missing(jaxNoAcc) : accuracyCell(r, last))),
        reference: REFERENCE.w3Acc3,
      },
    ],
    details: [
      ...overheadDetails(overhead),
      ...memoryDetails('before training', 'memBefore', memBefore),
      ...memoryDetails('after epoch 1', 'memEpoch1', memRun.ok ? memRun.value.memory.get(1) : undefined),
      ...memoryDetails(`after epoch ${last}`, `memEpoch${last}`, memRun.ok ? memRun.value.memory.get(last) : undefined),
    ],
    notes: [
      `${s.epochs} epochs of ${s.samples} samples (${Math.ceil(s.samples / s.batch)} steps each); samples/s = median [min-max] over the epochs`,
      'interleaved: every system sets up in turn, then round e runs epoch e of every system in turn (bench/turns.ts), so all are timed in the same minutes',
      `same Glorot weights and fixed order for every system; warm-up on a throwaway copy first (${s.warmupSteps} steps and at least ${s.warmupMs} ms; the N-thread runs on the threads they are timed on)`,
      `overhead: a separate ${s.overheadEpochs}-epoch run, pipeline step k then bare step k on the same batch, timed separately (same load for both)`,
      `memory: a gradstream 1-thread run of its own before the timed ones, process.memoryUsage() inside the running stream at the end of the epoch, ${gcAvailable() ? 'after global.gc()' : 'WITHOUT a GC (node started without --expose-gc)'}`,
    ],
  }
}

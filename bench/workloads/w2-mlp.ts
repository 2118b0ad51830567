// W2: MLP 784-256-128-10, ReLU, batch 64, SGD lr 0.1, 125 steps per epoch, 3 epochs.
// Figure: training samples/s per epoch (median and min-max over the epochs); test
// accuracy after epoch 1. The systems take turns epoch by epoch (bench/turns.ts).

import { orderedSubset } from '../data.ts'
import { w2Model } from '../gradstream.ts'
import { REFERENCE } from '../reference.ts'
import { perSystem } from '../report.ts'
import { tfMlp } from '../tfjs-nets.ts'
import type { WorkloadContext, WorkloadResult } from './context.ts'
import { jaxEpochs } from '../jaxjs.ts'
import type { EpochPlan } from './epochs.ts'
import { accuracyCell, interleavedEpochs, speedCell, tfjsEpochs } from './epochs.ts'

export const w2Mlp = async (ctx: WorkloadContext): Promise<WorkloadResult> => {
  const s = ctx.settings.w2
  const { train, order } = orderedSubset(ctx.data, s.samples)
  const plan: EpochPlan = {
    model: w2Model,
    lr: s.lr,
    batch: s.batch,
    epochs: s.epochs,
    train,
    order,
    test: ctx.data.test,
    accuracyAfter: [1],
    warmupSteps: s.warmupSteps,
    warmupMs: s.warmupMs,
  }
  ctx.log(`W2: gradstream 1t / ${ctx.threads}t, TypeScript kernels 1t / ${ctx.threads}t, jax-js, TF.js cpu and wasm, interleaved epoch by epoch`)
  const runs = await interleavedEpochs(ctx, plan, [
    ['jaxjs', (turn) => jaxEpochs(plan, 'mlp', turn)],
    ['tfjsCpu', (turn) => tfjsEpochs('cpu', plan, tfMlp, undefined, turn)],
    ['tfjsWasm', (turn) => tfjsEpochs('wasm', plan, tfMlp, undefined, turn)],
  ])

  return {
    id: 'W2',
    title: 'MLP 784-256-128-10 ReLU, batch 64, SGD lr 0.1',
    rows: [
      {
        key: 'samplesPerSec',
        label: 'train samples/s',
        unit: 'samples/s',
        better: 'higher',
        cells: perSystem(runs, (r) => speedCell(r)),
        reference: REFERENCE.w2Speed,
      },
      {
        key: 'testAccEpoch1',
        label: 'test acc after epoch 1',
        unit: 'acc',
        better: 'none',
        cells: perSystem(runs, (r) => accuracyCell(r, 1)),
        reference: REFERENCE.w2Acc,
      },
    ],
    details: [],
    notes: [
      `${s.epochs} epochs of ${s.samples} samples (${Math.ceil(s.samples / s.batch)} steps each); samples/s = median [min-max] over the epochs`,
      'interleaved: every system sets up in turn, then round e runs epoch e of every system in turn (bench/turns.ts), so all are timed in the same minutes',
      `all systems start from the same Glorot weights (gradstream's init, copied) and visit the same fixed order; warm-up on a throwaway copy first (${s.warmupSteps} steps and at least ${s.warmupMs} ms; the N-thread runs on the threads they are timed on)`,
      'gradstream: train(mlp({ hidden: [256, 128], init: "glorot" }), softmaxCrossEntropy(), sgd(0.1), { data: arraySource(train, { batchSize: 64, order }), epochs })',
    ],
  }
}

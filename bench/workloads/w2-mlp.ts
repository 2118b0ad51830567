// W2: MLP 784-256-128-10, ReLU, batch 64, SGD lr 0.1, 125 steps per epoch, 3 epochs.
// Figure: training samples/s per epoch (median and min-max over the epochs); test
// accuracy after epoch 1.

import { orderedSubset } from '../data.ts'
import { w2Model } from '../gradstream.ts'
import { REFERENCE } from '../reference.ts'
import { perSystem } from '../report.ts'
import { tfMlp } from '../tfjs-nets.ts'
import type { WorkloadContext, WorkloadResult } from './context.ts'
import { attempt, threadsAttempt } from './context.ts'
import { onBackend } from '../gradstream.ts'
import { jaxEpochs } from '../jaxjs.ts'
import type { EpochPlan } from './epochs.ts'
import { accuracyCell, gradstreamEpochs, speedCell, tfjsEpochs } from './epochs.ts'

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
  }
  ctx.log('W2: gradstream, 1 thread')
  const gs = await attempt(() => gradstreamEpochs(plan, 1))
  ctx.log(`W2: gradstream, ${ctx.threads} threads`)
  const gsN = await threadsAttempt(ctx, (n) => gradstreamEpochs(plan, n))
  ctx.log(`W2: gradstream, TypeScript kernels, 1 and ${ctx.threads} threads`)
  const gsTs = await attempt(() => onBackend('ts', () => gradstreamEpochs(plan, 1)))
  const gsTsN = await threadsAttempt(ctx, (n) => onBackend('ts', () => gradstreamEpochs(plan, n)))
  ctx.log('W2: jax-js')
  const jax = await attempt(() => jaxEpochs(plan, 'mlp'))
  ctx.log('W2: TF.js cpu')
  const cpu = await attempt(() => tfjsEpochs('cpu', plan, tfMlp))
  ctx.log('W2: TF.js wasm')
  const wasm = await attempt(() => tfjsEpochs('wasm', plan, tfMlp))
  const runs = { gradstream: gs, gradstreamThreads: gsN, gradstreamTs: gsTs, gradstreamTsThreads: gsTsN, tfjsCpu: cpu, tfjsWasm: wasm, jaxjs: jax }

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
      `all systems start from the same Glorot weights (gradstream's init, copied) and visit the same fixed order; ${s.warmupSteps} warm-up steps on a throwaway copy first`,
      'gradstream: train(mlp({ hidden: [256, 128], init: "glorot" }), softmaxCrossEntropy(), sgd(0.1), { data: arraySource(train, { batchSize: 64, order }), epochs })',
    ],
  }
}

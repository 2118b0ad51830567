// Pipeline overhead (the speed issue's item (a)): train() against the bare loop on the
// same batches, interleaved step by step in one process. On a shared machine the load
// changes within seconds; alternating pipeline step k and bare step k exposes both to the
// same conditions (back-to-back whole runs differed by +-30% from load alone).
//
// Pipeline time of step k = from the end of the bare step after step k-1 to the snapshot
// of step k: the gather, forward, backward, update, snapshot, the RxJS plumbing and the
// source's event-loop yields. Bare time = the bare step alone.

import { lastValueFrom, take, tap } from 'rxjs'
import { arraySource, key, sgd, softmaxCrossEntropy, train, training } from '../../src/node.ts'
import { now } from '../clock.ts'
import { RUN_SEED } from '../data.ts'
import { withThreads } from '../gradstream.ts'
import type { BarePlan } from './bare-loop.ts'
import { bareLoop } from './bare-loop.ts'

export interface Overhead {
  readonly pipelineSamplesPerSec: number
  readonly bareSamplesPerSec: number
  /** Extra time per sample of the pipeline, % of the bare loop's. */
  readonly overheadPct: number
  /** Whether both loops ended at the same parameters, bit for bit. */
  readonly bitIdentical: boolean
  readonly steps: number
}

export const measureOverhead = async (plan: BarePlan, epochs: number, warmupSteps: number): Promise<Overhead> => {
  // Warm both paths (JIT) on throwaway runs.
  const warm = bareLoop(plan)
  for (let i = 0; i < warmupSteps; i++) warm.step()
  const data = arraySource(plan.train, { batchSize: plan.batch, order: plan.order })
  const run = (n: number) => train(plan.model(), softmaxCrossEntropy(), sgd(plan.lr), withThreads({ data, epochs: n, key: key(RUN_SEED) }, 1))
  await lastValueFrom(run(1).pipe(take(warmupSteps)))

  const bare = bareLoop(plan)
  let pipelineMs = 0
  let bareMs = 0
  let steps = 0
  let samples = 0
  let mark = now()
  const last = await lastValueFrom(
    run(epochs).pipe(
      tap((s) => {
        const t = now()
        pipelineMs += t - mark
        bare.step()
        mark = now()
        bareMs += mark - t
        steps++
        samples += s.metrics.samples
      }),
    ),
  )
  return {
    pipelineSamplesPerSec: samples / (pipelineMs / 1000),
    bareSamplesPerSec: samples / (bareMs / 1000),
    overheadPct: (pipelineMs / bareMs - 1) * 100,
    bitIdentical: training.hashBytes(last.flat) === training.hashBytes(bare.flat),
    steps,
  }
}

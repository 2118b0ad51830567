// The `metrics` namespace of the public API: metric monoids over batches (streams/metrics.ts)
// and the rolling prequential metrics of online learning (streams/rolling-metrics.ts).
export * from '../streams/metrics.ts'
export * from '../streams/rolling-metrics.ts'
export { prequential, ScoreMonoid, slidingWindow } from '../streams/online.ts'

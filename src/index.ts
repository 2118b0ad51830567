// gradstream's public API (re-exports only): the browser-safe core. Nothing imported from
// here reaches a `node:` module (test/package/browser-safe.test.ts checks the import graph);
// files, the `mnist` package, PNG, worker threads and the CLI's helpers are in node.ts.

// Tensors, keys, parameter trees, errors
export * from './core/tensor.ts'
export * from './core/rng.ts'
export * from './core/tree.ts'
export { GradstreamError, LayerError } from './core/errors.ts'
// Kernel warm-up: an explicit call (train, online and evaluate make it themselves)
export { kernelsWarmedUp, warmUpKernels } from './ops/warm-up.ts'

// Layers, losses, combinators, optimizers (models/)
export * from './models/layer.ts'
export { dense } from './models/dense.ts'
export type { DenseOptions, DenseParams } from './models/dense.ts'
export { leakyRelu, lecunTanh, relu, sigmoid, tanh } from './models/activations.ts'
export { prelu } from './models/prelu.ts'
export { rrelu } from './models/rrelu.ts'
export { softmax } from './models/softmax.ts'
export { flatten } from './models/flatten.ts'
export { conv1d } from './models/conv1d.ts'
export type { Conv1dOptions } from './models/conv1d.ts'
export { conv2d, LENET_C3_TABLE } from './models/conv2d.ts'
export type { Conv2dOptions, Conv2dParams, Padding } from './models/conv2d.ts'
export { avgPool2d, maxPool2d } from './models/pool.ts'
export type { Pool2dOptions } from './models/pool.ts'
export { subsample } from './models/subsample.ts'
export type { SubsampleActivation } from './models/subsample.ts'
export { named, sequential } from './models/sequential.ts'
export type { Child, ChildInput, Sequential } from './models/sequential.ts'
export { euclidean, softmaxCrossEntropy } from './models/loss.ts'
export type { AnyLoss, Loss, LossResult, Reduction } from './models/loss.ts'
export { centralDifferences, gradCheck } from './models/gradcheck.ts'
export type { GradCheckOptions, GradCheckResult } from './models/gradcheck.ts'
export { layerFromSpec, lossFromSpec } from './models/registry.ts'
export { glorotUniform, heUniform, lecunUniform } from './models/init.ts'
export type { InitName } from './models/init.ts'
export type { PreluOptions } from './models/prelu.ts'
export type { RreluOptions } from './models/rrelu.ts'
export type { SubsampleOptions } from './models/subsample.ts'
export type { TiedAutoencoderOptions } from './models/autoencoder.ts'
export type { MlpOptions, Activation } from './models/zoo/mlp.ts'
export type { CnnOptions } from './models/zoo/cnn.ts'
export { adam, momentum, nesterov, optimizerFromSpec, sgd } from './models/optimizers.ts'
export type { DecayMask, LearningRate, Optimizer, OptimizerSpec, OptState, UpdateResult, UpdateTarget } from './models/optimizers.ts'
// Shared types of the bottom layer (src/core/) that public signatures mention
export type { BatchSource, Dataset } from './core/data.ts'
export type { JsonValue } from './core/json.ts'
export type { RowSparse } from './core/row-hint.ts'
export { cosineDecay, exponentialDecay, scheduleFromSpec, stepDecay } from './models/schedule.ts'
export type { Schedule, ScheduleSpec } from './models/schedule.ts'
export { autoencoding, supervised } from './models/objective.ts'
export type { AnyObjective, Batch, ModelSpec, Objective } from './models/objective.ts'
export { encoderParams, tiedAutoencoder } from './models/autoencoder.ts'
export * as rbm from './models/rbm.ts'
export { BINARIZE, gibbsSample, rbmEnergy, rbmFeatures, rbmMonitor, rbmObjective, sampleBinary, threshold, visibleData, visibleMean } from './models/rbm-objective.ts'
export type { Binarize, RbmMonitor, RbmObjective, RbmObjectiveOptions, RbmSaved, RbmState } from './models/rbm-objective.ts'
export { autoencoder, encode, withPretrainedFirstLayer } from './models/zoo/index.ts'
export type { AutoencoderZooOptions, DenseInit, Recipe, ZooEntry, ZooName, ZooOptions } from './models/zoo/index.ts'
export { cnn, cnn1, cnn2, lenet5, mlp, ZOO, ZOO_NAMES, zooEntry } from './models/zoo/index.ts'

// Training as a stream (streams/)
export * from './streams/snapshot.ts'
export * from './streams/source.ts'
export { batchAugmentKey, randomShift } from './streams/augment.ts'
export * from './streams/steps.ts'
export * from './streams/train.ts'
export type { ExecutorFactory, RunningExecutor, ShardExecutor, ShardResult, ShardTask } from './streams/shards.ts'
export * from './streams/metrics.ts'
export * from './streams/evaluate.ts'
export * from './streams/early-stopping.ts'
export * from './streams/progress.ts'
export { diffSnapshots, forkOptimizer, forkRun, forkSnapshot, recordHistory, replayTo, runStart, snapshotBytes, trainRun, trainWithHistory } from './streams/history.ts'
export type { ForkChanges, History, HistoryOptions, RunDefinition, TensorChange } from './streams/history.ts'
// Online learning: pulled record sources, prequential evaluation, the learner
export {
  isIssueEvent, isSnapshotEvent, online, onlineIssues, onlineLearner, onlineSnapshots, prequential, ScoreMonoid, slidingWindow,
} from './streams/online.ts'
export type {
  Learner, LearnerOptions, LearnOutcome, OnlineEvent, OnlineExample, OnlineItem, OnlineMetrics, OnlineOptions, OnlineSnapshotEvent,
  OnlineSource, RejectedEvent, Score, SkippedEvent, SlidingWindow,
} from './streams/online.ts'
export { MAX_LINE_LENGTH, pulled, recordsFromLines, recordsFromObjects, recordsFromReadable, textLines } from './streams/record-source.ts'
export type { LineItem, RecordFormat, RecordOptions, RecordStream } from './streams/record-source.ts'

// Data (io/): the fixed MNIST split on digits in memory (loadMnist, in node.ts, reads them)
export { flattenImages, MNIST_TRAIN_PER_CLASS, mnistSplit } from './io/mnist-split.ts'
export type { MnistSplit } from './io/mnist-split.ts'
export type { TabularData, TabularOptions } from './io/tabular.ts'
export type { Example, Rejection, RejectReason } from './io/records.ts'

// Checkpoints (io/): safetensors and checkpoints on bytes (files: node.ts)
export {
  decodeSafetensors, decodeSafetensorsHeader, encodeSafetensors, MAX_HEADER_BYTES, parseJsonStrict, SAFETENSORS_DTYPES, SafetensorsError,
} from './io/safetensors.ts'
export type { SafetensorsDType, SafetensorsFile, SafetensorsHeader, SafetensorsInput, SafetensorsTensor, TensorData } from './io/safetensors.ts'
export { checkLayout, checkpointName, CheckpointError, decodeCheckpoint, encodeCheckpoint, LIBRARY_VERSION } from './io/checkpoint.ts'
export { objectiveFromSpec, registerObjective } from './models/objective-spec.ts'
export type { Checkpoint, CheckpointMeta } from './io/checkpoint.ts'

// The open layer registry, layer state, and the layers declared through it (issue 10)
export { buildLayer, checkData, defineLayer, drawsFromKey, elementwiseKernels, layerType, layerTypes, trainsDifferently } from './models/define.ts'
export type { ElementwiseKernels, LayerDeclaration, LayerType, SpecReader } from './models/define.ts'
export { defineActivation, elementwise } from './models/activations.ts'
export type { ElementwiseSaved } from './models/activations.ts'
export { dropout } from './models/dropout.ts'
export type { DropoutSaved } from './models/dropout.ts'
export { batchNorm } from './models/batch-norm.ts'
export type { BatchNormOptions, BatchNormParams, BatchNormSaved, BatchNormState } from './models/batch-norm.ts'
export { onlineStandardize } from './models/standardize-online.ts'
export type { OnlineStandardizeSaved, OnlineStandardizeState } from './models/standardize-online.ts'
export { globalAvgPool2d } from './models/global-pool.ts'
export { residual } from './models/residual.ts'
export type { ResidualOptions } from './models/residual.ts'
export { parallel } from './models/parallel.ts'
export type { ParallelOptions } from './models/parallel.ts'
export type { Branch, FanoutSaved, Merge } from './models/fanout.ts'
export { swish } from './models/swish.ts'
// Kernel backends (ops/backend.ts): WebAssembly SIMD (default where available) or TypeScript
export { defaultBackend, kernelBackend, KERNEL_BACKENDS, setKernelBackend, simdSupported, withKernelBackend } from './ops/backend.ts'
export type { KernelBackend } from './ops/backend.ts'
export { Sha256, sha256Hex } from './core/sha256.ts'

// Drift detection and rolling prequential metrics (issue 15)
export { detectDrift } from './streams/drift.ts'
export type { DriftDetector, DriftEvent } from './streams/drift.ts'
export { adwin } from './streams/drift-adwin.ts'
export type { AdwinOptions } from './streams/drift-adwin.ts'
export { pageHinkley } from './streams/drift-page-hinkley.ts'
export type { PageHinkleyOptions } from './streams/drift-page-hinkley.ts'
export {
  accuracyOfScore, classScore, classScoreMonoid, logLossOf, macroF1, mae, RegressionMonoid, regressionScore, rmse, rolling,
} from './streams/rolling-metrics.ts'
export type { ClassScore, RegressionScore } from './streams/rolling-metrics.ts'
// The broker-neutral event-log interface (a Kafka or NATS adapter implements it)
export { entryRecord } from './streams/log-source.ts'
export type { EntryRecord, LogConsumer, LogEntry, ModelSink, PublishedModel } from './streams/log-source.ts'

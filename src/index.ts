// gradstream's public API (re-exports only).

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
// The Node entry's train: worker threads as the default executor for `threads` > 1.
export { train, trainObjective, workerThreads } from './parallel/threads.ts'
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

// Data (io/)
export { flattenImages, loadMnist } from './io/mnist.ts'
export type { MnistSplit } from './io/mnist.ts'
export { loadTabular } from './io/tabular.ts'
export type { TabularData, TabularOptions } from './io/tabular.ts'
export type { Example, Rejection, RejectReason } from './io/records.ts'
export { decodePng, encodePng, writePng } from './io/png.ts'
export type { GrayImage } from './io/png.ts'

// Checkpoints (io/): safetensors, atomic writes
export {
  decodeSafetensors, decodeSafetensorsHeader, encodeSafetensors, loadSafetensors, MAX_HEADER_BYTES, parseJsonStrict,
  readSafetensorsHeader, SAFETENSORS_DTYPES, saveSafetensors, SafetensorsError,
} from './io/safetensors.ts'
export type { SafetensorsDType, SafetensorsFile, SafetensorsHeader, SafetensorsInput, SafetensorsTensor, TensorData } from './io/safetensors.ts'
export { isTempFile, writeFileAtomic } from './io/atomic-write.ts'
export {
  checkLayout, checkpointName, CheckpointError, decodeCheckpoint, encodeCheckpoint, LIBRARY_VERSION, listCheckpoints, loadCheckpoint,
  saveCheckpoint,
} from './io/checkpoint.ts'
export { objectiveFromSpec, registerObjective } from './models/objective-spec.ts'
export type { Checkpoint, CheckpointMeta } from './io/checkpoint.ts'

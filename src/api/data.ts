// The `data` namespace of the public API: the fixed MNIST split on digits in memory
// (loadMnist, in the Node entry, reads them).
export { flattenImages, MNIST_PIXELS, MNIST_TRAIN_PER_CLASS, mnistSplit } from '../io/mnist-split.ts'

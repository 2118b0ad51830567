// The Node entry's `data` namespace: the MNIST split plus the files behind it and tables.
export * from './data.ts'
export { loadMnist, mnistDigitsDir } from '../io/mnist.ts'
export { loadTabular } from '../io/tabular.ts'

// The `rbm` namespace of the public API: the restricted Boltzmann machine's kernels-level
// functions (models/rbm.ts) and its training objective (models/rbm-objective.ts).
export * from '../models/rbm.ts'
export * from '../models/rbm-objective.ts'

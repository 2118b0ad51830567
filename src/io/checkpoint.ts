// Checkpoints: a Snapshot and what is needed to continue it, as one safetensors file
// (DESIGN.md, "Checkpoints and interop").
//
// Tensors (all little-endian, F32 unless a model state says otherwise):
//   <param path>               each parameter, named by the snapshot's layout ("C1.k", "fc1.W")
//   opt.<slot>.<param path>    each optimizer slot, cut along the same layout ("opt.velocity.C1.k")
//   state.<path>               model state beyond parameters, when it is a tensor tree
// __metadata__ (strings only; numbers are written with String(), which round-trips
// every double exactly, NaN and Infinity included; structures are JSON):
//   gradstream        checkpoint format version ("1")
//   version           library version (package.json)
//   model             the model spec (JSON; objectiveFromSpec rebuilds the model)
//   layout            parameter names in flat-buffer order (JSON array)
//   optimizer         optimizer name; optimizer_spec: its hyperparameters and learning-rate
//                     schedule (JSON); optimizer_step: updates applied (drives schedules and
//                     Adam's bias correction); optimizer_slots: slot names (JSON array)
//   step, epoch, position, end_of_epoch, seen   where the run is in its data: the batch
//                     stream restarts at (epoch, position), the shuffle of every epoch
//                     follows from the key
//   key               the run key [k0, k1] (JSON): every random draw derives from it
//   lr, loss, samples, accuracy, skipped        the step that produced the snapshot
//   model_state       "null" or "tensors" (then model_state_layout lists them)
//   data_sha256       SHA-256 of the byte buffer: a flipped bit in the data is caught
//   kernel_backend    "simd" or "ts": the kernels (src/ops/backend.ts) whose numerics made
//                     the run; resume and replay set it (absent in files written before
//                     there was a choice: those ran on "ts")
// plus any caller keys (`extra`, e.g. the CLI's run config), which must not collide.
//
// A loaded checkpoint gives back a Snapshot whose training continues bit for bit as the
// original run would have (tested in test/io/checkpoint.test.ts).

import * as E from 'fp-ts/lib/Either.js'
import { FileError } from '../core/errors.ts'
import type { JsonValue } from '../core/json.ts'
import { sha256Hex } from '../core/sha256.ts'
import { LIBRARY_VERSION } from '../core/version.ts'
import type { AnyObjective, ModelSpec } from '../models/objective.ts'
import type { OptState } from '../core/opt-state.ts'
import type { OptimizerSpec } from '../models/optimizers.ts'
import { optimizerFromSpec } from '../models/optimizers.ts'
import type { Key } from '../core/rng.ts'
import type { KernelBackend } from '../ops/backend.ts'
import { kernelBackend, parseBackend } from '../ops/backend.ts'
import type { Snapshot, StepMetrics } from '../core/snapshot.ts'
import { makeSnapshot } from '../core/snapshot.ts'
import type { Shape, Tensor } from '../core/tensor.ts'
import { shapeEquals, showShape, size } from '../core/tensor.ts'
import type { Layout, Params } from '../core/tree.ts'
import { isTensor, layoutOf, leaves, treeFromLeaves, unravel } from '../core/tree.ts'
import type { SafetensorsFile, SafetensorsInput, TensorData } from './safetensors.ts'
import { decodeSafetensors, encodeSafetensors, parseJsonStrict } from './safetensors.ts'

/** The library version written into every checkpoint (core/version.ts, equal to package.json's). */
export { LIBRARY_VERSION }

export const CHECKPOINT_FORMAT = '1'

/** Metadata keys the checkpoint itself uses; `extra` keys must avoid them. */
export const RESERVED_KEYS: readonly string[] = [
  'gradstream', 'version', 'model', 'layout', 'optimizer', 'optimizer_spec', 'optimizer_step', 'optimizer_slots',
  'step', 'epoch', 'position', 'end_of_epoch', 'seen', 'key', 'lr', 'loss', 'samples', 'accuracy', 'skipped',
  'model_state', 'model_state_layout', 'data_sha256', 'kernel_backend',
]

/** What a checkpoint stores besides the snapshot. */
export interface CheckpointMeta {
  /** The model (objective.spec): enough to rebuild it. */
  readonly model: ModelSpec
  /** The optimizer (optimizer.spec): name, hyperparameters, learning-rate schedule. */
  readonly optimizer: OptimizerSpec
  /** More string entries for __metadata__ (keys outside RESERVED_KEYS). */
  readonly extra?: Readonly<Record<string, string>>
  /** The kernel backend the run uses (default: the one selected now, kernelBackend()). */
  readonly backend?: KernelBackend
}

export interface Checkpoint {
  readonly file: string
  readonly snapshot: Snapshot
  readonly model: ModelSpec
  readonly optimizer: OptimizerSpec
  /** Library version that wrote the file. */
  readonly version: string
  /** The kernel backend the run used ("ts" for files from before the choice existed). */
  readonly backend: KernelBackend
  /** The caller's extra metadata entries. */
  readonly extra: Readonly<Record<string, string>>
}

/** A file that is not a valid checkpoint (or a snapshot that cannot be saved). */
export class CheckpointError extends FileError {
  override readonly name = 'CheckpointError'
}

// ---------------------------------------------------------------------------------------
// Writing

const isParamsTree = (v: unknown): v is Params =>
  typeof v === 'object' &&
  v !== null &&
  !isTensor(v) &&
  Object.values(v).every((c) => isTensor(c) || isParamsTree(c))

/** An optimizer slot's tensors in layout order (a slot is a tree shaped like the parameters). */
const slotTensors = (file: string, slot: string, tree: Params, layout: Layout): SafetensorsInput[] => {
  const byPath = new Map(leaves(tree))
  return layout.names.map((name, i) => {
    const t = byPath.get(name)
    if (t === undefined || !(t.data instanceof Float32Array) || !shapeEquals(t.shape, layout.shapes[i]))
      throw new CheckpointError(file, `optimizer slot ${slot}: expected a Float32 tensor ${name} of shape ${showShape(layout.shapes[i])}`)
    return { name: `opt.${slot}.${name}`, shape: layout.shapes[i], data: t.data }
  })
}

/** The tensors of a snapshot, in file order: parameters, optimizer slots, model state. */
export const checkpointTensors = (snapshot: Snapshot, file = 'checkpoint'): SafetensorsInput[] => {
  const { layout, flat } = snapshot
  const cut = (buf: Float32Array, prefix: string): SafetensorsInput[] =>
    layout.names.map((name, i) => ({
      name: `${prefix}${name}`,
      shape: layout.shapes[i],
      data: buf.subarray(layout.offsets[i], layout.offsets[i] + size(layout.shapes[i])),
    }))
  const out = cut(flat, '')
  for (const slot of Object.keys(snapshot.opt.slots)) {
    if (slot.includes('.') || slot === '') throw new CheckpointError(file, `optimizer slot name ${JSON.stringify(slot)} must be a plain name`)
    out.push(...slotTensors(file, slot, snapshot.opt.slots[slot], layout))
  }
  if (snapshot.modelState !== null) {
    if (!isParamsTree(snapshot.modelState))
      throw new CheckpointError(file, 'model state must be null or a tree of tensors to be saved')
    for (const [path, t] of leaves(snapshot.modelState)) out.push({ name: `state.${path}`, shape: t.shape, data: t.data })
  }
  return out
}

const num = (v: number): string => String(v)

const sha256 = (bytes: Uint8Array): string => sha256Hex(bytes)

/** The checkpoint as safetensors bytes. */
export const encodeCheckpoint = (snapshot: Snapshot, meta: CheckpointMeta, file = 'checkpoint'): Uint8Array => {
  const tensors = checkpointTensors(snapshot, file)
  for (const k of Object.keys(meta.extra ?? {}))
    if (RESERVED_KEYS.includes(k)) throw new CheckpointError(file, `extra metadata key ${JSON.stringify(k)} is reserved`)
  const m = snapshot.metrics
  const metadata: Record<string, string> = {
    gradstream: CHECKPOINT_FORMAT,
    version: LIBRARY_VERSION,
    model: JSON.stringify(meta.model),
    layout: JSON.stringify(snapshot.layout.names),
    optimizer: meta.optimizer.type,
    optimizer_spec: JSON.stringify(meta.optimizer),
    optimizer_step: num(snapshot.opt.step),
    optimizer_slots: JSON.stringify(Object.keys(snapshot.opt.slots)),
    step: num(snapshot.step),
    epoch: num(snapshot.epoch),
    position: num(snapshot.position),
    end_of_epoch: String(snapshot.endOfEpoch),
    seen: num(snapshot.seen),
    key: JSON.stringify([snapshot.key.k0 >>> 0, snapshot.key.k1 >>> 0]),
    lr: num(snapshot.lr),
    loss: num(m.loss),
    samples: num(m.samples),
    ...(m.accuracy !== undefined ? { accuracy: num(m.accuracy) } : {}),
    ...(m.skipped !== undefined ? { skipped: m.skipped } : {}),
    model_state: snapshot.modelState === null ? 'null' : 'tensors',
    ...(snapshot.modelState !== null
      ? { model_state_layout: JSON.stringify(leaves(snapshot.modelState as Params).map(([p]) => p)) }
      : {}),
    data_sha256: '',
    kernel_backend: meta.backend ?? kernelBackend(),
    ...meta.extra,
  }
  // The checksum covers the byte buffer, which does not depend on the metadata: encode
  // once to lay the data out, hash it, and encode again with the hash.
  const draft = encodeSafetensors(tensors, metadata)
  const headerBytes = Number(new DataView(draft.buffer, draft.byteOffset, 8).getBigUint64(0, true))
  metadata.data_sha256 = sha256(draft.subarray(8 + headerBytes))
  return encodeSafetensors(tensors, metadata)
}

// ---------------------------------------------------------------------------------------
// Reading: every metadata value is untrusted text.

type Meta = Readonly<Record<string, string>>

const reader = (file: string, meta: Meta) => {
  const bad = (key: string, expected: string, got: string | undefined): never => {
    const shown = got === undefined ? 'nothing' : JSON.stringify(got.length > 60 ? `${got.slice(0, 60)}...` : got)
    throw new CheckpointError(file, `metadata "${key}": expected ${expected}, got ${shown}`)
  }
  const raw = (key: string): string => (Object.hasOwn(meta, key) ? meta[key] : bad(key, 'a value', undefined))
  const json = (key: string): JsonValue => {
    const s = raw(key)
    try {
      return parseJsonStrict(s)
    } catch (e) {
      return bad(key, `JSON (${(e as Error).message})`, s)
    }
  }
  const NUMBER = /^(?:-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|Infinity)|NaN)$/
  return {
    bad,
    raw,
    json,
    has: (key: string): boolean => Object.hasOwn(meta, key),
    count: (key: string): number => {
      const s = raw(key)
      const n = Number(s)
      return /^\d+$/.test(s) && Number.isSafeInteger(n) ? n : bad(key, 'a non-negative integer', s)
    },
    number: (key: string): number => {
      const s = raw(key)
      return NUMBER.test(s) ? Number(s) : bad(key, 'a number', s)
    },
    bool: (key: string): boolean => {
      const s = raw(key)
      return s === 'true' ? true : s === 'false' ? false : bad(key, 'true or false', s)
    },
    names: (key: string): string[] => {
      const v = json(key)
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '') || new Set(v).size !== v.length)
        return bad(key, 'a JSON array of distinct non-empty names', raw(key))
      return v as string[]
    },
  }
}

const asObject = (v: JsonValue): { readonly [k: string]: JsonValue } | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as { readonly [k: string]: JsonValue }) : undefined

/** Turns a loaded safetensors file (and its raw data) into a checkpoint, checking everything. */
export const checkpointFromSafetensors = (st: SafetensorsFile, data: Uint8Array, file: string): Checkpoint => {
  const meta = st.metadata
  const r = reader(file, meta)
  const fail = (problem: string): never => {
    throw new CheckpointError(file, problem)
  }
  if (!r.has('gradstream')) fail('not a gradstream checkpoint (no "gradstream" entry in __metadata__)')
  if (meta.gradstream !== CHECKPOINT_FORMAT) r.bad('gradstream', `checkpoint format ${CHECKPOINT_FORMAT}`, meta.gradstream)
  const checksum = r.raw('data_sha256')
  if (sha256(data) !== checksum) fail('tensor data does not match its data_sha256 checksum (the file is corrupted)')

  // Model and optimizer specs.
  const model = asObject(r.json('model'))
  if (model === undefined || typeof model.kind !== 'string' || !Array.isArray(model.inShape) || !model.inShape.every((d) => Number.isSafeInteger(d) && (d as number) >= 1))
    return r.bad('model', 'a model spec {kind, inShape, ...}', r.raw('model'))
  const optSpec = asObject(r.json('optimizer_spec'))
  if (optSpec === undefined) return r.bad('optimizer_spec', 'an optimizer spec object', r.raw('optimizer_spec'))
  let optimizer
  try {
    optimizer = optimizerFromSpec(optSpec as unknown as OptimizerSpec)
  } catch (e) {
    return r.bad('optimizer_spec', `a valid optimizer spec (${(e as Error).message})`, r.raw('optimizer_spec'))
  }
  if (r.raw('optimizer') !== optimizer.spec.type) r.bad('optimizer', `"${optimizer.spec.type}" (as in optimizer_spec)`, r.raw('optimizer'))

  // Tensors, by name (a Map: names are file data).
  const byName = new Map(st.tensors.map((t) => [t.name, t]))
  const used = new Set<string>()
  const take = (name: string, shape: Shape | undefined, what: string): { shape: readonly number[]; data: TensorData } => {
    const t = byName.get(name)
    if (t === undefined) return fail(`missing tensor ${JSON.stringify(name)} (${what})`)
    if (t.dtype !== 'F32' && !(what === 'model state' && t.dtype === 'F64'))
      fail(`tensor ${JSON.stringify(name)}: expected dtype F32, got ${t.dtype}`)
    if (shape !== undefined && !shapeEquals(shape, t.shape))
      fail(`tensor ${JSON.stringify(name)}: expected shape ${showShape(shape)}, got ${showShape(t.shape)}`)
    used.add(name)
    return t
  }
  const names = r.names('layout')
  const shapes: Shape[] = []
  const offsets: number[] = []
  let total = 0
  for (const name of names) {
    const t = take(name, undefined, 'a parameter listed in layout')
    shapes.push(t.shape)
    offsets.push(total)
    total += t.data.length
  }
  const layout: Layout = { names, shapes, offsets, size: total }
  const gather = (prefix: string, what: string): Float32Array => {
    const out = new Float32Array(total)
    names.forEach((name, i) => out.set(take(`${prefix}${name}`, shapes[i], what).data as Float32Array, offsets[i]))
    return out
  }
  const flat = gather('', 'parameter')
  const slotNames = r.names('optimizer_slots')
  const expectedSlots = Object.keys(optimizer.init(unravel(layout, flat)).slots)
  if (slotNames.length !== expectedSlots.length || !expectedSlots.every((s) => slotNames.includes(s)))
    r.bad('optimizer_slots', `the slots of ${optimizer.spec.type}: ${JSON.stringify(expectedSlots)}`, r.raw('optimizer_slots'))
  const slots: Record<string, Params> = {}
  for (const slot of slotNames) slots[slot] = unravel(layout, gather(`opt.${slot}.`, `optimizer slot ${slot}`))
  const opt: OptState = { step: r.count('optimizer_step'), slots }

  let modelState: unknown = null
  const stateKind = r.raw('model_state')
  if (stateKind === 'tensors') {
    const paths = r.names('model_state_layout')
    try {
      modelState = treeFromLeaves(paths.map((p) => [p, take(`state.${p}`, undefined, 'model state') as Tensor] as const))
    } catch (e) {
      return r.bad('model_state_layout', `tensor paths (${(e as Error).message})`, r.raw('model_state_layout'))
    }
  } else if (stateKind !== 'null') r.bad('model_state', '"null" or "tensors"', stateKind)
  for (const t of st.tensors) if (!used.has(t.name)) fail(`unexpected tensor ${JSON.stringify(t.name)}`)

  const keyJson = r.json('key')
  if (!Array.isArray(keyJson) || keyJson.length !== 2 || !keyJson.every((w) => Number.isInteger(w) && (w as number) >= 0 && (w as number) <= 0xffffffff))
    return r.bad('key', 'a JSON pair of 32-bit unsigned integers', r.raw('key'))
  const key: Key = { k0: keyJson[0] as number, k1: keyJson[1] as number }
  const metrics: StepMetrics = {
    loss: r.number('loss'),
    samples: r.count('samples'),
    ...(r.has('accuracy') ? { accuracy: r.number('accuracy') } : {}),
    ...(r.has('skipped') ? { skipped: r.raw('skipped') } : {}),
  }
  const snapshot = makeSnapshot({
    step: r.count('step'),
    epoch: r.count('epoch'),
    position: r.count('position'),
    endOfEpoch: r.bool('end_of_epoch'),
    seen: r.count('seen'),
    flat,
    layout,
    opt,
    modelState,
    key,
    lr: r.number('lr'),
    metrics,
  })
  let backend: KernelBackend = 'ts'
  if (r.has('kernel_backend')) {
    try {
      backend = parseBackend(meta.kernel_backend)
    } catch {
      r.bad('kernel_backend', 'simd or ts', meta.kernel_backend)
    }
  }
  const extra: Record<string, string> = {}
  for (const k of Object.keys(meta)) if (!RESERVED_KEYS.includes(k)) Object.defineProperty(extra, k, { value: meta[k], enumerable: true })
  return {
    file,
    snapshot,
    model: model as unknown as ModelSpec,
    optimizer: optimizer.spec,
    version: r.raw('version'),
    backend,
    extra: Object.freeze(extra),
  }
}

/** Decodes a checkpoint held in memory. */
export const decodeCheckpoint = (bytes: Uint8Array, file = '<buffer>'): Checkpoint => {
  const st = decodeSafetensors(bytes, file)
  return checkpointFromSafetensors(st, bytes.subarray(8 + st.headerBytes), file)
}

// ---------------------------------------------------------------------------------------
// Rebuilding the model

/** Throws unless the objective's parameters have the checkpoint's names and shapes. */
export const checkLayout = (objective: AnyObjective, checkpoint: Pick<Checkpoint, 'file' | 'snapshot'>): void => {
  const init = objective.init(checkpoint.snapshot.key)
  if (E.isLeft(init)) throw new CheckpointError(checkpoint.file, `the model does not build: ${init.left.message}`)
  const want = layoutOf(init.right.params)
  const got = checkpoint.snapshot.layout
  const same =
    want.names.length === got.names.length && want.names.every((n, i) => n === got.names[i] && shapeEquals(want.shapes[i], got.shapes[i]))
  if (!same)
    throw new CheckpointError(
      checkpoint.file,
      `parameters do not match the model: expected ${want.names.map((n, i) => `${n}${showShape(want.shapes[i])}`).join(', ')}`,
    )
}

// ---------------------------------------------------------------------------------------
// Checkpoint folders: step-00000500.safetensors, ... (temp files never match).

export const checkpointName = (step: number): string => `step-${String(step).padStart(8, '0')}.safetensors`

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { lastValueFrom, take, toArray } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import { isTempFile, writeFileAtomic } from '../../src/io/atomic-write.ts'
import { CheckpointError, checkLayout, checkpointName, decodeCheckpoint, encodeCheckpoint, LIBRARY_VERSION } from '../../src/io/checkpoint.ts'
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint-file.ts'
import { objectiveFromSpec } from '../../src/models/objective-spec.ts'
import { kernelBackend } from '../../src/ops/backend.ts'
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import type { Optimizer } from '../../src/models/optimizers.ts'
import { adam, momentum, sgd } from '../../src/models/optimizers.ts'
import { rrelu } from '../../src/models/rrelu.ts'
import { sequential } from '../../src/models/sequential.ts'
import { hashBytes, hashParams } from '../../src/streams/snapshot.ts'
import type { Snapshot } from '../../src/streams/snapshot.ts'
import { arraySource } from '../../src/streams/source.ts'
import { trainObjective } from '../../src/streams/train.ts'
import { blobs, slotsHash } from '../helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'gs-checkpoint-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const data = blobs(40, 3, 4, 5)
const objective = (): AnyObjective => supervised(sequential(dense(8), rrelu(), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
const config = { data: arraySource(data, { batchSize: 16 }), epochs: 3, seed: 11 }
const allSnapshots = (opt: Optimizer, initial?: Snapshot): Promise<Snapshot[]> =>
  lastValueFrom(trainObjective(objective(), opt, { ...config, initial }).pipe(toArray()))

/** Parameters plus every optimizer slot: the whole trained state. */
const stateHash = (s: Snapshot): string =>
  [hashParams(s), slotsHash(s), s.opt.step].join('/')

describe('checkpoints', () => {
  it.each([
    ['momentum', () => momentum({ type: 'cosine', lr: 0.1, steps: 24 })],
    ['adam', () => adam(0.01)],
    ['sgd', () => sgd(0.1)],
  ])('a run resumed from a checkpoint continues bit-identically (%s, RReLU noise, shuffling)', async (_name, make) => {
    const full = await allSnapshots(make())
    expect(full.length).toBe(24) // 8 batches x 3 epochs
    for (const at of [5, 8, 13]) {
      const path = join(dir, `resume-${_name}-${at}.safetensors`)
      saveCheckpoint(path, full[at - 1], { model: objective().spec, optimizer: make().spec })
      const ck = loadCheckpoint(path)
      expect(stateHash(ck.snapshot)).toBe(stateHash(full[at - 1]))
      const rest = await allSnapshots(make(), ck.snapshot)
      expect(rest.map((s) => s.step)).toEqual(full.slice(at).map((s) => s.step))
      expect(rest.map(stateHash)).toEqual(full.slice(at).map(stateHash))
      expect(rest.map((s) => s.metrics.loss)).toEqual(full.slice(at).map((s) => s.metrics.loss))
    }
  })

  it('stores model spec, step, epoch, position, optimizer, key and version in __metadata__', async () => {
    const opt = momentum({ type: 'cosine', lr: 0.1, steps: 24 })
    const s = (await allSnapshots(opt))[9] // step 10: epoch 1, batch 2
    const bytes = encodeCheckpoint(s, { model: objective().spec, optimizer: opt.spec, extra: { note: 'hello' } })
    const meta = decodeSafetensors(bytes).metadata
    expect(JSON.parse(meta.model)).toEqual(JSON.parse(JSON.stringify(objective().spec)))
    expect(meta).toMatchObject({ gradstream: '1', version: LIBRARY_VERSION, optimizer: 'momentum', optimizer_step: '10' })
    expect(meta).toMatchObject({ step: '10', epoch: '1', position: '2', end_of_epoch: 'false', seen: String(s.seen), note: 'hello' })
    expect(JSON.parse(meta.optimizer_spec)).toEqual({ type: 'momentum', lr: { type: 'cosine', lr: 0.1, steps: 24 }, momentum: 0.9, weightDecay: 0 })
    expect(JSON.parse(meta.key)).toEqual([s.key.k0, s.key.k1])
    expect(Number(meta.lr)).toBe(s.lr)
    expect(Number(meta.loss)).toBe(s.metrics.loss)
    expect(LIBRARY_VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version)
    const names = decodeSafetensors(bytes).tensors.map((t) => t.name)
    expect(names).toEqual([...s.layout.names, ...s.layout.names.map((n) => `opt.velocity.${n}`)])
    const ck = decodeCheckpoint(bytes)
    expect(ck.extra).toEqual({ note: 'hello' })
    expect(ck.snapshot).toMatchObject({ step: 10, epoch: 1, position: 2, endOfEpoch: false, seen: s.seen, lr: s.lr, key: s.key })
    expect(ck.snapshot.metrics).toEqual(s.metrics)
    expect(Object.isFrozen(ck.snapshot)).toBe(true)
  })

  it('records the kernel backend (the one selected, or the one given) and reads "ts" where a file has none', async () => {
    const opt = sgd(0.1)
    const s = (await allSnapshots(opt))[3]
    const meta = { model: objective().spec, optimizer: opt.spec }
    const bytes = encodeCheckpoint(s, meta)
    expect(decodeSafetensors(bytes).metadata.kernel_backend).toBe(kernelBackend())
    expect(decodeCheckpoint(bytes).backend).toBe(kernelBackend())
    expect(decodeCheckpoint(encodeCheckpoint(s, { ...meta, backend: 'ts' })).backend).toBe('ts')
    expect(decodeCheckpoint(encodeCheckpoint(s, { ...meta, backend: 'simd' })).backend).toBe('simd')
    // a file from before the choice existed: no entry, so it ran on the TypeScript kernels
    const f = decodeSafetensors(bytes)
    const old = { ...f.metadata }
    delete old.kernel_backend
    expect(decodeCheckpoint(encodeSafetensors(f.tensors.map((t) => ({ name: t.name, shape: t.shape, data: t.data as Float32Array })), old)).backend).toBe('ts')
  })

  it('the step-0 snapshot (loss NaN) and an end-of-epoch snapshot round-trip', async () => {
    const opt = sgd(0.1)
    const full = await allSnapshots(opt)
    const end = full[7]
    expect(end.endOfEpoch).toBe(true)
    const back = decodeCheckpoint(encodeCheckpoint(end, { model: objective().spec, optimizer: opt.spec }))
    expect(back.snapshot.endOfEpoch).toBe(true)
    const rest = await allSnapshots(sgd(0.1), back.snapshot)
    expect(rest.map(hashParams)).toEqual(full.slice(8).map(hashParams))
    expect(rest[0]).toMatchObject({ epoch: 1, position: 1 })
  })

  it('rebuilds the model from its spec: same spec, same parameter layout', () => {
    const obj = objective()
    const rebuilt = objectiveFromSpec(obj.spec)
    if (E.isLeft(rebuilt)) throw rebuilt.left
    expect(JSON.stringify(rebuilt.right.spec)).toBe(JSON.stringify(obj.spec))
    const init = rebuilt.right.init({ k0: 1, k1: 2 })
    expect(E.isRight(init)).toBe(true)
    const unknown = objectiveFromSpec({ kind: 'no-such-model', inShape: [4] })
    expect(E.isLeft(unknown) ? unknown.left.message : '').toMatch(/expected "kind" to be one of supervised, autoencoding/)
  })

  it('refuses a checkpoint that does not match the model', async () => {
    const opt = sgd(0.1)
    const s = (await allSnapshots(opt))[0]
    const ck = decodeCheckpoint(encodeCheckpoint(s, { model: objective().spec, optimizer: opt.spec }), 'a.safetensors')
    expect(() => checkLayout(objective(), ck)).not.toThrow()
    const other = supervised(sequential(dense(9), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
    expect(() => checkLayout(other, ck)).toThrow(/a.safetensors: parameters do not match the model: expected fc1.W\[4, 9\]/)
  })

  it('lists checkpoints by step and never a temp file', () => {
    const sub = mkdtempSync(join(dir, 'list-'))
    for (const step of [100, 5, 20]) writeFileSync(join(sub, checkpointName(step)), 'x')
    writeFileSync(join(sub, `.${checkpointName(30)}.1234.0.tmp`), 'partial')
    writeFileSync(join(sub, 'notes.txt'), 'x')
    expect(isTempFile(`.${checkpointName(30)}.1234.0.tmp`)).toBe(true)
    expect(isTempFile(checkpointName(30))).toBe(false)
    expect(listCheckpoints(sub).map((c) => c.step)).toEqual([5, 20, 100])
    expect(listCheckpoints(join(sub, 'nope'))).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------
// Files that are valid safetensors but not valid checkpoints: every one is a
// CheckpointError naming the file and the problem.

describe('the checkpoint loader refuses corrupted or forged checkpoints', () => {
  const opt = momentum(0.1)
  let good: Uint8Array
  let snap: Snapshot
  const forge = (edit: (meta: Record<string, string>, tensors: { name: string; shape: readonly number[]; data: Float32Array }[]) => void): Uint8Array => {
    const f = decodeSafetensors(good)
    const meta = { ...f.metadata }
    const tensors = f.tensors.map((t) => ({ name: t.name, shape: t.shape, data: t.data as Float32Array }))
    edit(meta, tensors)
    return encodeSafetensors(tensors, meta)
  }
  /** Re-signs the data checksum so that the check under test is the one that fires. */
  const resign = (meta: Record<string, string>, tensors: { name: string; shape: readonly number[]; data: Float32Array }[]): void => {
    const probe = encodeSafetensors(tensors, meta)
    const n = Number(new DataView(probe.buffer).getBigUint64(0, true))
    meta.data_sha256 = hashBytes(probe.subarray(8 + n))
  }

  it('sets up a valid checkpoint', async () => {
    snap = (await lastValueFrom(trainObjective(objective(), opt, config).pipe(take(3), toArray())))[2]
    good = encodeCheckpoint(snap, { model: objective().spec, optimizer: opt.spec })
    expect(decodeCheckpoint(good).snapshot.step).toBe(3)
  })

  const CASES: ReadonlyArray<readonly [string, () => Uint8Array, RegExp]> = [
    ['a plain safetensors file', () => encodeSafetensors([{ name: 'w', shape: [1], data: Float32Array.from([1]) }]), /not a gradstream checkpoint/],
    ['another format version', () => forge((m) => void (m.gradstream = '2')), /metadata "gradstream": expected checkpoint format 1, got "2"/],
    ['a flipped bit in the data', () => { const b = good.slice(); b[b.length - 3] ^= 4; return b }, /does not match its data_sha256 checksum/],
    ['a changed parameter value', () => forge((_m, t) => void (t[0].data = Float32Array.from(t[0].data, (v, i) => (i === 0 ? v + 1 : v)))), /data_sha256/],
    ['a step that is not a number', () => forge((m) => void (m.step = 'abc')), /metadata "step": expected a non-negative integer, got "abc"/],
    ['a negative epoch', () => forge((m) => void (m.epoch = '-1')), /metadata "epoch": expected a non-negative integer/],
    ['a missing position', () => forge((m) => void delete m.position), /metadata "position": expected a value, got nothing/],
    ['end_of_epoch not a boolean', () => forge((m) => void (m.end_of_epoch = 'yes')), /metadata "end_of_epoch": expected true or false/],
    ['an lr that is not a number', () => forge((m) => void (m.lr = '0x10')), /metadata "lr": expected a number, got "0x10"/],
    ['a key out of range', () => forge((m) => void (m.key = '[1, 4294967296]')), /metadata "key": expected a JSON pair of 32-bit unsigned integers/],
    ['a key that is not JSON', () => forge((m) => void (m.key = '[1, 2')), /metadata "key": expected JSON/],
    ['a layout with duplicates', () => forge((m) => void (m.layout = '["fc1.W","fc1.W"]')), /metadata "layout": expected a JSON array of distinct non-empty names/],
    ['a model spec with __proto__', () => forge((m) => void (m.model = '{"__proto__":{"polluted":true},"kind":"supervised","inShape":[4]}')), /metadata "model": expected JSON \(forbidden key "__proto__"/],
    ['a model spec without inShape', () => forge((m) => void (m.model = '{"kind":"supervised"}')), /metadata "model": expected a model spec/],
    ['an unknown optimizer', () => forge((m) => void (m.optimizer_spec = '{"type":"rmsprop","lr":0.1}')), /metadata "optimizer_spec": expected a valid optimizer spec \(optimizer: expected type sgd/],
    ['a negative learning rate', () => forge((m) => void (m.optimizer_spec = '{"type":"sgd","lr":-1}')), /expected a valid optimizer spec \(sgd: expected lr to be a positive number/],
    ['optimizer name disagreeing with its spec', () => forge((m) => void (m.optimizer = 'adam')), /metadata "optimizer": expected "momentum"/],
    ['slots of another optimizer', () => forge((m, t) => { m.optimizer_spec = '{"type":"adam","lr":0.1}'; m.optimizer = 'adam'; resign(m, t) }), /metadata "optimizer_slots": expected the slots of adam: \["m","v"\]/],
    ['a missing parameter tensor', () => forge((m, t) => { t.splice(1, 1); resign(m, t) }), /missing tensor "fc1.b"/],
    ['a missing slot tensor', () => forge((m, t) => { t.pop(); resign(m, t) }), /missing tensor "opt.velocity.fc2.b"/],
    ['an unexpected tensor', () => forge((m, t) => { t.push({ name: 'extra', shape: [1], data: Float32Array.from([0]) }); resign(m, t) }), /unexpected tensor "extra"/],
    ['a slot of the wrong shape', () => forge((m, t) => { t[t.length - 1] = { ...t[t.length - 1], shape: [1, 3] }; resign(m, t) }), /tensor "opt.velocity.fc2.b": expected shape \[3\], got \[1, 3\]/],
    ['a parameter stored as F64', () => {
      const f = decodeSafetensors(good)
      const tensors = f.tensors.map((t, i) => ({ name: t.name, shape: t.shape, data: i === 0 ? Float64Array.from(t.data as Float32Array) : t.data }))
      const meta: Record<string, string> = { ...f.metadata }
      const probe = encodeSafetensors(tensors, meta)
      meta.data_sha256 = hashBytes(probe.subarray(8 + Number(new DataView(probe.buffer).getBigUint64(0, true))))
      return encodeSafetensors(tensors, meta)
    }, /tensor "fc1.W": expected dtype F32, got F64/],
    ['an unknown kernel backend', () => forge((m) => void (m.kernel_backend = 'gpu')), /metadata "kernel_backend": expected simd or ts, got "gpu"/],
    ['model_state of an unknown kind', () => forge((m) => void (m.model_state = 'pickle')), /metadata "model_state": expected "null" or "tensors"/],
    ['a reserved extra key', () => encodeCheckpoint(snap, { model: objective().spec, optimizer: opt.spec, extra: { step: '1' } }), /extra metadata key "step" is reserved/],
  ]

  it(`${CASES.length} forged checkpoints are refused with a CheckpointError naming the file and the problem`, () => {
    for (const [what, make, problem] of CASES) {
      let err: unknown
      try {
        decodeCheckpoint(make(), 'forged.safetensors')
      } catch (e) {
        err = e
      }
      expect(err, what).toBeInstanceOf(CheckpointError)
      expect((err as Error).message, what).toMatch(problem)
      expect((err as Error).message.includes('\n'), what).toBe(false)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('bit flips across the data region (one in every 7th byte) are all caught by the checksum', () => {
    const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true))
    let refused = 0
    for (let i = headerEnd; i < good.length; i += 7) {
      const b = good.slice()
      b[i] ^= 1 << (i % 8)
      expect(() => decodeCheckpoint(b, 'flip.safetensors')).toThrow(/data_sha256/)
      refused++
    }
    expect(refused).toBeGreaterThan(20)
  })

  it('loading a file written by writeFileAtomic over an old one gives the new one', () => {
    const path = join(dir, 'replace.safetensors')
    writeFileAtomic(path, good)
    const newer = encodeCheckpoint(snap, { model: objective().spec, optimizer: opt.spec, extra: { n: '2' } })
    writeFileAtomic(path, newer)
    expect(loadCheckpoint(path).extra).toEqual({ n: '2' })
  })
})

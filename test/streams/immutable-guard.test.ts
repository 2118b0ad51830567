// GRADSTREAM_CHECK_IMMUTABLE=1 (on in this suite through vitest.config.ts): a snapshot
// whose bytes user code changed is refused, loudly, wherever it is used again.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lastValueFrom, take, toArray } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import { saveCheckpoint } from '../../src/io/checkpoint-file.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { adam, momentum } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import type { RunDefinition } from '../../src/streams/history.ts'
import { forkSnapshot, replayTo, trainRun } from '../../src/streams/history.ts'
import { fingerprint, immutabilityCheckEnabled, setImmutabilityCheck } from '../../src/core/immutable-guard.ts'
import { hashParams } from '../../src/streams/snapshot.ts'
import { getLeaf } from '../../src/core/tree.ts'
import { arraySource } from '../../src/streams/source.ts'
import { blobs } from '../helpers.ts'

const tmp = mkdtempSync(join(tmpdir(), 'gs-guard-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const objective = supervised(sequential(dense(6), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
const run: RunDefinition = { objective, optimizer: momentum(0.05, { momentum: 0.9 }), config: { data: arraySource(blobs(20, 3, 4, 2), { batchSize: 6 }), epochs: 2, seed: 5 } }
const snapshots = () => lastValueFrom(trainRun(run).pipe(take(6), toArray()))
const meta = { model: objective.spec, optimizer: run.optimizer.spec }

describe('the snapshot immutability guard', () => {
  it('is on in the test suite (vitest.config.ts sets GRADSTREAM_CHECK_IMMUTABLE=1)', () => {
    expect(process.env.GRADSTREAM_CHECK_IMMUTABLE).toBe('1')
    expect(immutabilityCheckEnabled()).toBe(true)
  })

  it('a changed parameter is refused when the snapshot is saved, replayed from, forked, or trained on', async () => {
    const s = (await snapshots())[3]
    const hash = hashParams(s)
    const W = getLeaf(s.params, 'fc1.W')!
    W.data[5] += 1
    expect(hashParams(s)).not.toBe(hash) // the breach the guard exists for
    const changed = /snapshot at step 4 was changed after it was made \(found when (saving|training from it|forking from it).*\): its typed arrays are read-only by contract/
    expect(() => saveCheckpoint(join(tmp, 'a.safetensors'), s, meta)).toThrow(changed)
    await expect(replayTo(run, s, 6)).rejects.toThrow(changed)
    expect(() => forkSnapshot(s, { from: run.optimizer, to: adam(0.01) })).toThrow(changed)
    // A copy of the record (what evaluateEvery makes) shares the arrays, and is caught too.
    expect(() => saveCheckpoint(join(tmp, 'b.safetensors'), { ...s, metrics: { ...s.metrics } }, meta)).toThrow(changed)
    // Written back bit for bit: the snapshot is whole again, and usable.
    W.data[5] -= 1
    if (hashParams(s) === hash) {
      expect(saveCheckpoint(join(tmp, 'c.safetensors'), s, meta)).toBeGreaterThan(0)
      expect((await replayTo(run, s, 6)).step).toBe(6)
    }
  })

  it('a change made through the flat buffer (any view) is caught as well; untouched snapshots pass', async () => {
    const all = await snapshots()
    for (const s of all.slice(0, 5)) saveCheckpoint(join(tmp, `ok-${s.step}.safetensors`), s, meta)
    const last = all[5]
    last.flat[last.flat.length - 1] = Number.NaN
    expect(() => saveCheckpoint(join(tmp, 'nan.safetensors'), last, meta)).toThrow(/snapshot at step 6 was changed/)
  })

  it('off, it costs nothing and checks nothing (the default outside the tests)', async () => {
    const was = setImmutabilityCheck(false)
    try {
      const s = (await snapshots())[2]
      s.flat[0] += 1
      expect(saveCheckpoint(join(tmp, 'off.safetensors'), s, meta)).toBeGreaterThan(0)
    } finally {
      setImmutabilityCheck(was)
    }
  })

  it('the fingerprint sees every byte: one flipped bit anywhere changes it', () => {
    const a = new Float32Array(1001).map((_, i) => Math.sin(i))
    const f0 = fingerprint([a])
    const bytes = new Uint8Array(a.buffer)
    for (const at of [0, 1, 2, 3, 517, 4003]) {
      for (const bit of [0, 7]) {
        bytes[at] ^= 1 << bit
        expect(fingerprint([a])).not.toBe(f0)
        bytes[at] ^= 1 << bit
      }
    }
    expect(fingerprint([a])).toBe(f0)
    // Unaligned views and odd lengths are read byte by byte.
    const odd = new Uint8Array(a.buffer, 1, 7)
    const f1 = fingerprint([odd])
    odd[6] ^= 4
    expect(fingerprint([odd])).not.toBe(f1)
  })
})

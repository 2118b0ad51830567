// An independent reader: a file written by gradstream, read in Python with numpy alone
// (no safetensors, no torch: the format is simple enough to parse by hand, and what is
// checked is our bytes, not another library's leniency).
//
// Not part of `npm test` (which needs nothing but Node): `npm run test:python` runs it,
// and .ci/run installs python3-numpy with apt-get first. Without numpy this test fails;
// it never skips quietly.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { saveCheckpoint } from '../../src/io/checkpoint-file.ts'
import { saveSafetensors } from '../../src/io/safetensors-file.ts'
import { dense } from '../../src/models/dense.ts'
import { softmaxCrossEntropy } from '../../src/models/loss.ts'
import type { AnyObjective } from '../../src/models/objective.ts'
import { supervised } from '../../src/models/objective.ts'
import { adam } from '../../src/models/optimizers.ts'
import { sequential } from '../../src/models/sequential.ts'
import { key } from '../../src/core/rng.ts'
import { initialSnapshot } from '../../src/streams/train.ts'

const dir = mkdtempSync(join(tmpdir(), 'gs-python-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const READER = `
import json, struct, sys
import numpy as np
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__", {})
types = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}
out = {}
for name, info in header.items():
    b, e = info["data_offsets"]
    a = np.frombuffer(raw[8 + n + b: 8 + n + e], dtype=types[info["dtype"]]).reshape(info["shape"])
    out[name] = {"shape": list(a.shape), "values": a.flatten().tolist()}
print(json.dumps({"numpy": np.__version__, "meta": meta, "tensors": out}))
`

const readInPython = (path: string) =>
  JSON.parse(execFileSync('python3', ['-c', READER, path], { encoding: 'utf8' })) as {
    numpy: string
    meta: Record<string, string>
    tensors: Record<string, { shape: number[]; values: number[] }>
  }

describe('safetensors files read in Python with numpy', () => {
  it('tensors of three dtypes and the metadata, value for value', () => {
    const path = join(dir, 'py.safetensors')
    const w = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 10)
    const d = Float64Array.from([Math.E, -1 / 3])
    const k = Int32Array.from([3, -4, 5, 6])
    saveSafetensors(path, [
      { name: 'layer.W', shape: [3, 4], data: w },
      { name: 'd', shape: [2], data: d },
      { name: 'k', shape: [2, 2], data: k },
    ], { step: '42' })
    const r = readInPython(path)
    expect(r.numpy).toMatch(/^\d+\./)
    expect(r.meta).toEqual({ step: '42' })
    // float32 -> Python float is exact, so the float32 values themselves compare equal.
    expect(r.tensors['layer.W']).toEqual({ shape: [3, 4], values: Array.from(w) })
    expect(r.tensors.d).toEqual({ shape: [2], values: Array.from(d) })
    expect(r.tensors.k).toEqual({ shape: [2, 2], values: [3, -4, 5, 6] })
  })

  it('a checkpoint: every parameter and optimizer slot under its name, and the run metadata', () => {
    const objective = supervised(sequential(dense(5), dense(3)), softmaxCrossEntropy(), [4]) as AnyObjective
    const optimizer = adam(0.01)
    const s = initialSnapshot(objective, optimizer, key(7))
    if (s._tag === 'Left') throw s.left
    const path = join(dir, 'ck.safetensors')
    saveCheckpoint(path, s.right, { model: objective.spec, optimizer: optimizer.spec })
    const r = readInPython(path)
    expect(r.meta.step).toBe('0')
    const W = r.tensors['fc1.W']
    expect(W.shape).toEqual([4, 5])
    expect(W.values).toEqual(Array.from(s.right.flat.subarray(0, 20)))
    expect(Object.keys(r.tensors).filter((n) => n.startsWith('opt.')).length).toBeGreaterThan(0)
  })
})

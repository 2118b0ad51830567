import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { fromArray } from '../../src/core/tensor.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import { evalCtx } from '../../src/models/layer.ts'
import { layerFromSpec } from '../../src/models/registry.ts'
import { swish } from '../../src/models/swish.ts'
import { activation } from '../../src/models/zoo/mlp.ts'

describe('swish', () => {
  it("is PyTorch's SiLU, x / (1 + e^-x), and passes gradCheck", () => {
    const xs = [-30, -2.5, -1, 0, 0.5, 3, 40]
    const y = swish().forward({}, fromArray([1, xs.length], xs, 'float64'), evalCtx).y
    xs.forEach((x, i) => expect(y.data[i]).toBeCloseTo(x / (1 + Math.exp(-x)), 14))
    const r = gradCheck(swish(), [7], { batch: 3 })
    expect(E.isRight(r) && r.right.worst).toBeLessThan(1e-8)
  })

  it('is a registered activation: spec round-trip, name, and mlp/subsample find it', () => {
    const back = layerFromSpec(swish().spec)
    expect(E.isRight(back) && back.right.spec).toEqual({ type: 'swish' })
    expect(activation('swish').spec).toEqual({ type: 'swish' })
  })
})

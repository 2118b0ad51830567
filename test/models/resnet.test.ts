import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { key } from '../../src/core/rng.ts'
import { countParams, leaves } from '../../src/core/tree.ts'
import { gradCheck } from '../../src/models/gradcheck.ts'
import { layerFromSpec } from '../../src/models/registry.ts'
import { ZOO } from '../../src/models/zoo/index.ts'
import { resnet } from '../../src/models/zoo/resnet.ts'

describe('resnet (zoo)', () => {
  it('maps 28x28x1 digits to 10 logits with the documented parameters and state', () => {
    const init = resnet().init(key(0), [28, 28, 1])
    if (E.isLeft(init)) throw init.left
    expect(init.right.outShape).toEqual([10])
    // conv 160 + BN 32; block 1: 2 x (2,320 + 32); block 2: 4,640 + 64 + 9,248 + 64, projection 544; dense 330
    expect(countParams(init.right.params)).toBe(160 + 32 + 2 * (2320 + 32) + 4640 + 64 + 9248 + 64 + 544 + 330)
    expect(leaves(init.right.state ?? {}).map(([p]) => p)).toEqual([
      'bn1.mean', 'bn1.var',
      'res1.block.bn1.mean', 'res1.block.bn1.var', 'res1.block.bn2.mean', 'res1.block.bn2.var',
      'res2.block.bn1.mean', 'res2.block.bn1.var', 'res2.block.bn2.mean', 'res2.block.bn2.var',
    ])
    const back = layerFromSpec(JSON.parse(JSON.stringify(resnet().spec)))
    expect(E.isRight(back) && back.right.spec).toEqual(resnet().spec)
    expect(ZOO.resnet.build({ hidden: [8] }, [28, 28, 1]).objective.spec).toMatchObject({ kind: 'supervised' })
  })

  it('passes gradCheck in Float64 (a narrow one on 8x8 images)', () => {
    const r = gradCheck(resnet({ widths: [2, 3], dropout: 0.3, classes: 3 }), [8, 8, 1], { batch: 2, floor: 1e-3 })
    if (E.isLeft(r)) throw r.left
    expect(r.right.worst).toBeLessThan(1e-5)
  })
})

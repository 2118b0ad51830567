import { describe, expect, it } from 'vitest'
import { fromArray } from '../../src/core/tensor.ts'
import { addTrees, castTree, countParams, getLeaf, gradMonoid, layoutOf, leaves, ravel, treeFromLeaves, unravel } from '../../src/core/tree.ts'

const t = {
  fc1: { W: fromArray([2, 3], [1, 2, 3, 4, 5, 6]), b: fromArray([3], [7, 8, 9]) },
  fc2: { W: fromArray([3, 1], [10, 11, 12]) },
}

describe('parameter trees', () => {
  it('lists leaves with dotted paths in tree order', () => {
    expect(leaves(t).map(([p]) => p)).toEqual(['fc1.W', 'fc1.b', 'fc2.W'])
    expect(countParams(t)).toBe(12)
    expect(getLeaf(t, 'fc1.b')?.data[2]).toBe(9)
    expect(getLeaf(t, 'fc3.b')).toBeUndefined()
  })

  it('ravels into one buffer and unravels into views of it', () => {
    const { layout, data } = ravel(t)
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    expect(layout.offsets).toEqual([0, 6, 9])
    const back = unravel(layout, data)
    expect(leaves(back).map(([p, x]) => [p, x.shape, Array.from(x.data)])).toEqual(
      leaves(t).map(([p, x]) => [p, x.shape, Array.from(x.data)]),
    )
    // Views share the buffer (one copy per snapshot).
    expect((getLeaf(back, 'fc2.W')?.data as Float32Array).buffer).toBe(data.buffer)
    expect(layoutOf(back)).toEqual(layout)
  })

  it('adds gradient trees as a monoid', () => {
    const M = gradMonoid(t)
    const sum = M.concat(M.concat(M.empty, t), t)
    expect(Array.from(getLeaf(sum, 'fc1.W')!.data)).toEqual([2, 4, 6, 8, 10, 12])
    expect(Array.from(getLeaf(addTrees(M.empty, t), 'fc2.W')!.data)).toEqual([10, 11, 12])
  })

  it('casts every leaf', () => {
    expect(getLeaf(castTree(t, 'float64'), 'fc1.W')!.data).toBeInstanceOf(Float64Array)
  })

  it('refuses paths that could reach Object.prototype', () => {
    expect(() => treeFromLeaves([['__proto__.polluted', fromArray([1], [1])]])).toThrow(/dot-separated names/)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(() => treeFromLeaves([['a.constructor', fromArray([1], [1])]])).toThrow()
  })
})

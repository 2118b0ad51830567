import * as E from 'fp-ts/lib/Either.js'
import { resnet } from './src/models/zoo/resnet.ts'
import { cnn } from './src/models/zoo/cnn.ts'
import { key, uniform } from './src/core/rng.ts'
import type { AnyLayer } from './src/models/layer.ts'
const time = (name: string, m: AnyLayer, inShape: number[], B = 16) => {
  const init = m.init(key(0), inShape)
  if (E.isLeft(init)) throw init.left
  const p = init.right.params
  const x = { shape: [B, ...inShape], data: uniform(key(1), B * inShape.reduce((a, b) => a * b, 1)) as Float32Array }
  const ctx = { training: true, key: key(2) }
  for (let i = 0; i < 3; i++) m.forward(p, x, ctx, init.right.state)
  let t = performance.now()
  const n = 10
  let r
  for (let i = 0; i < n; i++) r = m.forward(p, x, ctx, init.right.state)
  const f = (performance.now() - t) / n
  t = performance.now()
  for (let i = 0; i < n; i++) m.vjp(p, r!.saved, { shape: r!.y.shape, data: new Float32Array(r!.y.data.length).fill(0.01) }).dx
  const b = (performance.now() - t) / n
  console.log(name, 'fwd ms', f.toFixed(2), 'bwd ms', b.toFixed(2), 'samples/s', (B / ((f + b) / 1000)).toFixed(0))
}
time('cnn', cnn(), [28, 28, 1])
const r = resnet()
time('resnet', r, [28, 28, 1])
let shape = [28, 28, 1]
for (const c of r.children) {
  time(c.name, c.layer, shape)
  const o = c.layer.init(key(0), shape)
  if (E.isRight(o)) shape = [...o.right.outShape]
}

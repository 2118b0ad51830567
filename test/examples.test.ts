// The examples stay runnable: each runs as a user would run it (npx tsx examples/<name>.ts).

import { execFileSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const runExample = (name: string, env: Record<string, string> = {}): string =>
  execFileSync(tsx, [join(root, 'examples', name)], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 })

describe('examples', () => {
  it('quickstart (the README example) builds, runs forward and vjp, passes gradCheck and predicts', () => {
    const out = runExample('quickstart.ts')
    expect(out).toMatch(/output shape \[ 10 \]/)
    const loss = Number(/loss (\d+\.\d+)/.exec(out)?.[1])
    expect(loss).toBeGreaterThan(1.5)
    expect(loss).toBeLessThan(4)
    expect(out).toMatch(/grad of fc1.W \[ 36, 10 \]/)
    const worst = Number(/worst relative error (\S+)/.exec(out)?.[1])
    expect(worst).toBeLessThan(1e-6)
    expect(out).toMatch(/predictor matches forward true/)
  })

  it('compose prints every layer shape, the parameter tree and a Left for a bad model', () => {
    const out = runExample('compose.ts')
    expect(out).toMatch(/conv1\s+conv2d\s+\[28, 28, 1\] -> \[24, 24, 8\]/)
    expect(out).toMatch(/head\s+dense\s+\[64\] -> \[10\]/)
    // 5*5*8+8 + 1152*64+64 + 64*10+10
    expect(out).toMatch(new RegExp(`parameters: ${208 + 1152 * 64 + 64 + 650}`))
    expect(out).toMatch(/bad model: conv2 \(conv2d\): expected the kernel height 5 to fit in the input height, got 3/)
    expect(out).toMatch(/lenet5 stored parameters: 61750/)
  })

  it('train-mnist learns on a small subset and evaluates every epoch', () => {
    const out = runExample('train-mnist.ts', { EPOCHS: '2', TRAIN_SAMPLES: '1000' })
    const accs = [...out.matchAll(/test accuracy (\d+\.\d+)%/g)].map((m) => Number(m[1]))
    expect(accs.length).toBe(3) // two epochs and the final line
    expect(accs[1]).toBeGreaterThan(60)
    expect(out).toMatch(/done: step 64,/)
  })

  it('time-travel jumps back to a replayed step, forks with a lower learning rate and compares the branches', () => {
    const out = runExample('time-travel.ts', { EPOCHS: '2', TRAIN_SAMPLES: '640', EVERY: '5' })
    expect(out).toMatch(/trained 20 steps; kept 5 snapshots/)
    expect(out).toMatch(/loss at step 7: \d\.\d{4} \(replayed from step 5; the live run logged \d\.\d{4}: identical\)/)
    expect(out).toMatch(/steps\s+original \(lr 0\.1\)\s+fork \(lr 0\.01\)/)
    const rows = [...out.matchAll(/^(\d+)-(\d+)\s+(\d\.\d{4})\s+(\d\.\d{4})$/gm)]
    expect(rows.length).toBe(13) // steps 8..20, one per row
    expect(rows[0][3]).toBe(rows[0][4]) // step 8 trains from the same snapshot in both branches
    expect(out).toMatch(/the branches end \d+\.\d{4} apart/)
  })

  it('online-mnist learns a digit stream prequentially and recovers after the labels drift', () => {
    const out = runExample('online-mnist.ts', { ONLINE_MNIST_SAMPLES: '2000' })
    const plain = Number(/no drift: prequential accuracy (\d\.\d{4}) over 2000 digits/.exec(out)?.[1])
    expect(plain).toBeGreaterThan(0.6)
    expect(plain).toBeLessThan(0.95)
    const m = /before the drift (\d\.\d{3}), right after it (\d\.\d{3}), at the end (\d\.\d{3})/.exec(out)
    const [before, after, end] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])]
    expect(after).toBeLessThan(before - 0.3) // the drift breaks the model...
    expect(end).toBeGreaterThan(after + 0.3) // ...and it relearns
    expect(out).toMatch(/1000 {2}\d\.\d{3} #+ {3}<- drift/)
  })

  it('features trains an RBM and an autoencoder, then softmax classifiers on their features and on pixels', () => {
    const out = runExample('features.ts', { FEATURES_TRAIN: '100', FEATURES_EPOCHS: '3', FEATURES_PRETRAIN_EPOCHS: '6' })
    expect(out).toMatch(/^1000 training digits, 2000 test digits$/m)
    const recon = [...out.matchAll(/test reconstruction error (\d+\.\d\d)/g)].map((m) => Number(m[1]))
    expect(recon.length).toBe(2)
    expect(recon[0]).toBeLessThan(55) // the RBM, from about 66 for the bias-only model
    expect(recon[1]).toBeLessThan(40) // the autoencoder
    const acc = (what: string) => Number(new RegExp(`softmax on ${what} \\(\\d+\\), 3 epochs: test accuracy (\\d+\\.\\d\\d)%`).exec(out)?.[1])
    for (const what of ['RBM hidden probabilities', 'autoencoder codes', 'raw pixels']) expect(acc(what)).toBeGreaterThan(60)
  })
})

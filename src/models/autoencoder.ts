// Tied-weight autoencoder as a Layer: x [B, m] -> reconstruction [B, m], with
// hidden = sigma(x W + b), reconstruction = sigma(hidden W^T + b_hat)
// (deep-learning-lecture-notes eqs 55-60). Train it with the Euclidean loss against
// its own input: the layer's vjp sums the encoder and decoder paths into dW (eqs
// 57-58). With `corruption` > 0 it is a denoising autoencoder: in training mode each
// input unit is zeroed with that probability (masking noise drawn from the forward's
// key); the loss still compares with the clean input.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { LayerError } from '../core/errors.ts'
import { gemm } from '../ops/gemm.ts'
import { tiedAutoencoderBackward, tiedAutoencoderForward } from '../ops/autoencoder.ts'
import { uniform } from '../core/rng.ts'
import type { Tensor } from '../core/tensor.ts'
import { alloc, dtypeOf, showShape } from '../core/tensor.ts'
import { glorotUniform, zeroBias } from './init.ts'
import type { Layer } from './layer.ts'
import { checkCotangent, checkSameDtype, expectNumber, expectRank } from './layer.ts'
import { withLazyDx } from './lazy.ts'
import { defineLayer } from './define.ts'

export type TiedAutoencoderParams = { readonly W: Tensor; readonly b: Tensor; readonly b_hat: Tensor }

export interface TiedAutoencoderSaved {
  /** The encoder's input (the corrupted x in denoising training). */
  readonly input: Tensor
  readonly hidden: Tensor
  readonly reconstruction: Tensor
  /** 1 where an input unit was kept, 0 where the masking noise dropped it (null: none). */
  readonly mask: Uint8Array | null
}

export interface TiedAutoencoderOptions {
  readonly hidden: number
  /** Masking-noise probability for the denoising variant (default 0). */
  readonly corruption?: number
}

const create = (options: TiedAutoencoderOptions): Layer<TiedAutoencoderParams, TiedAutoencoderSaved> => {
  const name = 'tied_autoencoder'
  const n = options.hidden
  const corruption = options.corruption ?? 0
  const check = (p: TiedAutoencoderParams, x: Tensor): [number, number] => {
    const m = p.W.shape[0]
    if (x.shape.length !== 2 || x.shape[1] !== m || x.shape[0] < 1)
      throw new LayerError(name, `expected input of shape [B, ${m}], got ${showShape(x.shape)}`)
    checkSameDtype(name, x, p.W, 'W')
    return [x.shape[0], m]
  }
  return {
    spec: { type: name, hidden: n, activation: 'sigmoid', corruption },
    init: (key, inShape) =>
      pipe(
        expectNumber(name, 'hidden', n, (v) => Number.isInteger(v) && v > 0, 'a positive integer'),
        E.chain(() => expectNumber(name, 'corruption', corruption, (v) => v >= 0 && v < 1, 'in [0, 1)')),
        E.chain(() => expectRank(name, inShape, 1, '[features]')),
        E.map(([m]) => ({
          params: { W: glorotUniform(key, [m, n], m, n), b: zeroBias(n), b_hat: zeroBias(m) },
          outShape: [m],
        })),
      ),
    forward: (p, x, ctx) => {
      const [B, m] = check(p, x)
      const dt = dtypeOf(x.data)
      let input = x
      let mask: Uint8Array | null = null
      if (ctx.training && corruption > 0) {
        const u = uniform(ctx.key, x.data.length, 'float64')
        const xc = alloc(dt, x.data.length)
        mask = new Uint8Array(x.data.length)
        for (let i = 0; i < xc.length; i++) {
          mask[i] = u[i] < corruption ? 0 : 1
          xc[i] = mask[i] * x.data[i]
        }
        input = { shape: x.shape, data: xc }
      }
      const h = alloc(dt, B * n)
      const r = alloc(dt, B * m)
      tiedAutoencoderForward(h, r, input.data, p.W.data, p.b.data, p.b_hat.data, B, m, n)
      const reconstruction = { shape: x.shape, data: r }
      return { y: reconstruction, saved: { input, hidden: { shape: [B, n], data: h }, reconstruction, mask } }
    },
    vjp: (p, s, dy) => {
      const [B, m] = check(p, s.input)
      checkCotangent(name, dy, s.input.shape)
      const dt = dtypeOf(dy.data)
      const dW = alloc(dt, m * n)
      const db = alloc(dt, n)
      const dbHat = alloc(dt, m)
      const dpr = alloc(dt, B * m)
      const dz = alloc(dt, B * n)
      tiedAutoencoderBackward(dW, db, dbHat, dpr, dz, dy.data, s.input.data, s.hidden.data, s.reconstruction.data, p.W.data, B, m, n)
      return withLazyDx(
        { W: { shape: p.W.shape, data: dW }, b: { shape: p.b.shape, data: db }, b_hat: { shape: p.b_hat.shape, data: dbHat } },
        () => {
          // dx = dz W^T through the encoder (the masking noise, if any, passes the
          // gradient only where the unit was kept).
          const dx = alloc(dt, B * m)
          gemm(dx, dz, p.W.data, B, m, n, false, true)
          const mask = s.mask
          if (mask !== null) for (let i = 0; i < dx.length; i++) dx[i] *= mask[i]
          return { shape: s.input.shape, data: dx }
        },
      )
    },
  }
}

/** The encoder half as dense-layer parameters {W, b}: pretraining for an MLP's first layer. */
export const encoderParams = (p: TiedAutoencoderParams): { readonly W: Tensor; readonly b: Tensor } => ({ W: p.W, b: p.b })

/** Denoising (corruption > 0) draws its masks from the forward key in training. */
export const tiedAutoencoder = defineLayer({
  type: 'tied_autoencoder',
  stochastic: (spec) => typeof spec.corruption === 'number' && spec.corruption > 0,
  create,
  fromSpec: (s) => {
    s.oneOf('activation', ['sigmoid'], 'sigmoid')
    return [{ hidden: s.num('hidden'), corruption: s.num('corruption', 0) }] as const
  },
})

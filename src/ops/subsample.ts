// LeNet's trainable subsampling ("average polymerization", cnn-derivation-lenet section 2.2.1):
// each map c sums its non-overlapping n x n blocks, scales the sum by a trainable beta[c] and
// adds a trainable bias b[c]. The activation that follows is applied by the caller with the
// kernels of ops/activations.ts. x [B,H,W,C] (H, W divisible by n), z and s [B,H/n,W/n,C].

import type { F } from '../core/tensor.ts'

// s[n,i,j,c] = sum_{p,q<n} x[n, i*n+p, j*n+q, c]   (down(x): a SUM, not a mean)
// z[n,i,j,c] = beta[c] s[n,i,j,c] + b[c]                            (cnn-derivation-lenet eq 2)
export function subsampleForward(
  z: F,
  s: F,
  x: F,
  beta: F,
  b: F,
  B: number,
  H: number,
  W: number,
  C: number,
  n: number,
): void {
  const Ho = H / n
  const Wo = W / n
  for (let m = 0, o = 0; m < B; m++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++, o += C) {
        const corner = ((m * H + i * n) * W + j * n) * C
        for (let c = 0; c < C; c++) {
          let sum = 0
          for (let p = 0; p < n; p++) {
            const row = corner + p * W * C + c
            for (let q = 0; q < n; q++) sum += x[row + q * C]
          }
          s[o + c] = sum
          z[o + c] = beta[c] * sum + b[c]
        }
      }
}

// Given dz = dE/dz [B,Ho,Wo,C] (the activation's vjp already applied, cnn-derivation-lenet eq 4),
// over rows = B*Ho*Wo pixels:
//   db[c]    = sum_{n,i,j} dz[n,i,j,c]                                 (cnn-derivation-lenet eqs 19-20)
//   dbeta[c] = sum_{n,i,j} dz[n,i,j,c] s[n,i,j,c]                      (cnn-derivation-lenet eqs 21-22)
// dbeta and db are overwritten; the sums run in double precision.
export function subsampleBackwardParams(dbeta: F, db: F, dz: F, s: F, rows: number, C: number): void {
  for (let c = 0; c < C; c++) {
    let sb = 0
    let sbeta = 0
    for (let r = 0, o = c; r < rows; r++, o += C) {
      sb += dz[o]
      sbeta += dz[o] * s[o]
    }
    db[c] = sb
    dbeta[c] = sbeta
  }
}

// dx[n, i*n+p, j*n+q, c] = beta[c] dz[n,i,j,c]: up(beta dz), each value copied over its n x n
// block (cnn-derivation-lenet eq 6, with the activation's derivative already in dz).
// dx [B,H,W,C] is overwritten (the blocks tile the image).
export function subsampleBackwardInput(
  dx: F,
  dz: F,
  beta: F,
  B: number,
  H: number,
  W: number,
  C: number,
  n: number,
): void {
  const Ho = H / n
  const Wo = W / n
  for (let m = 0, o = 0; m < B; m++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++, o += C) {
        const corner = ((m * H + i * n) * W + j * n) * C
        for (let p = 0; p < n; p++)
          for (let q = 0; q < n; q++) {
            const d = corner + (p * W + q) * C
            for (let c = 0; c < C; c++) dx[d + c] = beta[c] * dz[o + c]
          }
      }
}

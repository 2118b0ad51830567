// A regressor's targets where a classifier's labels go: a LabelMap (io/records.ts) whose
// lookup reads the label column as a number (a JSON number or numeric text) instead of a
// class. The record decoders then yield examples whose `label` is the target, and
// online() reads it as one (OnlineExample.target ?? label). A missing target is a
// 'missing label' rejection; a non-numeric or non-finite one an 'invalid label'.

import * as E from 'fp-ts/lib/Either.js'
import type { RejectReason } from '../io/records.ts'
import { LabelMap, numeric } from '../io/records.ts'

export class NumericTargets extends LabelMap {
  constructor() {
    super(undefined)
  }
  override get classes(): readonly string[] {
    return []
  }
  override get count(): number {
    return 0
  }
  override lookup(raw: unknown): E.Either<RejectReason, number> {
    if (raw === undefined || raw === null || raw === '') return E.left('missing label')
    const n = numeric(raw)
    return E.isLeft(n) ? E.left(n.left === 'missing field' ? 'missing label' : 'invalid label') : n
  }
}

// Reference figures of WORKLOADS.md ("this kind of machine, 2 cores, one thread unless
// said"), printed next to ours so a reader sees at once whether a run is in the
// expected range.

import type { Reference } from './report.ts'

export const REFERENCE = {
  w1n512: { tfjsCpu: '0.92', tfjsWasm: '32.7', plainJs: '4.1 (4x4 tile)' },
  w2Speed: { tfjsCpu: '650', tfjsWasm: '3,460', plainJs: '2,750' },
  w2Acc: { tfjsCpu: '0.885', plainJs: '0.887' },
  w3Speed: { tfjsCpu: '21-24', tfjsWasm: 'cannot train', plainJs: '1,120' },
  w3Acc1: { tfjsCpu: '0.902', plainJs: '0.917' },
  w3Acc3: { tfjsCpu: '0.947', plainJs: '0.947' },
  w4Speed: { tfjsCpu: '390', tfjsWasm: '1,000-1,340', plainJs: '4,500; 11,000 fused' },
  w4Acc: { tfjsCpu: '0.858', plainJs: '0.865' },
  w5Median: { tfjsCpu: '1,205', tfjsWasm: '97', plainJs: '259' },
} as const satisfies { readonly [k: string]: Reference }

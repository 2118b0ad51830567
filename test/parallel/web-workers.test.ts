// The browser entry's train in Node: no Web Workers here, so `threads: 2` trains on one
// thread with a notice naming why, and the same bits as Node's worker threads.

import { describe, expect, it } from 'vitest'
import * as core from '../../src/index.ts'
import * as node from '../../src/node.ts'
import { trainSmall } from '../package/consumer/train-small.mjs'

describe('webWorkers outside a browser', () => {
  it("says why it cannot run, and the core entry's train falls back to one thread with the same bits", async () => {
    expect(core.training.webThreadsUnavailable()).toMatch(/^no Web Workers in this runtime/)
    const notices: string[] = []
    const info = console.info
    console.info = (line: string) => void notices.push(line)
    let fallback: Awaited<ReturnType<typeof trainSmall>>
    try {
      fallback = await trainSmall(core, { threads: 2 })
    } finally {
      console.info = info
    }
    expect(notices).toEqual([
      'gradstream: training on one thread instead of 2: no Web Workers in this runtime (in Node, the Node entry trains on worker threads) (same bits, threads never change them)',
    ])
    const threads = await trainSmall(node, { threads: 2 })
    expect(fallback.hash).toBe(threads.hash)
    expect(fallback.steps).toBe(36)
  })
})

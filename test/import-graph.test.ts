// Dependencies point one way (DESIGN.md, Layout):
//   core <- ops <- models <- io <- streams <- parallel <- cli <- server <- api <- entry files
// (the dashboard server reads run directories through the CLI's run definitions)
// and there is no import cycle. The imports of every file under src/ are read with the
// TypeScript compiler's own pre-processor (static imports, re-exports, dynamic import()),
// resolved to files, and checked; a failure prints the offending edges.

import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const SRC = resolve(import.meta.dirname, '../src')

/** Rank of each directory of src/: a file may import only from its own rank or below. */
const RANK: { readonly [dir: string]: number } = {
  core: 0,
  ops: 1,
  models: 2,
  io: 3,
  streams: 4,
  parallel: 5,
  cli: 6,
  server: 7,
  // the public API's namespace barrels (re-exports only), which the entry files export
  api: 8,
}
/** Files directly in src/ (index.ts, cli.ts, other entries) sit above everything. */
const ENTRY = 9

export type Edge = readonly [from: string, to: string]

const areaOf = (file: string): string => {
  const parts = file.split('/')
  return parts.length === 1 ? '(entry)' : parts[0]
}

const rankOf = (file: string): number => {
  const area = areaOf(file)
  if (area === '(entry)') return ENTRY
  const r = RANK[area]
  if (r === undefined) throw new Error(`import graph: src/${area}/ has no rank; add it to RANK (DESIGN.md, Layout)`)
  return r
}

const isZoo = (file: string): boolean => file.startsWith('models/zoo/')

/** Why an edge breaks the layering, or undefined if it is allowed. */
export const backEdge = ([from, to]: Edge): string | undefined => {
  const rf = rankOf(from)
  const rt = rankOf(to)
  if (rt > rf) return `${areaOf(from)} may not import ${areaOf(to)}`
  if (rt === rf && areaOf(from) !== areaOf(to)) return `${areaOf(from)} and ${areaOf(to)} are siblings`
  if (from.startsWith('models/') && !isZoo(from) && isZoo(to)) return 'models/ core may not import the zoo'
  return undefined
}

/** The cycles of a graph: its strongly connected components of more than one file (or a self-loop). */
export const cycles = (edges: readonly Edge[]): string[][] => {
  const next = new Map<string, string[]>()
  for (const [a, b] of edges) {
    if (!next.has(a)) next.set(a, [])
    if (!next.has(b)) next.set(b, [])
    next.get(a)!.push(b)
  }
  // Tarjan's algorithm, iterative (no recursion limit on long chains).
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const out: string[][] = []
  let counter = 0
  for (const root of [...next.keys()].sort()) {
    if (index.has(root)) continue
    const work: Array<[string, number]> = [[root, 0]]
    while (work.length > 0) {
      const top = work[work.length - 1]
      const [v, i] = top
      if (i === 0) {
        index.set(v, counter)
        low.set(v, counter)
        counter++
        stack.push(v)
        onStack.add(v)
      }
      const succ = next.get(v)!
      if (i < succ.length) {
        top[1] = i + 1
        const w = succ[i]
        if (!index.has(w)) work.push([w, 0])
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
        continue
      }
      work.pop()
      if (work.length > 0) {
        const parent = work[work.length - 1][0]
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!))
      }
      if (low.get(v) === index.get(v)) {
        const scc: string[] = []
        let w: string
        do {
          w = stack.pop()!
          onStack.delete(w)
          scc.push(w)
        } while (w !== v)
        if (scc.length > 1 || succ.includes(v)) out.push(scc.sort())
      }
    }
  }
  return out
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.(ts|mts)$/.test(e.name) ? [join(dir, e.name)] : [],
  )

/** Every import of a file under src/ that points into src/, as paths relative to src/. */
const importsOf = (file: string): Edge[] => {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  const from = relative(SRC, file)
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => [from, relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts')] as const)
}

const graph = (): Edge[] => sourceFiles(SRC).flatMap(importsOf)

const show = (edges: readonly Edge[]): string => edges.map((e) => `  src/${e[0]} -> src/${e[1]}: ${backEdge(e)}`).join('\n')

describe('the import graph of src/', () => {
  it('points one way: core <- ops <- models <- io <- streams <- parallel <- server <- cli', () => {
    const edges = graph()
    expect(edges.length).toBeGreaterThan(200)
    const bad = edges.filter((e) => backEdge(e) !== undefined)
    expect(bad, `back edges:\n${show(bad)}`).toEqual([])
  })

  it('has no import cycle', () => {
    const found = cycles(graph())
    expect(found, `cycles:\n${found.map((c) => `  ${c.join(' <-> ')}`).join('\n')}`).toEqual([])
  })

  it('flags back edges, sibling edges and the zoo, and finds cycles (the checker itself)', () => {
    expect(backEdge(['streams/train.ts', 'parallel/pool.ts'])).toBe('streams may not import parallel')
    expect(backEdge(['io/mnist.ts', 'streams/source.ts'])).toBe('io may not import streams')
    expect(backEdge(['models/objective-spec.ts', 'models/zoo/autoencoder.ts'])).toBe('models/ core may not import the zoo')
    expect(backEdge(['models/zoo/cnn.ts', 'models/dense.ts'])).toBeUndefined()
    expect(backEdge(['cli/train-command.ts', 'parallel/threads.ts'])).toBeUndefined()
    expect(backEdge(['index.ts', 'cli/usage.ts'])).toBeUndefined()
    expect(backEdge(['core/tree.ts', 'ops/gemm.ts'])).toBe('core may not import ops')
    expect(
      cycles([
        ['a', 'b'],
        ['b', 'c'],
        ['c', 'a'],
        ['c', 'd'],
        ['e', 'e'],
      ]),
    ).toEqual([['a', 'b', 'c'], ['e']])
    expect(cycles([['a', 'b'], ['b', 'c']])).toEqual([])
  })
})

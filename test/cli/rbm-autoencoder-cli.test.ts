import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { filterImage, reconstructionImage, tileShape } from '../../src/cli/pictures.ts'
import { prepareRun } from '../../src/cli/run-config.ts'
import { parseTrainFlags, runTraining } from '../../src/cli/train-command.ts'
import { decodePng, encodePng, writePng } from '../../src/io/png.ts'

const dir = mkdtempSync(join(tmpdir(), 'gradstream-rbm-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const sink = () => {
  let text = ''
  const stream = { write: (s: string) => ((text += s), true), isTTY: false, columns: 100 } as unknown as NodeJS.WriteStream
  return { stream, text: () => text }
}

const train = async (args: string[]) => {
  const out = sink()
  const flags = parseTrainFlags(args)
  const summary = await runTraining(prepareRun(flags.config), flags, { stdout: out.stream, stderr: out.stream })
  return { summary, text: out.text() }
}

const png = (path: string) => decodePng(readFileSync(path))

describe('PNG pictures', () => {
  it('encode/decode round-trips an 8-bit grayscale image; the file is a PNG', () => {
    const img = { width: 3, height: 2, pixels: Uint8Array.from([0, 50, 100, 150, 200, 255]) }
    const path = join(dir, 'tiny.png')
    writePng(path, img)
    const bytes = readFileSync(path)
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    expect(bytes.equals(encodePng(img))).toBe(true)
    const back = decodePng(bytes)
    expect([back.width, back.height]).toEqual([3, 2])
    expect([...back.pixels]).toEqual([...img.pixels])
    expect(() => encodePng({ width: 2, height: 2, pixels: new Uint8Array(3) })).toThrow(/expected 4 pixels for 2x2, got 3/)
  })

  it('filters: one tile per hidden unit, each scaled to its own min..max, in a grid', () => {
    // W [4, 2]: two 2x2 filters; column 0 is 1, 2, 3, 4 and column 1 is constant.
    const W = { shape: [4, 2], data: Float32Array.from([1, 7, 2, 7, 3, 7, 4, 7]) }
    const img = filterImage(W, 1)
    expect([img.width, img.height]).toEqual([2 * 3 + 1, 3 + 1])
    const at = (x: number, y: number) => img.pixels[y * img.width + x]
    expect([at(1, 1), at(2, 1), at(1, 2), at(2, 2)]).toEqual([0, 85, 170, 255])
    expect([at(4, 1), at(5, 2)]).toEqual([128, 128])
    expect(tileShape(784)).toEqual([28, 28])
    expect(tileShape(10)).toEqual([1, 10])
  })

  it('reconstructions: each input beside its reconstruction', () => {
    const x = { shape: [2, 4], data: Float32Array.from([0, 1, 0, 1, 1, 1, 0, 0]) }
    const r = { shape: [2, 4], data: Float32Array.from([0.5, 0.5, 0.5, 0.5, 1, 1, 0, 0]) }
    const img = reconstructionImage(x, r, 2, 1)
    expect([img.width, img.height]).toEqual([4 * 3 + 1, 3 + 1])
    const at = (px: number, py: number) => img.pixels[py * img.width + px]
    expect([at(1, 1), at(2, 1), at(4, 1), at(5, 1)]).toEqual([0, 255, 128, 128])
  })
})

describe('gradstream train --model rbm / autoencoder', () => {
  it('rbm: per-epoch reconstruction error, PLL and free-energy gap; filters and reconstructions in the run directory', async () => {
    const out = join(dir, 'rbm')
    const { summary, text } = await train(['--model', 'rbm', '--hidden', '16', '--epochs', '1', '--cd-k', '2', '--out', out])
    expect(text).toMatch(
      /epoch 1\/1: reconstruction error train \d+\.\d\d \/ test (\d+\.\d\d), pseudo-log-likelihood train -\d+\.\d\d \/ test -\d+\.\d\d, free-energy gap [+-]\d+\.\d\d/,
    )
    const recon = Number(/\/ test (\d+\.\d\d), pseudo/.exec(text)?.[1])
    expect(recon).toBeGreaterThan(5)
    expect(recon).toBeLessThan(60) // the bias-only model is at about 66
    expect(text).toMatch(/final test reconstruction error \d+\.\d\d after 1 epochs/)
    expect(summary.testLoss).toBeCloseTo(recon, 2)
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))
    expect(config.cdK).toBe(2)
    const row = JSON.parse(readFileSync(join(out, 'epochs.ndjson'), 'utf8').trim())
    expect(Object.keys(row.monitor).sort()).toEqual(
      ['freeEnergyGap', 'freeEnergyTest', 'freeEnergyTrain', 'pllTest', 'pllTrain', 'reconTest', 'reconTrain'].sort(),
    )
    // 16 filters: a 4 x 4 grid of 28x28 tiles with 1-pixel gaps, magnified twice
    const filters = png(join(out, 'filters.png'))
    expect([filters.width, filters.height]).toEqual([(4 * 29 + 1) * 2, (4 * 29 + 1) * 2])
    expect(new Set(filters.pixels).size).toBeGreaterThan(100)
    // 20 test digits, two per class, each beside its reconstruction: 2 rows of 10 pairs
    const recons = png(join(out, 'reconstructions.png'))
    expect([recons.width, recons.height]).toEqual([(20 * 29 + 1) * 2, (2 * 29 + 1) * 2])
  }, 60_000)

  it('autoencoder: reconstruction error per epoch and the pictures', async () => {
    const out = join(dir, 'ae')
    const { text } = await train(['--model', 'autoencoder', '--hidden', '8', '--epochs', '1', '--corruption', '0.2', '--out', out])
    const m = /epoch 1\/1: train loss (\d+\.\d+), test loss (\d+\.\d+), reconstruction error train (\d+\.\d\d) \/ test (\d+\.\d\d)/.exec(text)
    expect(m).not.toBeNull()
    expect(Number(m![4])).toBeCloseTo(2 * Number(m![2]), 1)
    const filters = png(join(out, 'filters.png'))
    expect([filters.width, filters.height]).toEqual([(4 * 29 + 1) * 2, (2 * 29 + 1) * 2])
  }, 60_000)

  it('model-specific flags are refused for other models', () => {
    expect(() => parseTrainFlags(['--model', 'mlp', '--cd-k', '2'])).toThrow(/--cd-k and --pcd apply to --model rbm/)
    expect(() => parseTrainFlags(['--model', 'rbm', '--corruption', '0.1'])).toThrow(/--corruption applies to --model autoencoder/)
    expect(() => parseTrainFlags(['--model', 'autoencoder', '--corruption', '1.5'])).toThrow(/--corruption: expected a number in \[0, 1\)/)
    expect(parseTrainFlags(['--model', 'rbm', '--pcd']).config.persistent).toBe(true)
  })
})

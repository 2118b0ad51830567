import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cli } from './run-cli.ts'

const root = resolve(import.meta.dirname, '..', '..')
const fixture = (name: string) => join(root, 'test', 'fixtures', name)


describe('gradstream train', () => {
  it('trains an MLP on a CSV file and ends with a JSON summary line; --out writes metrics and summary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gs-train-'))
    const r = await cli(['train', '--model', 'mlp', '--hidden', '16', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '20', '--batch', '8', '--lr', '0.1', '--shift', '0', '--out', dir, '--json'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/skipped 5 bad rows/)
    expect(r.stdout).toMatch(/line 20: wrong field count/)
    const lines = r.stdout.trim().split('\n')
    const summary = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>
    for (const k of ['model', 'params', 'epochs', 'steps', 'seconds', 'testLoss', 'testAccuracy', 'hash']) expect(summary).toHaveProperty(k)
    expect(summary.model).toBe('mlp')
    expect(summary.params).toBe(3 * 16 + 16 + 16 * 3 + 3)
    expect(summary.steps).toBe(20 * 15)
    expect(summary.testAccuracy).toBeGreaterThan(0.9)
    expect(summary.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(r.stdout).toMatch(/epoch 20\/20: train loss/)
    expect(r.stdout).toMatch(/\* train loss {3}o test loss/)
    const metrics = readFileSync(join(dir, 'metrics.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; lr: number })
    expect(metrics.length).toBe(300)
    expect(metrics[299].step).toBe(300)
    expect(metrics.every((m) => Number.isFinite(m.loss) && m.lr > 0)).toBe(true)
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).hash).toBe(summary.hash)
    // The same command again: the same final parameters.
    const again = await cli(['train', '--model', 'mlp', '--hidden', '16', '--data', fixture('flowers.csv'), '--label', 'species', '--epochs', '20', '--batch', '8', '--lr', '0.1', '--shift', '0', '--json'])
    const lines2 = again.stdout.trim().split('\n')
    expect((JSON.parse(lines2[lines2.length - 1]) as { hash: string }).hash).toBe(summary.hash)
  })

  it('rejects bad input with one line on stderr and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['train', '--model', 'vgg16'], /--model: expected one of cnn, lenet5, mlp, cnn1, cnn2.*got "vgg16"/],
      [['train', '--epochs', 'many'], /--epochs: expected an integer >= 1, got "many"/],
      [['train', '--lr=-1'], /--lr: expected a positive number, got "-1"/],
      [['train', '--bogus'], /unknown flag --bogus; expected one of --model, --hidden/],
      [['train', '--epoch', '3'], /^gradstream train: unknown flag --epoch; did you mean --epochs\?\n$/],
      [['train', '--model', 'mlp', '--data', fixture('missing.csv'), '--label', 'x', '--shift', '0'], /could not read .*missing.csv: no such file or directory \(ENOENT\)/],
      [['train', '--model', 'mlp', '--data', fixture('flowers.csv'), '--label', 'kind', '--shift', '0'], /expected a label column named "kind"/],
      [['train', '--model', 'cnn', '--data', fixture('flowers.csv'), '--label', 'species'], /expects 28x28x1 images/],
      [['frobnicate'], /expected a command/],
    ]
    for (const [args, message] of cases) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n').length).toBe(1)
    }
  })

  it('exits 2 without a stack trace as a real process', () => {
    const r = spawnSync(join(root, 'bin', 'gradstream.js'), ['train', '--epochs', '0'], { encoding: 'utf8' })
    expect(r.status).toBe(2)
    expect(r.stderr.trim()).toBe('gradstream train: --epochs: expected an integer >= 1, got "0"')
    expect(r.stdout).toBe('')
  })
})

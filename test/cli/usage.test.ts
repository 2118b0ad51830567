// --help on every command, and unknown flags or commands answered with the closest valid name.

import { describe, expect, it } from 'vitest'
import { closestName, editDistance } from '../../src/cli/usage.ts'
import { cli } from './run-cli.ts'

const COMMANDS = ['train', 'online', 'resume', 'replay', 'fork', 'inspect', 'evaluate', 'predict', 'export']

describe('help and suggestions', () => {
  it('edit distance counts insertions, deletions, substitutions and swaps', () => {
    expect(editDistance('epoch', 'epochs')).toBe(1)
    expect(editDistance('optimiser', 'optimizer')).toBe(1)
    expect(editDistance('trian', 'train')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'lr')).toBe(2)
  })

  it('suggests a near name, or a unique prefix, and nothing for a distant one', () => {
    const flags = ['epochs', 'lr', 'checkpoint-every', 'threads']
    expect(closestName('epoch', flags)).toBe('epochs')
    expect(closestName('chekpoint-every', flags)).toBe('checkpoint-every')
    expect(closestName('e', flags)).toBe('epochs')
    expect(closestName('lr0', flags)).toBe('lr')
    expect(closestName('x', flags)).toBeUndefined()
    expect(closestName('bogus', flags)).toBeUndefined()
  })

  it('every command prints its own usage for --help and -h, and help COMMAND does too', async () => {
    for (const c of COMMANDS)
      for (const args of [[c, '--help'], [c, '-h'], ['help', c]]) {
        const r = await cli(args)
        expect(r.code, args.join(' ')).toBe(0)
        expect(r.stdout.startsWith(`usage: gradstream ${c}`), args.join(' ')).toBe(true)
        expect(r.stderr).toBe('')
      }
    const all = await cli(['--help'])
    expect(all.code).toBe(0)
    for (const c of COMMANDS) expect(all.stdout).toContain(`usage: gradstream ${c}`)
  })

  it('an unknown flag names the closest valid one, on one line with exit code 2, for every command', async () => {
    const cases: Array<[string[], string]> = [
      [['train', '--epoch', '3'], 'gradstream train: unknown flag --epoch; did you mean --epochs?'],
      [['train', '--optimiser=adam'], 'gradstream train: unknown flag --optimiser; did you mean --optimizer?'],
      [['online', '--windw', '5'], 'gradstream online: unknown flag --windw; did you mean --window?'],
      [['replay', 'DIR', '--stpe', '3'], 'gradstream replay: unknown flag --stpe; did you mean --step?'],
      [['fork', 'DIR', '--ouy', 'x'], 'gradstream fork: unknown flag --ouy; did you mean --out?'],
      [['resume', 'DIR', '--jsn'], 'gradstream resume: unknown flag --jsn; did you mean --json?'],
      [['inspect', 'F', '--jason'], 'gradstream inspect: unknown flag --jason; did you mean --json?'],
      [['trian'], 'gradstream trian: expected a command (train, online, '],
    ]
    for (const [args, line] of cases) {
      const r = await cli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n').length, args.join(' ')).toBe(1)
      expect(r.stderr.startsWith(line), `${args.join(' ')}: ${r.stderr}`).toBe(true)
    }
    expect((await cli(['trian'])).stderr).toMatch(/did you mean train\?\n$/)
    // Nothing close: the valid flags are listed.
    expect((await cli(['replay', 'DIR', '--zzzzzz'])).stderr).toBe('gradstream replay: unknown flag --zzzzzz; expected one of --step, --json\n')
  })
})

// `gradstream export RUN_DIR|FILE.safetensors --to DIR [--format pytorch]`: the trained
// network for PyTorch: DIR/model.safetensors in PyTorch's layouts and names, and
// DIR/model.py defining the same network (export-pytorch.ts). Both files are written
// atomically, so DIR never holds half a file.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../io/atomic-write.ts'
import { encodeSafetensors } from '../io/safetensors.ts'
import { exportPytorch } from './export-pytorch.ts'
import type { Io } from './io.ts'
import { describeModel, loadTrainedModel } from './trained-model.ts'
import { choiceFlag, parseFlags, UsageError } from './usage.ts'

export const EXPORT_USAGE = `usage: gradstream export RUN_DIR|FILE.safetensors --to DIR [--format pytorch]
Writes DIR/model.safetensors (PyTorch layouts: conv weights [out, in, kh, kw], linear
weights [out, in], names layers.<i>.weight) and DIR/model.py, the same network as a
torch.nn.Module (NCHW images or raw feature rows in, logits out) with load(path) -> Model.`

const FLAGS = {
  to: { type: 'string' },
  format: { type: 'string' },
} as const

export const exportCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values: v, positionals } = parseFlags(args, FLAGS, true)
  if (positionals.length !== 1)
    throw new UsageError(`expected one run directory or .safetensors file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  if (typeof v.to !== 'string') throw new UsageError('--to: expected the directory to write model.safetensors and model.py into')
  choiceFlag('format', v.format, ['pytorch'] as const)
  const m = loadTrainedModel(positionals[0])
  const classes = m.input?.classes ?? []
  const exported = exportPytorch({
    spec: m.checkpoint.model,
    params: m.params,
    classes,
    scaling: m.input?.scaling,
    origin: `${m.checkpoint.file} (${describeModel(m)})`,
  })
  const bytes = encodeSafetensors(exported.tensors, {
    format: 'pt',
    gradstream_model: JSON.stringify(m.checkpoint.model),
    classes: JSON.stringify(classes),
  })
  mkdirSync(v.to, { recursive: true })
  const weights = join(v.to, 'model.safetensors')
  const source = join(v.to, 'model.py')
  writeFileAtomic(weights, bytes)
  writeFileAtomic(source, exported.python)
  const inShape = exported.inputShape.length === 3 ? `NCHW images [N, ${exported.inputShape.join(', ')}]` : `feature rows [N, ${exported.inputShape[0]}]`
  io.stdout.write(
    `gradstream export: ${describeModel(m)} -> ${weights} (${exported.tensors.length} tensors, ${bytes.length.toLocaleString('en-US')} bytes) and ${source}\n` +
      `  Model: ${inShape} -> logits [N, ${classes.length || 'classes'}]; in Python: from model import load; model = load("${weights}")\n`,
  )
}

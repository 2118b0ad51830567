// `gradstream inspect FILE.safetensors [--json]`: lists a safetensors file's tensors
// (name, dtype, shape, bytes) and its metadata. The file goes through the full loader
// checks first (io/safetensors.ts), and a gradstream checkpoint through the checkpoint
// checks too (checksum, metadata); a file either refuses is a one-line error, exit 2.

import { checkpointFromSafetensors } from '../io/checkpoint.ts'
import type { SafetensorsDType } from '../io/safetensors.ts'
import { SAFETENSORS_DTYPES } from '../io/safetensors.ts'
import { loadSafetensorsWithData } from '../io/safetensors-file.ts'
import { showShape } from '../core/tensor.ts'
import type { Io } from './io.ts'
import { parseFlags, UsageError } from './usage.ts'

export const INSPECT_USAGE = `usage: gradstream inspect FILE.safetensors [--json]
Checks a safetensors file and lists its tensors (name, dtype, shape, bytes) and metadata.`

export interface InspectReport {
  readonly file: string
  readonly bytes: number
  readonly tensors: readonly { readonly name: string; readonly dtype: SafetensorsDType; readonly shape: readonly number[]; readonly bytes: number }[]
  readonly metadata: Readonly<Record<string, string>>
  /** For gradstream checkpoints: the step, and that every checkpoint check passed. */
  readonly checkpoint?: { readonly step: number; readonly epoch: number; readonly version: string }
}

export const inspectFile = (path: string): InspectReport => {
  const { file, data } = loadSafetensorsWithData(path)
  const ckpt = Object.hasOwn(file.metadata, 'gradstream') ? checkpointFromSafetensors(file, data, path) : undefined
  return {
    file: path,
    bytes: 8 + file.headerBytes + file.dataBytes,
    tensors: file.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.offsets[1] - t.offsets[0] })),
    metadata: { ...file.metadata },
    ...(ckpt ? { checkpoint: { step: ckpt.snapshot.step, epoch: ckpt.snapshot.epoch, version: ckpt.version } } : {}),
  }
}

export const inspectCommand = async (args: readonly string[], io: Io): Promise<void> => {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, true)
  if (positionals.length !== 1) throw new UsageError(`expected one .safetensors file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`)
  const r = inspectFile(positionals[0])
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify(r)}\n`)
    return
  }
  const say = (line: string): void => void io.stdout.write(`${line}\n`)
  const scalars = r.tensors.reduce((n, t) => n + t.bytes / SAFETENSORS_DTYPES[t.dtype], 0)
  say(`${r.file}: ${r.tensors.length} tensors, ${scalars.toLocaleString('en-US')} values, ${r.bytes.toLocaleString('en-US')} bytes`)
  if (r.checkpoint) say(`gradstream checkpoint (version ${r.checkpoint.version}): step ${r.checkpoint.step}, epoch ${r.checkpoint.epoch + 1}, checksum ok`)
  const width = Math.max(6, ...r.tensors.map((t) => t.name.length))
  const shapes = r.tensors.map((t) => showShape(t.shape))
  const sw = Math.max(5, ...shapes.map((s) => s.length))
  say('')
  say(`${'tensor'.padEnd(width)}  dtype  ${'shape'.padEnd(sw)}  bytes`)
  r.tensors.forEach((t, i) => say(`${t.name.padEnd(width)}  ${t.dtype.padEnd(5)}  ${shapes[i].padEnd(sw)}  ${t.bytes}`))
  const keys = Object.keys(r.metadata)
  if (keys.length > 0) {
    say('')
    say('metadata')
    const kw = Math.max(...keys.map((k) => k.length))
    for (const k of keys) say(`  ${k.padEnd(kw)}  ${r.metadata[k]}`)
  }
}

// Checkpoint files and folders (Node only): saving atomically, loading, listing a run's
// checkpoints. The format itself - encoding and decoding bytes - is io/checkpoint.ts, which
// has no `node:` import so the browser-safe core can use it.

import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Snapshot } from '../core/snapshot.ts'
import { writeFileAtomic } from './atomic-write.ts'
import type { Checkpoint, CheckpointMeta } from './checkpoint.ts'
import { checkpointFromSafetensors, encodeCheckpoint } from './checkpoint.ts'
import { loadSafetensorsWithData } from './safetensors-file.ts'

/** Writes a checkpoint atomically; returns its size in bytes. */
export const saveCheckpoint = (path: string, snapshot: Snapshot, meta: CheckpointMeta): number => {
  const bytes = encodeCheckpoint(snapshot, meta, path)
  writeFileAtomic(path, bytes)
  return bytes.length
}

/** Loads and checks a checkpoint file. */
export const loadCheckpoint = (path: string): Checkpoint => {
  const { file, data } = loadSafetensorsWithData(path)
  return checkpointFromSafetensors(file, data, path)
}

const CHECKPOINT_FILE = /^step-(\d{8,})\.safetensors$/

/** The checkpoints in a folder, by step (ascending); [] when the folder does not exist. */
export const listCheckpoints = (dir: string): { step: number; path: string }[] => {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names
    .flatMap((name) => {
      const m = CHECKPOINT_FILE.exec(name)
      return m ? [{ step: Number(m[1]), path: join(dir, name) }] : []
    })
    .sort((a, b) => a.step - b.step)
}

// What the numbers were measured on: timings on a shared 2-core machine are only
// meaningful next to the load average at the time.

import { availableParallelism, cpus, loadavg } from 'node:os'
import { gcAvailable } from './memory.ts'

export interface MachineInfo {
  readonly node: string
  readonly cpu: string
  readonly cores: number
  readonly loadavg: readonly number[]
  readonly gcExposed: boolean
}

export const machineInfo = (): MachineInfo => ({
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: availableParallelism(),
  loadavg: loadavg().map((v) => Math.round(v * 100) / 100),
  gcExposed: gcAvailable(),
})

export const describeMachine = (m: MachineInfo): string =>
  `node ${m.node}, ${m.cores} cores (${m.cpu}), load average ${m.loadavg.join(' / ')} (1/5/15 min), gc ${m.gcExposed ? 'exposed' : 'NOT exposed'}`

// Child process for test/io/atomic-write.test.ts: writes checkpoint files in a loop until
// it is killed. Write i holds tensors filled with the value i and metadata {i}; after each
// write's rename it prints "i" on stdout. Usage: checkpoint-writer.child.ts FILE VALUES

import { saveSafetensors } from '../../src/io/safetensors-file.ts'

const [path, count] = process.argv.slice(2)
const n = Number(count)

for (let i = 1; ; i++) {
  const content = [
    { name: 'a', shape: [n], data: new Float32Array(n).fill(i) },
    { name: 'b', shape: [n / 2], data: new Float32Array(n / 2).fill(-i) },
  ]
  saveSafetensors(path, content, { i: String(i) })
  process.stdout.write(`${i}\n`)
}

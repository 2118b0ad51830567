// The Node entry's `safetensors` namespace: encode / decode on bytes plus files.
export * from '../io/safetensors.ts'
export { loadSafetensors, readSafetensorsHeader, saveSafetensors } from '../io/safetensors-file.ts'

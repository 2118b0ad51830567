// TensorFlow.js 4.22 as the bench's baseline, on its two Node backends without native
// code: 'cpu' (plain JS kernels) and 'wasm' (XNNPACK compiled to WebAssembly with SIMD).
//
// The wasm backend finds its .wasm binary through setWasmPaths. In Node a plain
// directory path works (the Emscripten loader reads it with fs, not fetch), so we point
// it at the package's own dist/ folder, resolved from node_modules. In Node it always
// runs single-threaded: the backend's WASM_HAS_MULTITHREAD_SUPPORT flag is false under
// IS_NODE (tfjs issue #3830), so it loads tfjs-backend-wasm-simd.wasm.

import { createRequire } from 'node:module'
import { dirname, join, sep } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm'

export { tf }

// PROD mode only silences TF.js's console warnings (log.ts, environment.ts): here the
// "install tfjs-node" banner, which would interleave with the tables.
tf.enableProdMode()

export type TfBackend = 'cpu' | 'wasm'

export type BackendStatus = { readonly ok: true; readonly detail: string } | { readonly ok: false; readonly reason: string }

/** dist/ of @tensorflow/tfjs-backend-wasm, with a trailing separator (setWasmPaths wants a prefix). */
export const wasmDistDir = (): string => {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep
}

let wasmPathsSet = false
const status = new Map<TfBackend, BackendStatus>()

const message = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === 'object' && e !== null && 'message' in e ? String((e as { message: unknown }).message) : String(e)

/**
 * Makes `backend` the active TF.js backend. Never throws: a backend that cannot start
 * (e.g. the wasm binary is missing) is reported with the reason, and every workload
 * prints that reason instead of a figure.
 */
export const useBackend = async (backend: TfBackend): Promise<BackendStatus> => {
  const known = status.get(backend)
  if (known && !known.ok) return known
  try {
    if (backend === 'wasm' && !wasmPathsSet) {
      setWasmPaths(wasmDistDir())
      wasmPathsSet = true
    }
    const ok = await tf.setBackend(backend)
    await tf.ready()
    if (!ok || tf.getBackend() !== backend) throw new Error(`tf.setBackend('${backend}') returned false`)
    const s: BackendStatus = {
      ok: true,
      detail: backend === 'wasm' ? `wasm, ${getThreadsCount()} thread(s), binaries from ${wasmDistDir()}` : 'cpu (JS kernels)',
    }
    status.set(backend, s)
    return s
  } catch (e) {
    const s: BackendStatus = { ok: false, reason: `TF.js ${backend} backend failed to start: ${message(e)}` }
    status.set(backend, s)
    return s
  }
}

/** useBackend, throwing its reason when the backend cannot start. */
export const requireBackend = async (backend: TfBackend): Promise<void> => {
  const status = await useBackend(backend)
  if (!status.ok) throw new Error(status.reason)
}

export const tfjsVersion = (): string => tf.version.tfjs

export { message as errorMessage }

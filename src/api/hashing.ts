// The `hashing` namespace of the public API: SHA-256 in pure TypeScript (browser-safe) and
// the byte hash snapshots use.
export { Sha256, sha256Hex } from '../core/sha256.ts'
export { hashBytes } from '../streams/snapshot.ts'

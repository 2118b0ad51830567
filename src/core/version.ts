// The library version, written into every checkpoint. A constant rather than a read of
// package.json so the browser-safe core needs no file system; test/package/version.test.ts
// checks it equals package.json's version.
export const LIBRARY_VERSION = '0.1.0'

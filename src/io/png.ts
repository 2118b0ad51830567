// PNG files through `pngjs` (MIT, pure JS, no native code): 8-bit grayscale images in,
// bytes out, and the reverse for checking what was written.

import { PNG } from 'pngjs'
import { GradstreamError } from '../core/errors.ts'
import { writeFileAtomic } from './atomic-write.ts'

/** An 8-bit grayscale image, row-major: pixels[y * width + x]. */
export interface GrayImage {
  readonly width: number
  readonly height: number
  readonly pixels: Uint8Array
}

const check = (img: GrayImage): void => {
  const { width, height, pixels } = img
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0))
    throw new GradstreamError(`png: expected positive integer dimensions, got ${width}x${height}`)
  if (pixels.length !== width * height)
    throw new GradstreamError(`png: expected ${width * height} pixels for ${width}x${height}, got ${pixels.length}`)
}

/** The PNG encoding (color type 0: grayscale, 8 bits) of an image. */
export const encodePng = (img: GrayImage): Buffer => {
  check(img)
  const png = new PNG({ width: img.width, height: img.height })
  png.data = Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength)
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false })
}

/** Decodes a PNG to grayscale (the red channel of what pngjs returns as RGBA). */
export const decodePng = (bytes: Buffer): GrayImage => {
  const png = PNG.sync.read(bytes)
  const pixels = new Uint8Array(png.width * png.height)
  for (let i = 0; i < pixels.length; i++) pixels[i] = png.data[4 * i]
  return { width: png.width, height: png.height, pixels }
}

/** Writes the image as a PNG file, atomically (temp file, fsync, rename). */
export const writePng = (path: string, img: GrayImage): void => writeFileAtomic(path, encodePng(img))

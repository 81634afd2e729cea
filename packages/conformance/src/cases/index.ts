import type { Case, Protocol } from '../types.ts'
import { binaryFramesCases } from './binary-frames.ts'
import { fileTransferCases } from './file-transfer.ts'
import { jsonFramesCases } from './json-frames.ts'
import { muxCases } from './mux.ts'

/** Every protocol's cases, in id order. */
export const CASES: Readonly<Record<Protocol, readonly Case[]>> = {
  'json-frames': jsonFramesCases,
  'binary-frames': binaryFramesCases,
  mux: muxCases,
  'file-transfer': fileTransferCases,
}

/** The README each protocol's `section`s refer to. */
export const README: Readonly<Record<Protocol, string>> = {
  'json-frames': 'packages/json-frames/README.md',
  'binary-frames': 'packages/binary-frames/README.md',
  mux: 'packages/mux/README.md',
  'file-transfer': 'packages/file-transfer/README.md',
}

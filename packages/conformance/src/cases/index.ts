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

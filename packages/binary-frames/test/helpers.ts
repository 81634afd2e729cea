import type { ProtocolError } from '@verb-tcp/core'
import { type BinaryInput, decodeAll, type SyncDecoder } from '@verb-tcp/core/codec'
import type { BinaryFrame } from '../src/index.ts'

export const hex = (b: Uint8Array) =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
export const fromHex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

/** Decodes the chunks; frames as `[type, flags, payload hex]` and error codes, for compact assertions. */
export function run(
  decoder: SyncDecoder<BinaryFrame>,
  chunks: (BinaryInput | string)[],
  end = true,
) {
  const r = decodeAll(
    decoder,
    chunks.map((c) => (typeof c === 'string' ? fromHex(c) : c)),
    { end },
  )
  return {
    ...r,
    tuples: r.frames.map((f) => [f.type, f.flags, hex(f.payload)] as const),
    codes: r.errors.map((e: ProtocolError) => e.code),
  }
}

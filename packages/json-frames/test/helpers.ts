import type { ProtocolError } from '@verb-tcp/core'
import { type BinaryInput, decodeAll, type SyncDecoder } from '@verb-tcp/core/codec'

export const enc = (s: string) => Buffer.from(s, 'utf8')

/** Decodes the chunks and returns frames as strings, and error codes, for compact assertions. */
export function run<T>(decoder: SyncDecoder<T>, chunks: (BinaryInput | string)[], end = true) {
  const r = decodeAll(
    decoder,
    chunks.map((c) => (typeof c === 'string' ? enc(c) : c)),
    { end },
  )
  return { ...r, codes: r.errors.map((e: ProtocolError) => e.code) }
}

export const text = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f).toString('utf8'))

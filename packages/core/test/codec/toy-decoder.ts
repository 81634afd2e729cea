import type { BinaryInput, DecodeSink, SyncDecoder } from '../../src/codec/decoder.ts'
import { toBuffer } from '../../src/codec/decoder.ts'
import { TruncatedFrameError } from '../../src/codec/errors.ts'
import { ProtocolError } from '../../src/errors.ts'

/**
 * A minimal codec for testing the adapters: a 1-byte length, then that many bytes, decoded as a
 * latin1 string. Length 0xff is a fatal error; a payload starting with "!" a recoverable one.
 */
export class ToyDecoder implements SyncDecoder<string> {
  #pending = Buffer.alloc(0)
  #done = false

  push(input: BinaryInput, sink: DecodeSink<string>): void {
    if (this.#done) return
    let buf = Buffer.concat([this.#pending, toBuffer(input)])
    while (buf.length > 0) {
      const len = buf[0] as number
      if (len === 0xff) {
        this.#done = true
        sink.error(new ProtocolError('ERR_TOY_FATAL', 'bad length'))
        return
      }
      if (buf.length < 1 + len) break
      const s = buf.toString('latin1', 1, 1 + len)
      buf = buf.subarray(1 + len)
      if (s.startsWith('!')) sink.error(new ProtocolError('ERR_TOY_BAD', s, { recoverable: true }))
      else sink.frame(s)
    }
    this.#pending = buf
  }

  end(sink: DecodeSink<string>): void {
    if (this.#done) return
    this.#done = true
    if (this.#pending.length > 0) {
      sink.error(new TruncatedFrameError((this.#pending[0] as number) + 1, this.#pending.length))
    }
  }
}

/** Frames the strings for the toy codec. */
export function toy(...frames: string[]): Buffer {
  return Buffer.concat(
    frames.map((f) => Buffer.concat([Buffer.from([f.length]), Buffer.from(f, 'latin1')])),
  )
}
